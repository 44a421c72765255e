"""Nothing lost: the stock DuckDB IO manager's failure modes against ours, crashes, concurrency."""

import json
import os
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import dagster as dg
import duckdb
import numpy as np
import pandas as pd
import pytest
from dagster_duckdb_pandas import DuckDBPandasIOManager

from ml_data_platform.definitions import build_definitions
from ml_data_platform.run_report import failures_by_dataset
from ml_data_platform.sensors import build_failure_sensor
from ml_data_platform.settings import Settings, Storage
from ml_data_platform.storage.duckdb import DuckDBTableIOManager
from ml_data_platform.storage.exports import verify_exports
from ml_data_platform.storage.failures import read_failures
from ml_data_platform_tests.conftest import (
    REPO,
    make_settings,
    materialize_all,
    materialize_command,
    process_env,
    sigkill_at_pause,
)


def write(manager, frame: pd.DataFrame) -> dg.ExecuteInProcessResult:
    @dg.asset(key=["ds", "stage"])
    def stage() -> pd.DataFrame:
        return frame

    return dg.materialize([stage], resources={"io_manager": manager}, raise_on_error=False)


def stored(database: Path, table: str) -> pd.DataFrame:
    # open the file as its writer did: one process may not mix configurations on one file
    config = {"custom_user_agent": "dagster"} if database.name == "stock.duckdb" else {}
    with duckdb.connect(str(database), config=config) as connection:
        return connection.execute(f"SELECT * FROM {table}").df()


def managers(tmp_path: Path):
    """(stock, ours, where each keeps ds/stage)"""
    stock = DuckDBPandasIOManager(database=str(tmp_path / "stock.duckdb"))
    ours = DuckDBTableIOManager(database=str(tmp_path / "ours.duckdb"))
    return [(stock, tmp_path / "stock.duckdb", "ds.stage"), (ours, tmp_path / "ours.duckdb", "ds__stage")]


FIRST = pd.DataFrame({"a": [1.0, 2.0, 3.0], "b": [10, 20, 30]})


def test_schema_change_empties_the_stock_table_but_migrates_ours(tmp_path: Path):
    (stock, stock_db, stock_table), (ours, ours_db, ours_table) = managers(tmp_path)
    changed = FIRST.assign(c=["x", "y", "z"])
    for manager in (stock, ours):
        assert write(manager, FIRST).success
    assert not write(stock, changed).success
    assert len(stored(stock_db, stock_table)) == 0  # the stock manager lost every row
    assert write(ours, changed).success
    pd.testing.assert_frame_equal(stored(ours_db, ours_table), changed, check_dtype=False)


def test_reordered_columns_are_swapped_by_stock_but_not_by_ours(tmp_path: Path):
    (stock, stock_db, stock_table), (ours, ours_db, ours_table) = managers(tmp_path)
    reordered = FIRST[["b", "a"]].astype({"b": float, "a": float})
    for manager in (stock, ours):
        assert write(manager, FIRST.astype(float)).success
        assert write(manager, reordered).success
    assert stored(stock_db, stock_table)["a"].tolist() == [10.0, 20.0, 30.0]  # silently swapped
    assert stored(ours_db, ours_table)["a"].tolist() == [1.0, 2.0, 3.0]


def test_empty_result_empties_the_stock_table_but_is_an_error_with_ours(tmp_path: Path):
    (stock, stock_db, stock_table), (ours, ours_db, ours_table) = managers(tmp_path)
    for manager in (stock, ours):
        assert write(manager, FIRST).success
    assert write(stock, FIRST.iloc[:0]).success
    assert len(stored(stock_db, stock_table)) == 0
    result = write(ours, FIRST.iloc[:0])
    assert not result.success
    assert (
        "ds/stage produced no rows; table ds__stage keeps its previous contents"
        in failures_by_dataset(result, ["ds"])["ds"][0]
    )
    assert len(stored(ours_db, ours_table)) == 3
    explicit = DuckDBTableIOManager(database=str(ours_db), allow_empty=True)
    assert write(explicit, FIRST.iloc[:0]).success and len(stored(ours_db, ours_table)) == 0


def test_ours_waits_for_another_process_holding_the_duckdb_file(tmp_path: Path):
    database = tmp_path / "ours.duckdb"
    ours = DuckDBTableIOManager(database=str(database))
    assert write(ours, FIRST).success
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            (
                "import duckdb, sys, time; c = duckdb.connect(sys.argv[1]); "
                "print('locked', flush=True); time.sleep(2); c.close()"
            ),
            str(database),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "locked"
        started = time.monotonic()
        assert write(ours, FIRST.assign(a=[7.0, 8.0, 9.0])).success
        assert time.monotonic() - started > 0.5  # it really waited for the other process
    finally:
        holder.wait(timeout=30)
    assert stored(database, "ds__stage")["a"].tolist() == [7.0, 8.0, 9.0]


# --- crash safety: SIGKILL in the middle of a write -------------------------------------------


def rows(version: int, n: int = 150) -> pd.DataFrame:
    rng = np.random.default_rng(version)
    return pd.DataFrame(
        {"a": rng.normal(size=n) + version, "b": rng.normal(size=n), "target": np.arange(n) % 2}
    )


def file_env(tmp_path: Path, storage: Storage) -> dict[str, str]:
    catalog = {
        "datasets": [
            {
                "name": "files",
                "classes": [0, 1],
                "source": {"type": "file", "path": str(tmp_path / "rows.csv")},
            }
        ]
    }
    return process_env(tmp_path, catalog, ML_PLATFORM_STORAGE=storage.value)


MATERIALIZE = materialize_command("*")


def snapshot(settings: Settings) -> dict:
    table = build_definitions(settings).resources["io_manager"].read_table("files__features")
    exports = settings.exports_dir / "files"
    return {
        "features": table.drop(columns=["ingested_at"]),
        "exports": {p.name: p.read_bytes() for p in exports.iterdir()},
    }


def staged_tables(settings: Settings) -> list[str]:
    """Staging tables as the raw driver lists them (not through the platform's own log)."""
    if settings.storage is Storage.sqlite:
        with sqlite3.connect(settings.database) as connection:
            names = [r[0] for r in connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
    else:
        with duckdb.connect(settings.database) as connection:
            names = [r[0] for r in connection.execute("SHOW TABLES").fetchall()]
    return sorted(n for n in names if n.startswith("staging__"))


@pytest.mark.parametrize(
    ("storage", "point"),
    [
        (Storage.sqlite, "table_write:files__features"),
        (Storage.duckdb, "table_write:files__features"),
        (Storage.sqlite, "table_publish:files"),
        (Storage.duckdb, "table_publish:files"),
        (Storage.sqlite, "export_swap:files"),
        (Storage.duckdb, "export_swap:files"),
    ],
    ids=[
        "sqlite-table",
        "duckdb-table",
        "sqlite-publish",
        "duckdb-publish",
        "sqlite-export",
        "duckdb-export",
    ],
)
def test_sigkill_mid_write_leaves_the_old_version_and_the_next_run_succeeds(
    tmp_path: Path, storage: Storage, point: str
):
    env = file_env(tmp_path, storage)
    settings = Settings(storage, tmp_path / "data", tmp_path / "datasets.yaml")
    rows(1).to_csv(tmp_path / "rows.csv", index=False)
    first = subprocess.run(MATERIALIZE, cwd=REPO, env=env, capture_output=True, text=True, timeout=180)
    assert first.returncode == 0, first.stderr[-2000:]
    before = snapshot(settings)

    rows(2).to_csv(tmp_path / "rows.csv", index=False)
    sigkill_at_pause(*point.split(":"), tmp_path, env)  # the whole graph, killed at `point`

    after = snapshot(settings)
    if point.startswith("table_"):  # the export swap comes after the tables are published
        pd.testing.assert_frame_equal(after["features"], before["features"])
        assert staged_tables(settings), "the killed run's staged versions are left for cleanup"
    assert after["exports"] == before["exports"]
    assert verify_exports(settings.exports_dir / "files").passed

    again = subprocess.run(MATERIALIZE, cwd=REPO, env=env, capture_output=True, text=True, timeout=180)
    assert again.returncode == 0, again.stderr[-2000:]
    final = snapshot(settings)
    assert not final["features"].equals(before["features"])  # now the new version
    assert staged_tables(settings) == []  # the next run cleaned up what the killed one staged
    assert [p.name for p in (tmp_path / "data" / "exports").iterdir() if ".v-" in p.name] == [
        os.readlink(settings.exports_dir / "files")
    ]


# --- concurrency ---------------------------------------------------------------------------------


@pytest.mark.parametrize("storage", [Storage.sqlite, Storage.duckdb], ids=["sqlite", "duckdb"])
def test_four_concurrent_materializations_all_succeed(tmp_path: Path, storage: Storage):
    env = file_env(tmp_path, storage)
    rows(3).to_csv(tmp_path / "rows.csv", index=False)
    # The first run creates the instance's own SQLite storage; Dagster's schema migration is not
    # safe to race, so concurrency starts from an existing instance (as with a running UI).
    warmup = subprocess.run(MATERIALIZE, cwd=REPO, env=env, capture_output=True, text=True, timeout=180)
    assert warmup.returncode == 0, warmup.stderr[-2000:]
    runs = [
        subprocess.Popen(
            MATERIALIZE, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        )
        for _ in range(4)
    ]
    outputs = [run.communicate(timeout=300)[0] for run in runs]
    failed = [out[-3000:] for run, out in zip(runs, outputs, strict=True) if run.returncode != 0]
    assert not failed, failed[0]
    settings = Settings(storage, tmp_path / "data", tmp_path / "datasets.yaml")
    assert verify_exports(settings.exports_dir / "files").passed
    manifest = json.loads((settings.exports_dir / "files" / "manifest.json").read_text())
    assert sum(s["rows"] for s in manifest["splits"].values()) == 150


# --- failures are recorded -------------------------------------------------------------------------


def test_failed_runs_are_recorded_by_the_sensor(tmp_path: Path):
    rows(1).assign(a=np.nan).to_csv(tmp_path / "rows.csv", index=False)
    catalog = {
        "datasets": [
            {
                "name": "files",
                "classes": [0, 1],
                "source": {"type": "file", "path": str(tmp_path / "rows.csv")},
            }
        ]
    }
    settings = make_settings(tmp_path, Storage.sqlite, catalog)
    with dg.DagsterInstance.ephemeral() as instance:
        result = materialize_all(settings, instance=instance, raise_on_error=False)
        assert not result.success
        [entry] = instance.all_logs(result.run_id, of_type=dg.DagsterEventType.RUN_FAILURE)
        failure = entry.dagster_event
        context = dg.build_run_status_sensor_context(
            sensor_name="record_run_failures",
            dagster_event=failure,
            dagster_instance=instance,
            dagster_run=instance.get_run_by_id(result.run_id),
        ).for_run_failure()
        build_failure_sensor(settings)(context)
    [record] = read_failures(settings.data_dir)
    assert record["run_id"] == result.run_id and record["storage"] == "sqlite"
    steps = {step["step"]: step["error"] for step in record["failed_steps"]}
    assert "files__raw_checks" in steps  # the step running raw's checks
    assert "blocking asset checks failed" in steps["files__raw_checks"]
    assert (
        "raw_completeness" in steps["files__raw_checks"] and "raw_quality_score" in steps["files__raw_checks"]
    )


def test_landing_sensor_requests_one_run_per_new_file_set(tmp_path: Path):
    landing = tmp_path / "landing"
    landing.mkdir()
    catalog = {
        "datasets": [
            {
                "name": "files",
                "classes": [0, 1],
                "source": {"type": "file", "path": str(landing), "format": "csv"},
            }
        ]
    }
    defs = build_definitions(make_settings(tmp_path, Storage.sqlite, catalog))
    sensor = next(s for s in defs.sensors if s.name == "files_landing")
    assert sensor.job_name == "files_job"

    def tick(cursor):
        context = dg.build_sensor_context(cursor=cursor)
        result = sensor(context)
        return result, context.cursor

    result, cursor = tick(None)
    assert isinstance(result, dg.SkipReason) and "no csv files" in result.skip_message
    rows(1).to_csv(landing / "day1.csv", index=False)
    first, cursor = tick(cursor)
    assert isinstance(first, dg.RunRequest)
    again, cursor = tick(cursor)
    assert isinstance(again, dg.SkipReason)  # the same file again: no run
    rows(2).to_csv(landing / "day2.csv", index=False)
    second, cursor = tick(cursor)
    assert isinstance(second, dg.RunRequest) and second.run_key != first.run_key
