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


@dataclass(frozen=True)
class Settings:
    storage: Storage
    data_dir: Path
    catalog_path: Path

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if env is None else env
        return cls(
            storage=parse_storage(env.get(STORAGE_ENV) or Storage.sqlite.value),
            data_dir=Path(env.get(DATA_DIR_ENV) or "data").resolve(),
            catalog_path=Path(env.get(CATALOG_ENV) or "datasets.yaml").resolve(),
        )

    @property
    def database_path(self) -> Path:
        suffix = "sqlite" if self.storage is Storage.sqlite else "duckdb"
        return self.data_dir / f"warehouse.{suffix}"

    @property
    def exports_dir(self) -> Path:
        return self.data_dir / "exports"
