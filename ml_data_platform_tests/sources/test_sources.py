from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import make_classification

from ml_data_platform.catalog import DatasetSpec
from ml_data_platform.sources.readers import SourceError, read_source, stamp_raw
from ml_data_platform_tests.conftest import seed_database

pytestmark = pytest.mark.fast  # pure functions and files: no Dagster run, no subprocess


def synthetic(**source) -> DatasetSpec:
    return DatasetSpec.model_validate({"name": "ds", "source": {"type": "synthetic", **source}})


def file_spec(path: Path, **extra) -> DatasetSpec:
    return DatasetSpec.model_validate({"name": "ds", "source": {"type": "file", "path": str(path)}, **extra})


def test_synthetic_source_reproduces_the_seed_data_exactly():
    frame = read_source(synthetic())
    X, y = make_classification(
        n_samples=1000, n_features=20, n_informative=10, n_redundant=5, n_classes=2, random_state=42
    )
    assert list(frame.columns) == [*(f"feature_{i}" for i in range(20)), "target"]
    np.testing.assert_array_equal(frame.iloc[:, :20].to_numpy(), X)
    np.testing.assert_array_equal(frame["target"].to_numpy(), y)
    assert frame["target"].dtype == np.int64


def test_synthetic_parameters_reach_make_classification():
    frame = read_source(
        synthetic(
            n_samples=50,
            n_features=4,
            n_informative=2,
            n_redundant=0,
            n_classes=3,
            n_clusters_per_class=1,
            weights=[0.6, 0.3],
        )
    )
    assert frame.shape == (50, 5)
    assert set(frame["target"]) <= {0, 1, 2}
    assert frame["target"].value_counts()[0] > frame["target"].value_counts()[2]


def test_stamp_raw_adds_index_and_utc_ingestion_time():
    stamped = stamp_raw(pd.DataFrame({"a": [3.0, 4.0]}, index=[10, 20]), datetime(2026, 1, 2, tzinfo=UTC))
    assert list(stamped.columns) == ["sample_index", "a", "ingested_at"]
    assert stamped["sample_index"].tolist() == [0, 1]
    assert str(stamped["ingested_at"].dtype) == "datetime64[ns, UTC]"
    assert stamped["ingested_at"].iloc[0] == pd.Timestamp("2026-01-02", tz="UTC")


@pytest.mark.parametrize("suffix", ["csv", "parquet"])
def test_file_sources_read_csv_and_parquet(tmp_path: Path, suffix: str):
    frame = pd.DataFrame({"x": [0.5, 1.5], "y": [1.0, 2.0], "target": [0, 1]})
    path = tmp_path / f"rows.{suffix}"
    frame.to_csv(path, index=False) if suffix == "csv" else frame.to_parquet(path)
    pd.testing.assert_frame_equal(read_source(file_spec(path)), frame)


def test_declared_feature_columns_select_and_order(tmp_path: Path):
    path = tmp_path / "rows.csv"
    pd.DataFrame({"b": [1.0], "a": [2.0], "junk": ["z"], "target": [1]}).to_csv(path, index=False)
    frame = read_source(file_spec(path, feature_columns=["a", "b"]))
    assert list(frame.columns) == ["a", "b", "target"]


def test_missing_file_names_the_dataset_and_path(tmp_path: Path):
    with pytest.raises(SourceError, match=r"dataset 'ds'.*nope\.csv does not exist"):
        read_source(file_spec(tmp_path / "nope.csv"))


def test_empty_and_unreadable_files_are_clear_errors(tmp_path: Path):
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    with pytest.raises(SourceError, match="is empty"):
        read_source(file_spec(empty))
    broken = tmp_path / "broken.parquet"
    broken.write_text("not parquet")
    with pytest.raises(SourceError, match="broken.parquet is not a Parquet file .*set source.format: csv"):
        read_source(file_spec(broken))


def test_missing_declared_column_is_named(tmp_path: Path):
    path = tmp_path / "rows.csv"
    pd.DataFrame({"a": [1.0], "label": [1]}).to_csv(path, index=False)
    with pytest.raises(SourceError, match=r"rows.csv lacks column\(s\) \['target'\] that the catalog names"):
        read_source(file_spec(path, feature_columns=["a"]))


def test_source_may_not_bring_platform_columns(tmp_path: Path):
    path = tmp_path / "rows.csv"
    pd.DataFrame({"sample_index": [1], "a": [1.0], "target": [1]}).to_csv(path, index=False)
    with pytest.raises(SourceError, match="sample_index"):
        read_source(file_spec(path))


def seed_spec(path: Path, dataset_name: str = "multiclass_data") -> DatasetSpec:
    return DatasetSpec.model_validate(
        {"name": "ds", "source": {"type": "seed_sqlite", "path": str(path), "dataset_name": dataset_name}}
    )


def test_seed_database_source_reads_one_dataset_in_sample_order(tmp_path: Path):
    frame = read_source(seed_spec(seed_database(tmp_path / "sample_data.db")))
    X, y = make_classification(
        n_samples=1000, n_features=20, n_informative=10, n_redundant=5, n_classes=5, random_state=42
    )
    assert list(frame.columns) == ["sample_index", *(f"feature_{i}" for i in range(20)), "target"]
    np.testing.assert_array_equal(frame["sample_index"].to_numpy(), np.arange(1000))
    np.testing.assert_array_equal(frame.iloc[:, 1:21].to_numpy(), X)
    np.testing.assert_array_equal(frame["target"].to_numpy(), y)


def test_seed_database_ids_stay_the_rows_identity(tmp_path: Path):
    import sqlite3

    path = seed_database(tmp_path / "sample_data.db")
    with sqlite3.connect(path) as connection:
        connection.execute("UPDATE features SET sample_index = 5 + 2 * sample_index")
    spec = seed_spec(path)
    raw = stamp_raw(read_source(spec), datetime(2026, 1, 1, tzinfo=UTC), spec.identity_column(), "ds")
    assert raw["sample_index"].tolist()[:3] == [5, 7, 9] and "feature_0" in raw
    assert list(raw.columns).count("sample_index") == 1


def test_seed_database_unknown_name_lists_the_datasets_it_has(tmp_path: Path):
    path = seed_database(tmp_path / "sample_data.db")
    with pytest.raises(
        SourceError, match=r"no dataset_name 'nope'.*\['classification_data', 'multiclass_data'\]"
    ):
        read_source(seed_spec(path, "nope"))


def test_database_without_the_seed_schema_is_refused(tmp_path: Path):
    import sqlite3

    path = tmp_path / "other.db"
    with sqlite3.connect(path) as connection:
        connection.execute("CREATE TABLE datasets (dataset_id INTEGER, dataset_name TEXT)")
    with pytest.raises(SourceError, match="not in the seed format"):
        read_source(seed_spec(path))
    with pytest.raises(SourceError, match="does not exist"):
        read_source(seed_spec(tmp_path / "missing.db"))
    (tmp_path / "junk.db").write_text("not a database at all, just text " * 20)
    with pytest.raises(SourceError, match="cannot read .*junk.db as SQLite"):
        read_source(seed_spec(tmp_path / "junk.db"))


def test_folder_of_files_is_read_together_in_name_order(tmp_path: Path):
    folder = tmp_path / "landing"
    folder.mkdir()
    pd.DataFrame({"a": [1.0], "target": [0]}).to_csv(folder / "b.csv", index=False)
    pd.DataFrame({"a": [2.0], "target": [1]}).to_csv(folder / "a.csv", index=False)
    (folder / "notes.txt").write_text("ignored")
    spec = DatasetSpec.model_validate(
        {"name": "ds", "source": {"type": "file", "path": str(folder), "format": "csv"}}
    )
    assert read_source(spec)["a"].tolist() == [2.0, 1.0]
    pd.DataFrame({"z": [3.0], "target": [1]}).to_csv(folder / "c.csv", index=False)
    with pytest.raises(SourceError, match="c.csv has columns"):
        read_source(spec)
    empty = DatasetSpec.model_validate(
        {"name": "ds", "source": {"type": "file", "path": str(folder), "format": "parquet"}}
    )
    with pytest.raises(SourceError, match="holds no .parquet files"):
        read_source(empty)


def test_id_column_becomes_sample_index_in_id_order():
    frame = pd.DataFrame({"uid": [30, 10, 20], "a": [3.0, 1.0, 2.0], "target": [1, 0, 1]})
    stamped = stamp_raw(frame, datetime(2026, 1, 1, tzinfo=UTC), "uid", "ds")
    assert stamped["sample_index"].tolist() == [10, 20, 30]
    assert stamped["a"].tolist() == [1.0, 2.0, 3.0] and "uid" not in stamped


@pytest.mark.parametrize(
    ("ids", "expected"),
    [
        ([1, 2, 2, 3], r"repeats 1 id\(s\) \(e.g. \[2\]\)"),
        (["a", "1", "2", "3"], "not integers"),
        ([1.5, 2, 3, 4], "not integers"),
    ],
)
def test_bad_ids_are_clear_errors(ids, expected):
    frame = pd.DataFrame({"uid": ids, "a": [1.0, 2.0, 3.0, 4.0], "target": [0, 1, 0, 1]})
    with pytest.raises(SourceError, match=expected):
        stamp_raw(frame, datetime(2026, 1, 1, tzinfo=UTC), "uid", "ds")


def test_missing_id_column_is_named(tmp_path: Path):
    path = tmp_path / "rows.csv"
    pd.DataFrame({"a": [1.0], "target": [1]}).to_csv(path, index=False)
    with pytest.raises(SourceError, match=r"lacks column\(s\) \['uid'\] that the catalog names"):
        read_source(file_spec(path, id_column="uid"))
