from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from ml_data_platform import ExportNotFoundError, load_data, load_frame
from ml_data_platform.lib.export import write_exports


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
