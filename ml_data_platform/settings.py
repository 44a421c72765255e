"""Storage backend and paths, read from the environment when definitions are built.

Nothing here runs at import time, so tests (and the UI's reload) see the environment
as it is when `build_definitions` is called.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path


class Storage(StrEnum):
    sqlite = "sqlite"
    duckdb = "duckdb"


STORAGE_ENV = "ML_PLATFORM_STORAGE"
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


def parse_days(value: str) -> float:
    try:
        days = float(value)
    except ValueError:
        days = -1.0
    if not days >= 0:
        raise SettingsError(
            f"{QUARANTINE_DAYS_ENV}={value!r} is not a number of days >= 0 (e.g. 14, or 0.5 for "
            "twelve hours): how long rejected versions are kept"
        )
    return days


@dataclass(frozen=True)
class Settings:
    storage: Storage
    data_dir: Path
    catalog_path: Path
    quarantine_days: float = DEFAULT_QUARANTINE_DAYS  # rejected versions kept this long

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if env is None else env
        explicit = {name: Path(env[name]).resolve() for name in (DATA_DIR_ENV, CATALOG_ENV) if env.get(name)}
        root = None if len(explicit) == 2 else project_root() or Path.cwd()
        return cls(
            storage=parse_storage(env.get(STORAGE_ENV) or Storage.sqlite.value),
            data_dir=explicit.get(DATA_DIR_ENV) or root / "data",
            catalog_path=explicit.get(CATALOG_ENV) or root / PROJECT_MARKER,
            quarantine_days=parse_days(env.get(QUARANTINE_DAYS_ENV) or str(DEFAULT_QUARANTINE_DAYS)),
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
    def database_path(self) -> Path:
        suffix = "sqlite" if self.storage is Storage.sqlite else "duckdb"
        return self.data_dir / f"warehouse.{suffix}"

    @property
    def exports_dir(self) -> Path:
        return self.data_dir / "exports"
