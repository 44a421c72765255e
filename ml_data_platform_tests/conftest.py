"""Shared fixtures: a small catalog in a temp folder, settings per backend, graph runs."""

from __future__ import annotations

import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
import uuid
from pathlib import Path

import dagster as dg
import pandas as pd
import pytest
import yaml
from sklearn.datasets import make_classification

from ml_data_platform.definitions import build_definitions
from ml_data_platform.settings import Settings, Storage
from ml_data_platform.storage.export_versions import publish_export, stage_exports
from ml_data_platform_tests.postgres_server import fresh_postgres_url

REPO = Path(__file__).resolve().parent.parent
BACKENDS = [Storage.sqlite, Storage.duckdb]  # the embedded engines: every graph test runs on them
ALL_BACKENDS = [*BACKENDS, Storage.postgres]  # storage round trips also run on a real server


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


BIN = Path(sys.executable).parent


def materialize_command(selection: str = "*") -> list[str]:
    """`dagster asset materialize` of the platform's definitions, as a user runs it."""
    return [
        str(BIN / "dagster"),
        "asset",
        "materialize",
        "-m",
        "ml_data_platform.definitions",
        "--select",
        selection,
    ]


def process_env(tmp_path: Path, catalog: dict, **extra: str) -> dict[str, str]:
    """Environment for a platform command in a subprocess: its own instance, catalog and data."""
    home = tmp_path / "dagster_home"
    home.mkdir(exist_ok=True)
    shutil.copy(REPO / "dagster.yaml", home / "dagster.yaml")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ML_PLATFORM_", "DAGSTER_"))}
    env.update(
        DAGSTER_HOME=str(home),
        ML_PLATFORM_CATALOG=str(write_catalog(tmp_path, catalog)),
        ML_PLATFORM_DATA_DIR=str(tmp_path / "data"),
        **extra,
    )
    return env


def seed_database(path: Path) -> Path:
    """A database built the way the seed's generate_database.py builds it."""
    connection = sqlite3.connect(path)
    features = ", ".join(f"feature_{i} REAL" for i in range(20))
    connection.executescript(f"""
        CREATE TABLE datasets (dataset_id INTEGER PRIMARY KEY AUTOINCREMENT,
            dataset_name TEXT UNIQUE NOT NULL, n_samples INTEGER NOT NULL,
            n_features INTEGER NOT NULL, n_classes INTEGER NOT NULL, description TEXT,
            created_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP);
        CREATE TABLE features (id INTEGER PRIMARY KEY AUTOINCREMENT, dataset_id INTEGER NOT NULL,
            sample_index INTEGER NOT NULL, {features}, target INTEGER NOT NULL,
            FOREIGN KEY (dataset_id) REFERENCES datasets(dataset_id));
    """)
    for name, n_classes in (("classification_data", 2), ("multiclass_data", 5)):
        X, y = make_classification(
            n_samples=1000,
            n_features=20,
            n_informative=10,
            n_redundant=5,
            n_classes=n_classes,
            random_state=42,
        )
        cursor = connection.execute(
            "INSERT INTO datasets (dataset_name, n_samples, n_features, n_classes, description) "
            "VALUES (?, ?, ?, ?, ?)",
            (name, 1000, 20, n_classes, "Synthetic"),
        )
        dataset_id = cursor.lastrowid
        rows = [(dataset_id, i, *map(float, X[i]), int(y[i])) for i in range(len(y))][::-1]
        columns = ", ".join(f"feature_{i}" for i in range(20))
        connection.executemany(
            f"INSERT INTO features (dataset_id, sample_index, {columns}, target) "
            f"VALUES ({', '.join('?' * 23)})",
            rows,
        )
    connection.commit()
    connection.close()
    return path


def backend_settings(storage: Storage, data_dir: Path, catalog_path: Path) -> Settings:
    """Settings on `storage`; on PostgreSQL, a fresh database on the tests' server."""
    url = fresh_postgres_url() if storage is Storage.postgres else None
    return Settings(storage=storage, data_dir=data_dir, catalog_path=catalog_path, postgres_url=url)


def make_settings(tmp_path: Path, storage: Storage, catalog: dict | None = None) -> Settings:
    catalog_path = write_catalog(tmp_path, catalog or small_catalog())
    return backend_settings(storage, tmp_path / "data", catalog_path)


def file_settings(tmp_path: Path, storage: Storage, frame: pd.DataFrame, **extra) -> Settings:
    """A binary dataset `files` read from `rows.csv` in tmp_path, written from `frame`."""
    frame.to_csv(tmp_path / "rows.csv", index=False)
    catalog = {
        "datasets": [
            {
                "name": "files",
                "classes": [0, 1],
                "source": {"type": "file", "path": str(tmp_path / "rows.csv")},
                **extra,
            }
        ]
    }
    return make_settings(tmp_path, storage, catalog)


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


@pytest.fixture
def instance():
    """One instance for the materialization and the checks-only run, as in real use."""
    with dg.DagsterInstance.ephemeral() as ephemeral:
        yield ephemeral


def write_exports(splits, out_dir: Path, data_dir: Path, lineage: dict, model_ready=None) -> dict:
    """Stage an export and publish it at once, with no audit between (as a run does after
    its checks pass). Returns the manifest."""
    manifest, version = stage_exports(splits, out_dir, data_dir, lineage, uuid.uuid4().hex, model_ready)
    publish_export(out_dir, version)
    return manifest


def sigkill_at_pause(point: str, detail: str, folder: Path, env: dict[str, str]) -> None:
    """Run the whole graph through the test's pause driver (`pause_driver.py`), wait until it
    stops at `point` (`detail`: the table or dataset), and SIGKILL it there."""
    marker = folder / "paused"
    victim = subprocess.Popen(
        [sys.executable, "-m", "ml_data_platform_tests.pause_driver", point, detail, str(marker)],
        cwd=REPO,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=env,
    )
    deadline = time.monotonic() + 120
    while not marker.exists() and victim.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert marker.exists(), "the run never reached the pause point"
    os.kill(int(marker.read_text()), signal.SIGKILL)
    victim.wait(timeout=30)
