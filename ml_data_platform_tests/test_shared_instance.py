"""The shared deployment (deploy/dagster.yaml): a Dagster instance on PostgreSQL that several
processes write to at once, the platform's tables on PostgreSQL, `dg launch` as users run it,
and the multiprocess executor."""

import os
import shutil
import subprocess
from pathlib import Path
from urllib.parse import urlsplit

import dagster as dg

from ml_data_platform.storage.exports import read_manifest
from ml_data_platform_tests.conftest import BIN, REPO, write_catalog
from ml_data_platform_tests.postgres_server import PostgresServer

DATASETS = ["alpha", "beta", "gamma", "delta"]


def catalog() -> dict:
    source = {"type": "synthetic", "n_samples": 200, "n_features": 4, "n_informative": 3, "n_redundant": 0}
    return {
        "datasets": [
            {"name": name, "source": {**source, "n_classes": 2}, "seed": seed}
            for seed, name in enumerate(DATASETS)
        ]
    }


def shared_env(tmp_path: Path, executor: str = "multiprocess") -> dict[str, str]:
    """DAGSTER_HOME holding deploy/dagster.yaml, its PostgreSQL settings, and the platform's
    tables in another database on the same server."""
    server = PostgresServer.shared()
    home = tmp_path / "dagster_home"
    home.mkdir(exist_ok=True)
    shutil.copy(REPO / "deploy" / "dagster.yaml", home / "dagster.yaml")
    instance_db = urlsplit(server.fresh_database()).path.lstrip("/")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ML_PLATFORM_", "DAGSTER_"))}
    env.update(
        DAGSTER_HOME=str(home),
        DAGSTER_PG_HOST="127.0.0.1",
        DAGSTER_PG_PORT=str(server.port),
        DAGSTER_PG_DB=instance_db,
        DAGSTER_PG_USER="platform",
        DAGSTER_PG_PASSWORD="",
        ML_PLATFORM_STORAGE="postgres",
        ML_PLATFORM_POSTGRES_URL=server.fresh_database(),
        ML_PLATFORM_EXECUTOR=executor,
        ML_PLATFORM_CATALOG=str(write_catalog(tmp_path, catalog())),
        ML_PLATFORM_DATA_DIR=str(tmp_path / "data"),
    )
    return env


def test_four_parallel_dg_launch_runs_share_one_postgres_instance(tmp_path: Path, monkeypatch):
    env = shared_env(tmp_path)
    launches = [
        subprocess.Popen(
            [str(BIN / "dg"), "launch", "--assets", f"group:{name}"],
            cwd=REPO,
            env={**env, "ML_PLATFORM_EXECUTOR": "multiprocess" if i == 0 else "in_process"},
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for i, name in enumerate(DATASETS)
    ]
    outputs = [launch.communicate(timeout=600)[0] for launch in launches]
    for launch, output in zip(launches, outputs, strict=True):
        assert launch.returncode == 0, output[-3000:]
    assert "RUN_SUCCESS" in outputs[0] and "multiprocess" in outputs[0].lower()
    for name in DATASETS:
        manifest = read_manifest(tmp_path / "data" / "exports" / name)
        assert sum(split["rows"] for split in manifest["splits"].values()) == 200
    for key, value in env.items():
        if key.startswith("DAGSTER_"):
            monkeypatch.setenv(key, value)
    with dg.DagsterInstance.get() as instance:
        runs = instance.get_runs()
        assert type(instance.run_storage).__name__ == "PostgresRunStorage"
        assert len(runs) == 4 and {run.status for run in runs} == {dg.DagsterRunStatus.SUCCESS}
    check = subprocess.run(
        [str(BIN / "ml-data-platform"), "check"], cwd=tmp_path, env=env, capture_output=True, text=True
    )
    assert check.returncode == 0, check.stdout + check.stderr
    assert "storage: postgres (postgresql://platform@127.0.0.1" in check.stdout
