"""Shared fixtures: a small catalog in a temp folder, settings per backend, graph runs."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import pytest
import yaml

from ml_data_platform.definitions import build_definitions
from ml_data_platform.settings import Settings, Storage

REPO = Path(__file__).resolve().parent.parent
BACKENDS = [Storage.sqlite, Storage.duckdb]


def small_catalog(n_samples: int = 300) -> dict:
    """Two datasets shaped like the shipped ones, small enough for fast graph runs."""
    return {
        "datasets": [
            {
                "name": "binary",
                "source": {
                    "type": "synthetic",
                    "n_samples": n_samples,
                    "n_features": 6,
                    "n_informative": 3,
                    "n_redundant": 1,
                    "n_classes": 2,
                },
                "seed": 7,
            },
            {
                "name": "multi",
                "source": {
                    "type": "synthetic",
                    "n_samples": n_samples,
                    "n_features": 5,
                    "n_informative": 4,
                    "n_redundant": 0,
                    "n_classes": 3,
                },
                "seed": 11,
            },
        ]
    }


def write_catalog(folder: Path, catalog: dict) -> Path:
    path = folder / "datasets.yaml"
    path.write_text(yaml.safe_dump(catalog, sort_keys=False))
    return path


def make_settings(tmp_path: Path, storage: Storage, catalog: dict | None = None) -> Settings:
    catalog_path = write_catalog(tmp_path, catalog or small_catalog())
    return Settings(storage=storage, data_dir=tmp_path / "data", catalog_path=catalog_path)


def materialize_all(settings: Settings, **kwargs) -> dg.ExecuteInProcessResult:
    """The whole graph through `dg.materialize`, as a test of the public definitions."""
    defs = build_definitions(settings)
    return dg.materialize([*defs.assets, *defs.asset_checks], resources=defs.resources, **kwargs)


@pytest.fixture(params=BACKENDS, ids=lambda s: s.value)
def storage(request) -> Storage:
    return request.param


@pytest.fixture
def settings(tmp_path: Path, storage: Storage) -> Settings:
    return make_settings(tmp_path, storage)
