"""The whole graph through dg.materialize on both backends."""

import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd

from ml_data_platform import load_data, load_frame
from ml_data_platform.run_report import failures_by_dataset
from ml_data_platform.settings import Settings, Storage
from ml_data_platform.storage.exports import read_manifest
from ml_data_platform_tests.conftest import (
    ALL_BACKENDS,
    make_settings,
    materialize_all,
    process_env,
    seed_database,
    small_catalog,
)


def data_columns(frame: pd.DataFrame) -> pd.DataFrame:
    """Every export column but the two timestamps, which differ from run to run."""
    return frame.drop(columns=["event_timestamp", "ingested_at"])


def file_catalog(csv: Path, **extra) -> dict:
    return {
        "datasets": [
            {"name": "files", "source": {"type": "file", "path": str(csv)}, "classes": [0, 1], **extra}
        ]
    }


def good_rows(n: int = 120) -> pd.DataFrame:
    rng = np.random.default_rng(3)
    return pd.DataFrame({"a": rng.normal(size=n), "b": rng.normal(size=n), "target": np.arange(n) % 2})


def test_whole_graph_materializes_with_every_gate_passing(settings: Settings):
    result = materialize_all(settings)
    assert result.success
    evaluations = result.get_asset_check_evaluations()
    assert len(evaluations) == 2 * 20
    assert [e.check_name for e in evaluations if not e.passed] == []
    for dataset in ("binary", "multi"):
        manifest = read_manifest(settings.exports_dir / dataset)
        assert sum(s["rows"] for s in manifest["splits"].values()) == 300
        X, y = load_data(dataset, split="train", data_dir=settings.data_dir)
        assert X.dtype == np.float64 and y.dtype == np.int64
        assert len(X) == manifest["splits"]["train"]["rows"]
        assert manifest["upstream_data_versions"].keys() == {
            f"{dataset}/train",
            f"{dataset}/val",
            f"{dataset}/test",
        }
        assert manifest["config"]["seed"] in (7, 11)


def test_union_of_exports_is_exactly_the_generated_data(settings: Settings):
    from sklearn.datasets import make_classification

    materialize_all(settings)
    X, y = load_data("binary", data_dir=settings.data_dir)
    X_seed, y_seed = make_classification(
        n_samples=300, n_features=6, n_informative=3, n_redundant=1, n_classes=2, random_state=7
    )
    np.testing.assert_array_equal(X, X_seed)
    np.testing.assert_array_equal(y, y_seed)


def test_every_backend_produces_identical_exports(tmp_path: Path):
    """SQLite, DuckDB and a real PostgreSQL server: every check passes, the split exports hold
    the same values and the model-ready files are the same bytes."""
    frames, model_ready = {}, {}
    for storage in ALL_BACKENDS:
        (tmp_path / storage.value).mkdir()
        settings = make_settings(tmp_path / storage.value, storage)
        result = materialize_all(settings)
        assert result.success
        assert [e.check_name for e in result.get_asset_check_evaluations() if not e.passed] == []
        frames[storage] = {s: load_frame("multi", s, settings.data_dir) for s in ("train", "val", "test")}
        manifest = read_manifest(settings.exports_dir / "multi")
        model_ready[storage] = {s: entry["sha256"] for s, entry in manifest["model_ready"].items()}
    for storage in ALL_BACKENDS[1:]:
        assert model_ready[storage] == model_ready[Storage.sqlite]
        for split in ("train", "val", "test"):
            pd.testing.assert_frame_equal(
                data_columns(frames[Storage.sqlite][split]),
                data_columns(frames[storage][split]),
                check_exact=True,
            )


def test_rematerializing_replaces_tables_and_exports(settings: Settings):
    materialize_all(settings)
    first = load_frame("binary", "test", settings.data_dir)
    materialize_all(settings)
    again = load_frame("binary", "test", settings.data_dir)
    pd.testing.assert_frame_equal(data_columns(first), data_columns(again))
    assert len(list((settings.exports_dir / "binary").iterdir())) == 7  # 3 + 3 model-ready + manifest


def test_undeclared_class_stops_the_graph_and_keeps_old_exports(tmp_path: Path, storage: Storage):
    csv = tmp_path / "rows.csv"
    good_rows().to_csv(csv, index=False)
    # A lenient raw gate lets the rows reach the features contract, which must stop them.
    catalog = file_catalog(csv, quality={"dqs_threshold": 50})
    settings = make_settings(tmp_path, storage, catalog)
    assert materialize_all(settings).success
    before = {p.name: p.read_bytes() for p in (settings.exports_dir / "files").iterdir()}

    bad = good_rows()
    bad.loc[:9, "target"] = 2  # a third class in a binary dataset
    bad.to_csv(csv, index=False)
    result = materialize_all(settings, raise_on_error=False)
    assert not result.success
    failed = [e for e in result.get_asset_check_evaluations() if not e.passed]
    assert [(e.check_name, e.severity.value) for e in failed] == [("features_schema", "ERROR")]
    assert "target: in [0, 1] (10 rows)" in failed[0].description
    materialized = {e.asset_key.to_user_string() for e in result.get_asset_materialization_events()}
    assert {"files/raw", "files/features"} <= materialized
    assert "files/train" not in materialized and "files/export" not in materialized
    after = {p.name: p.read_bytes() for p in (settings.exports_dir / "files").iterdir()}
    assert after == before


def test_bad_input_fails_with_a_clear_error_and_loses_nothing(tmp_path: Path, storage: Storage):
    csv = tmp_path / "rows.csv"
    good_rows().to_csv(csv, index=False)
    settings = make_settings(tmp_path, storage, file_catalog(csv))
    assert materialize_all(settings).success
    before = {p.name: p.read_bytes() for p in (settings.exports_dir / "files").iterdir()}

    good_rows().assign(a=lambda f: f["a"].where(f.index != 5)).to_csv(csv, index=False)
    result = materialize_all(settings, raise_on_error=False)
    assert not result.success
    reason, kept = failures_by_dataset(result, ["files"])["files"]
    assert "check files/raw:raw_validates failed: dataset 'files'" in reason
    assert "1 row(s) hold NaN" in reason and "on_non_finite: drop" in reason
    assert kept.startswith("the rejected version is quarantined as quarantine__files__raw__")
    after = {p.name: p.read_bytes() for p in (settings.exports_dir / "files").iterdir()}
    assert after == before


def test_too_small_class_stops_the_graph_before_splitting(tmp_path: Path):
    csv = tmp_path / "rows.csv"
    rows = good_rows(60)
    rows["target"] = 0
    rows.loc[:2, "target"] = 1
    rows.to_csv(csv, index=False)
    settings = make_settings(tmp_path, Storage.sqlite, file_catalog(csv))
    result = materialize_all(settings, raise_on_error=False)
    assert not result.success
    [failed] = [e for e in result.get_asset_check_evaluations() if not e.passed]
    assert failed.check_name == "features_class_balance" and failed.severity.value == "ERROR"
    assert "too few rows to stratify (need 7): {1: 3}" in failed.description
    materialized = {e.asset_key.to_user_string() for e in result.get_asset_materialization_events()}
    assert materialized == {"files/raw", "files/features"}


def test_seed_format_database_feeds_the_graph(tmp_path: Path, storage: Storage):
    database = seed_database(tmp_path / "sample_data.db")
    catalog = {
        "datasets": [
            {
                "name": "from_seed",
                "source": {
                    "type": "seed_sqlite",
                    "path": str(database),
                    "dataset_name": "classification_data",
                },
            }
        ]
    }
    settings = make_settings(tmp_path, storage, catalog)
    assert materialize_all(settings).success
    X, y = load_data("from_seed", data_dir=settings.data_dir)
    from sklearn.datasets import make_classification

    X_seed, y_seed = make_classification(
        n_samples=1000, n_features=20, n_informative=10, n_redundant=5, n_classes=2, random_state=42
    )
    np.testing.assert_array_equal(X, X_seed)
    np.testing.assert_array_equal(y, y_seed)


def test_id_column_identifies_rows_through_to_the_exports(tmp_path: Path):
    rows = good_rows(150).assign(uid=np.arange(150) * 7 + 1000).sample(frac=1.0, random_state=3)
    rows.to_csv(tmp_path / "rows.csv", index=False)
    settings = make_settings(tmp_path, Storage.sqlite, file_catalog(tmp_path / "rows.csv", id_column="uid"))
    result = materialize_all(settings)
    assert result.success, [e.check_name for e in result.get_asset_check_evaluations() if not e.passed]
    exported = load_frame("files", data_dir=settings.data_dir)
    assert exported["sample_index"].tolist() == sorted(rows["uid"].tolist())
    # the values as the CSV holds them (round_trip: pandas' default parser can be one ulp off)
    source = pd.read_csv(tmp_path / "rows.csv", float_precision="round_trip")
    by_id = source.set_index("uid").loc[exported["sample_index"], "a"].to_numpy()
    np.testing.assert_array_equal(exported["a"].to_numpy(), by_id)


def test_text_labels_are_coded_and_the_codes_recorded_in_the_manifest(tmp_path: Path, storage: Storage):
    rows = good_rows(150)
    rows["target"] = np.where(rows["target"] == 1, "churned", "stayed")
    rows.to_csv(tmp_path / "rows.csv", index=False)
    catalog = {
        "datasets": [
            {
                "name": "files",
                "source": {"type": "file", "path": str(tmp_path / "rows.csv")},
                "classes": ["stayed", "churned"],
            }
        ]
    }
    settings = make_settings(tmp_path, storage, catalog)
    result = materialize_all(settings)
    assert result.success, [e.description for e in result.get_asset_check_evaluations() if not e.passed]
    manifest = read_manifest(settings.exports_dir / "files")
    assert manifest["label_codes"] == {"stayed": 0, "churned": 1}
    _, y = load_data("files", data_dir=settings.data_dir)
    np.testing.assert_array_equal(
        y, np.where(pd.read_csv(tmp_path / "rows.csv")["target"] == "churned", 1, 0)
    )


FRAMES_AFTER_RUN = """
import gc, weakref
from ml_data_platform.cli import main
from ml_data_platform.storage import recent

written = []
put = recent.RecentWrites.put
def tracking_put(self, database, table, run_id, frame, limit):
    written.append((table, weakref.ref(frame)))
    put(self, database, table, run_id, frame, limit)
recent.RecentWrites.put = tracking_put

assert main(["run"]) == 0 and written
gc.collect()
print(sorted({table for table, ref in written if ref() is not None}))
"""


def test_no_frame_outlives_its_run(tmp_path: Path, storage: Storage):
    """Once `ml-data-platform run` is over, none of the frames the run stored is left in
    memory. A fresh process, because what pinned one (Dagster keeping the locals of whoever
    first builds a metadata record) happens once per process. (`dg.materialize` keeps every
    output for its result, and Dagster pins the first such run's outputs for good, so this
    holds for the CLI's `execute_job` path only.)"""
    env = process_env(tmp_path, small_catalog(), ML_PLATFORM_STORAGE=storage.value)
    done = subprocess.run(
        [sys.executable, "-c", FRAMES_AFTER_RUN], env=env, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.strip().splitlines()[-1] == "[]"
