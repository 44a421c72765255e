from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from ml_data_platform import ExportNotFoundError, load_data, load_frame
from ml_data_platform_tests.conftest import write_exports

pytestmark = pytest.mark.fast  # pure functions and files: no Dagster run, no subprocess


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    stamp = pd.Timestamp("2026-01-01", tz="UTC").as_unit("ns")

    def split(ids):
        return pd.DataFrame(
            {
                "sample_index": ids,
                "f0": [i + 0.25 for i in ids],
                "f1": [-i * 1.0 for i in ids],
                "label": [i % 2 for i in ids],
                "event_timestamp": stamp,
                "ingested_at": stamp,
            }
        )

    write_exports(
        {"train": split([0, 3, 4, 5]), "val": split([1, 6]), "test": split([2, 7])},
        tmp_path / "exports" / "ds",
        tmp_path,
        {"dataset": "ds", "feature_columns": ["f0", "f1"], "target": "label"},
    )
    return tmp_path


def test_load_split_as_typed_arrays(data_dir: Path):
    X, y = load_data("ds", split="val", data_dir=data_dir)
    np.testing.assert_array_equal(X, [[1.25, -1.0], [6.25, -6.0]])
    np.testing.assert_array_equal(y, [1, 0])
    assert X.dtype == np.float64 and y.dtype == np.int64


def test_no_split_returns_every_row_in_sample_order(data_dir: Path):
    X, y = load_data("ds", data_dir=data_dir)
    assert X[:, 0].tolist() == [i + 0.25 for i in range(8)]
    assert load_frame("ds", data_dir=data_dir)["sample_index"].tolist() == list(range(8))


def test_environment_data_dir_is_the_default(data_dir: Path, monkeypatch):
    monkeypatch.setenv("ML_PLATFORM_DATA_DIR", str(data_dir))
    assert load_data("ds", "train")[0].shape == (4, 2)


def test_missing_dataset_lists_existing_and_how_to_make_it(data_dir: Path):
    with pytest.raises(ExportNotFoundError, match=r"'other' has no export.*exported: ds.*make run"):
        load_data("other", data_dir=data_dir)


def test_missing_split_lists_available(data_dir: Path):
    with pytest.raises(ExportNotFoundError, match="available: train, val, test"):
        load_data("ds", split="holdout", data_dir=data_dir)


def test_file_missing_under_manifest_is_reported(data_dir: Path):
    (data_dir / "exports" / "ds" / "val.parquet").unlink()
    with pytest.raises(ExportNotFoundError, match="val.parquet is listed in the manifest but missing"):
        load_data("ds", split="val", data_dir=data_dir)


def test_unsafe_dataset_name_never_reaches_the_file_system(data_dir: Path):
    with pytest.raises(ValueError, match="not a dataset name"):
        load_data("../ds", data_dir=data_dir)


def test_the_seed_modules_keyword_works(data_dir: Path):
    X, y = load_data(dataset_name="ds", data_dir=data_dir)
    assert X.shape == (8, 2) and load_frame(dataset_name="ds", data_dir=data_dir).shape[0] == 8


def test_a_notebook_in_a_subfolder_finds_the_projects_data(data_dir: Path, monkeypatch):
    project = data_dir  # holds the catalog; its data/ folder is the default data directory
    (project / "datasets.yaml").write_text("datasets: []\n")
    (project / "notebooks" / "deep").mkdir(parents=True)
    monkeypatch.chdir(project / "notebooks" / "deep")
    monkeypatch.delenv("ML_PLATFORM_DATA_DIR", raising=False)
    with pytest.raises(
        ExportNotFoundError, match=rf"the project at {project} \(its datasets.yaml, found upward"
    ):
        load_data("ds")  # nothing under project/data yet: the message says where it looked
    (project / "data").mkdir()
    (project / "exports").rename(project / "data" / "exports")
    assert load_data("ds", "train")[0].shape == (4, 2)


def test_without_a_project_it_says_where_it_looked_and_how_to_point_it(tmp_path: Path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("ML_PLATFORM_DATA_DIR", raising=False)
    with pytest.raises(
        ExportNotFoundError, match=r"no datasets.yaml in it or any folder above.*data_dir=\.\.\. or ML_"
    ):
        load_data("ds")
