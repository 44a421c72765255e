"""Storage backend and paths, read from the environment when definitions are built.

Nothing here runs at import time, so tests (and the UI's reload) see the environment
as it is when `build_definitions` is called.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit


class Storage(StrEnum):
    sqlite = "sqlite"
    duckdb = "duckdb"
    postgres = "postgres"


class Executor(StrEnum):
    in_process = "in_process"  # one process per run: the embedded default
    multiprocess = "multiprocess"  # a process per step, steps of a run in parallel


STORAGE_ENV = "ML_PLATFORM_STORAGE"
POSTGRES_URL_ENV = "ML_PLATFORM_POSTGRES_URL"
EXECUTOR_ENV = "ML_PLATFORM_EXECUTOR"
EXPORT_URL_ENV = "ML_PLATFORM_EXPORT_URL"
EXPORT_RETENTION_ENV = "ML_PLATFORM_EXPORT_RETENTION_DAYS"
DUCKDB_MEMORY_ENV = "ML_PLATFORM_DUCKDB_MEMORY_LIMIT"
DEFAULT_EXPORT_RETENTION_DAYS = 7.0
DATA_DIR_ENV = "ML_PLATFORM_DATA_DIR"
CATALOG_ENV = "ML_PLATFORM_CATALOG"
QUARANTINE_DAYS_ENV = "ML_PLATFORM_QUARANTINE_DAYS"
DEFAULT_QUARANTINE_DAYS = 14.0
PROJECT_MARKER = "datasets.yaml"  # the project root is the folder holding the catalog


def project_root(start: Path | None = None) -> Path | None:
    """The nearest folder, from `start` (the cwd) upward, that holds datasets.yaml: a notebook
    in a subfolder of the project finds the project's data, as git finds its repository."""
    start = (start or Path.cwd()).resolve()
    for folder in (start, *start.parents):
        if (folder / PROJECT_MARKER).is_file():
            return folder
    return None


class SettingsError(ValueError):
    """An environment setting has a value the platform cannot use."""


def parse_storage(value: str) -> Storage:
    try:
        return Storage(value.strip().lower())
    except ValueError:
        valid = ", ".join(s.value for s in Storage)
        raise SettingsError(
            f"{STORAGE_ENV}={value!r} is not a storage backend; valid values: {valid}"
        ) from None


def parse_executor(value: str) -> Executor:
    try:
        return Executor(value.strip().lower().replace("-", "_"))
    except ValueError:
        valid = ", ".join(e.value for e in Executor)
        raise SettingsError(f"{EXECUTOR_ENV}={value!r} is not an executor; valid values: {valid}") from None


def postgres_url(storage: Storage, value: str | None) -> str | None:
    """The server URL, required (and only read) when the tables live on PostgreSQL."""
    if storage is not Storage.postgres:
        return None
    url = (value or "").strip()
    if not url.startswith(("postgresql://", "postgres://")):
        got = f"it is {mask_password(url)!r}" if url else "it is not set"
        raise SettingsError(
            f"{STORAGE_ENV}=postgres needs {POSTGRES_URL_ENV}, a PostgreSQL URL such as "
            f"postgresql://user:password@host:5432/database ({got})"
        )
    return url


def export_url(value: str | None) -> str | None:
    """Where published exports are mirrored (None: the data directory only)."""
    url = (value or "").strip()
    if not url:
        return None
    parts = urlsplit(url)
    if not parts.scheme or not parts.netloc:
        raise SettingsError(
            f"{EXPORT_URL_ENV}={mask_password(url)!r} is not an object-storage URL; use e.g. "
            "s3://bucket/prefix (or unset it to keep exports in the data directory only)"
        )
    return url


def mask_password(url: str) -> str:
    """The URL as messages may show it: any password replaced by ***."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return urlunsplit(parts._replace(netloc=netloc))


def parse_days(value: str, variable: str = QUARANTINE_DAYS_ENV, what: str = "rejected versions") -> float:
    try:
        days = float(value)
    except ValueError:
        days = -1.0
    if not days >= 0:
        raise SettingsError(
            f"{variable}={value!r} is not a number of days >= 0 (e.g. 14, or 0.5 for "
            f"twelve hours): how long {what} are kept"
        )
    return days


def memory_limit(value: str | None) -> str:
    """DuckDB's memory limit as DuckDB spells it (e.g. 1GB, 512MB, 50%); empty: its default."""
    if not value:
        return ""
    if not re.fullmatch(r"\d+(\.\d+)?\s*([KMGT]i?B|B|%)", value.strip(), flags=re.IGNORECASE):
        raise SettingsError(
            f"{DUCKDB_MEMORY_ENV}={value!r} is not a memory size; use e.g. 1GB, 512MB or 50% "
            "(DuckDB spills to disk beyond it)"
        )
    return value.strip()


@dataclass(frozen=True)
class Settings:
    storage: Storage
    data_dir: Path
    catalog_path: Path
    quarantine_days: float = DEFAULT_QUARANTINE_DAYS  # rejected versions kept this long
    postgres_url: str | None = None  # the server, when storage is postgres
    executor: Executor = Executor.in_process
    export_url: str | None = None  # published exports mirrored to object storage
    export_retention_days: float = DEFAULT_EXPORT_RETENTION_DAYS  # superseded versions kept there
    duckdb_memory_limit: str = ""  # DuckDB's memory limit (in-database datasets spill beyond it)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if env is None else env
        explicit = {name: Path(env[name]).resolve() for name in (DATA_DIR_ENV, CATALOG_ENV) if env.get(name)}
        root = None if len(explicit) == 2 else project_root() or Path.cwd()
        storage = parse_storage(env.get(STORAGE_ENV) or Storage.sqlite.value)
        return cls(
            storage=storage,
            data_dir=explicit.get(DATA_DIR_ENV) or root / "data",
            catalog_path=explicit.get(CATALOG_ENV) or root / PROJECT_MARKER,
            quarantine_days=parse_days(env.get(QUARANTINE_DAYS_ENV) or str(DEFAULT_QUARANTINE_DAYS)),
            postgres_url=postgres_url(storage, env.get(POSTGRES_URL_ENV)),
            executor=parse_executor(env.get(EXECUTOR_ENV) or Executor.in_process.value),
            export_url=export_url(env.get(EXPORT_URL_ENV)),
            duckdb_memory_limit=memory_limit(env.get(DUCKDB_MEMORY_ENV)),
            export_retention_days=parse_days(
                env.get(EXPORT_RETENTION_ENV) or str(DEFAULT_EXPORT_RETENTION_DAYS),
                EXPORT_RETENTION_ENV,
                "superseded exports in object storage",
            ),
        )

    @staticmethod
    def data_dir_origin(env: Mapping[str, str] | None = None) -> str:
        """How from_env chose the data directory, for messages that say where they looked."""
        env = os.environ if env is None else env
        if env.get(DATA_DIR_ENV):
            return f"{DATA_DIR_ENV}={env[DATA_DIR_ENV]}"
        root = project_root()
        if root is not None:
            return f"the project at {root} (its {PROJECT_MARKER}, found upward from {Path.cwd()})"
        return f"the current folder {Path.cwd()} (no {PROJECT_MARKER} in it or any folder above)"

    @property
    def database(self) -> str:
        """Where the tables live: a file under data_dir, or the PostgreSQL URL."""
        if self.storage is Storage.postgres:
            return postgres_url(self.storage, self.postgres_url) or ""
        return str(self.data_dir / f"warehouse.{self.storage.value}")

    @property
    def database_label(self) -> str:
        """`database` as messages and logs show it (no password)."""
        return mask_password(self.database)

    @property
    def exports_dir(self) -> Path:
        return self.data_dir / "exports"
