"""A partitioned dataset as users run it: files landing one by one, `ml-data-platform run
--changed`, a bad file quarantined next to published ones, a backfill from the shell, and
what a catalog change marks as changed."""

import hashlib
import re
import subprocess
from datetime import date
from pathlib import Path

import dagster as dg
import numpy as np
import pandas as pd

from ml_data_platform.catalog import parse_catalog
from ml_data_platform.changes import changed_selection
from ml_data_platform.definitions import build_definitions, table_io_manager
from ml_data_platform.settings import Settings
from ml_data_platform.sources.sample import sample_frame
from ml_data_platform.storage.exports import read_manifest
from ml_data_platform_tests.conftest import (
    BACKENDS,
    BIN,
    REPO,
    process_env,
    write_catalog,
)

FEATURES = ["feature_0", "feature_1", "feature_2", "feature_3", "channel"]


def events_entry(landing: Path, **extra) -> dict:
    return {
        "name": "events",
        "source": {"type": "file", "path": str(landing), "format": "csv"},
        "partitions": {"by": "file"},
        "id_column": "event_id",
        "feature_columns": FEATURES,
        "categorical_columns": ["channel"],
        "target": "converted",
        "classes": ["no", "yes"],
        **extra,
    }


def land(landing: Path, number: int, rows: int = 300, spoil=None) -> Path:
    """One day's file of events (ids unique across files)."""
    spec = parse_catalog({"datasets": [events_entry(landing)]}).get("events")
    frame = sample_frame(spec, date(2026, 3, 1 + number), number * rows, rows)
    landing.mkdir(exist_ok=True)
    path = landing / f"events_{number}.csv"
    (spoil(frame) if spoil else frame).to_csv(path, index=False)
    return path


def cli(env: dict, *args: str) -> subprocess.CompletedProcess:
    command = [str(BIN / "ml-data-platform"), *args]
    return subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True, timeout=240)


def split_of_each_row(data: Path) -> dict[int, str]:
    return {
        int(i): split
        for split in ("train", "val", "test")
        for i in pd.read_parquet(data / "exports" / "events" / f"{split}.parquet")["sample_index"]
    }


def digest(settings: Settings, table: str) -> str:
    frame = table_io_manager(settings).read_table(table).sort_values("sample_index")
    return hashlib.sha256(pd.util.hash_pandas_object(frame, index=False).to_numpy().tobytes()).hexdigest()


def test_files_land_one_by_one_and_no_row_ever_moves(tmp_path):
    """On SQLite; the daily backfill below runs the partitioned graph on DuckDB, and the
    storage tests replace partitions on both."""
    storage = BACKENDS[0]
    landing = tmp_path / "landing"
    land(landing, 0), land(landing, 1)
    env = process_env(tmp_path, {"datasets": [events_entry(landing)]}, ML_PLATFORM_STORAGE=storage.value)
    settings = Settings(storage, tmp_path / "data", tmp_path / "datasets.yaml")
    first = cli(env, "run")
    assert first.returncode == 0, first.stdout + first.stderr[-3000:]
    before = split_of_each_row(settings.data_dir)
    assert len(before) == 600

    land(landing, 2)
    grown = cli(env, "run", "--changed")
    assert grown.returncode == 0, grown.stdout + grown.stderr[-3000:]
    after = split_of_each_row(settings.data_dir)
    assert len(after) == 900 and all(after[i] == split for i, split in before.items())
    manifest = read_manifest(settings.exports_dir / "events")
    assert sorted(manifest["partitions"]) == ["events_0.csv", "events_1.csv", "events_2.csv"]
    assert all(p["rows"] == 300 for p in manifest["partitions"].values())

    # a shifted partition: its drift is measured against every published partition (a WARN)
    land(landing, 3, spoil=lambda f: f.assign(feature_2=f["feature_2"] + 4.0))
    drifted = cli(env, "run", "--changed")
    assert drifted.returncode == 0, drifted.stdout + drifted.stderr[-3000:]
    assert "FAILED events/features:features_drift" in drifted.stdout and "feature_2" in drifted.stdout

    published = {t: digest(settings, f"events__{t}") for t in ("raw", "features", "train")}
    exported = (settings.exports_dir / "events" / "train.parquet").read_bytes()
    land(landing, 4, spoil=lambda f: f.assign(converted=f["converted"].where(f.index != 5)))
    bad = cli(env, "run", "--changed")
    assert bad.returncode == 1 and "quarantine__events__raw__" in bad.stderr, bad.stderr[-3000:]
    assert {t: digest(settings, f"events__{t}") for t in published} == published
    assert (settings.exports_dir / "events" / "train.parquet").read_bytes() == exported
    listed = cli(env, "quarantine", "list")
    assert "partition(s) events_4.csv: raw_validates" in listed.stdout
    checked = cli(env, "check", "--dataset", "events")
    assert checked.returncode == 0, checked.stdout[-3000:]
    assert "splits_stable" in checked.stdout and "freshness" not in checked.stdout
    # releasing the partition on purpose publishes its rows and says how to rebuild from it
    name = re.search(r"quarantine__events__raw__[0-9a-f]+", bad.stderr).group(0)
    released = cli(env, "quarantine", "release", name)
    assert released.returncode == 0, released.stdout + released.stderr[-3000:]
    assert "dg launch --assets 'events/features*' --partition 'events_4.csv'" in released.stdout
    assert "events_4.csv" in set(table_io_manager(settings).read_table("events__raw")["partition_key"])


def test_a_daily_backfill_from_the_shell_writes_exactly_its_days(tmp_path):
    rng = np.random.default_rng(0)
    n = 600
    frame = pd.DataFrame(
        {
            "event_id": np.arange(n) * 3 + 11,
            "event_time": pd.Timestamp("2026-02-01", tz="UTC")
            + pd.to_timedelta(rng.integers(0, 3 * 86400, n), "s"),
            "a": rng.normal(size=n),
            "b": rng.normal(size=n),
            "label": rng.integers(0, 2, n),
        }
    )
    frame.to_csv(tmp_path / "events.csv", index=False)
    entry = {
        "name": "days",
        "source": {"type": "file", "path": str(tmp_path / "events.csv")},
        "partitions": {"by": "day", "column": "event_time", "start": "2026-02-01"},
        "id_column": "event_id",
        "target": "label",
        "freshness": {"fail_after": "1d"},
    }
    env = process_env(tmp_path, {"datasets": [entry]}, ML_PLATFORM_STORAGE="duckdb")
    settings = Settings(BACKENDS[1], tmp_path / "data", tmp_path / "datasets.yaml")
    # `dg launch`, as the README shows it (`dagster asset materialize` takes the same flags)
    command = [str(BIN / "dg"), "launch", "--assets", "days/raw,days/features"]
    command += ["--partition-range", "2026-02-01...2026-02-02"]
    backfill = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True, timeout=240)
    assert backfill.returncode == 0, backfill.stderr[-3000:]
    features = table_io_manager(settings).read_table("days__features")
    days = pd.to_datetime(frame["event_time"]).dt.strftime("%Y-%m-%d")
    assert sorted(features["partition_key"].unique()) == ["2026-02-01", "2026-02-02"]
    assert len(features) == int(days.isin(["2026-02-01", "2026-02-02"]).sum())
    assert "event_time" not in features.columns
    whole = cli(env, "run")
    assert whole.returncode == 0, whole.stdout + whole.stderr[-3000:]
    assert sorted(read_manifest(settings.exports_dir / "days")["partitions"]) == [
        "2026-02-01",
        "2026-02-02",
        "2026-02-03",
    ]
    checked = cli(env, "check")
    assert "fresh: last published" in checked.stdout and checked.returncode == 0


def test_a_catalog_change_marks_exactly_the_stages_it_feeds(tmp_path, instance):
    rows = pd.DataFrame(
        {"id": np.arange(200), "a": np.random.default_rng(1).normal(size=200), "y": np.arange(200) % 2}
    )
    rows.to_csv(tmp_path / "rows.csv", index=False)
    entry = {
        "name": "rows",
        "source": {"type": "file", "path": str(tmp_path / "rows.csv")},
        "id_column": "id",
        "target": "y",
    }
    write_catalog(tmp_path, {"datasets": [entry]})
    settings = Settings(BACKENDS[0], tmp_path / "data", tmp_path / "datasets.yaml")
    defs = build_definitions(settings)
    keys = sorted(defs.resolve_asset_graph().get_all_asset_keys())
    assert changed_selection(instance, defs, keys, [])[0] == sorted(keys, key=lambda k: k.to_user_string())
    assert defs.resolve_job_def("all_datasets").execute_in_process(instance=instance).success
    assert changed_selection(instance, defs, keys, []) == ([], [])
    write_catalog(tmp_path, {"datasets": [{**entry, "seed": 5}]})
    reseeded = build_definitions(settings)
    selection, _ = changed_selection(instance, reseeded, keys, [])
    stages = sorted(k.path[1] for k in selection)
    assert stages == ["baseline_model", "export", "preprocessor", "test", "train", "val"]
    assert dg.AssetKey(["rows", "raw"]) not in selection
