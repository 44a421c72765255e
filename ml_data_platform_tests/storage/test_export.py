import json
import os
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest

from ml_data_platform.storage import exports as export_module
from ml_data_platform.storage.exports import ExportError, ensure_inside, verify_exports
from ml_data_platform_tests.conftest import write_exports

pytestmark = pytest.mark.fast  # pure functions and files: no Dagster run, no subprocess


def splits() -> dict[str, pd.DataFrame]:
    stamp = pd.Timestamp("2026-01-01", tz="UTC").as_unit("ns")

    def frame(ids):
        return pd.DataFrame(
            {
                "sample_index": ids,
                "a": [i * 0.5 for i in ids],
                "target": [i % 2 for i in ids],
                "event_timestamp": stamp,
                "ingested_at": stamp,
            }
        )

    return {"train": frame([0, 1, 2, 3]), "val": frame([4, 5]), "test": frame([6, 7])}


@pytest.fixture
def exported(tmp_path: Path) -> Path:
    out_dir = tmp_path / "exports" / "ds"
    write_exports(splits(), out_dir, tmp_path, {"dataset": "ds"})
    return out_dir


def test_writes_zstd_parquet_per_split_and_manifest_last(exported: Path):
    manifest = json.loads((exported / "manifest.json").read_text())
    assert manifest["dataset"] == "ds"
    assert {k: v["rows"] for k, v in manifest["splits"].items()} == {"train": 4, "val": 2, "test": 2}
    assert [c["name"] for c in manifest["columns"]] == [
        "sample_index",
        "a",
        "target",
        "event_timestamp",
        "ingested_at",
    ]
    for name in ("train", "val", "test"):
        parquet = pq.ParquetFile(exported / f"{name}.parquet")
        assert parquet.metadata.row_group(0).column(0).compression == "ZSTD"
    pd.testing.assert_frame_equal(pd.read_parquet(exported / "val.parquet"), splits()["val"])
    assert sorted(p.name for p in exported.iterdir()) == [
        "manifest.json",
        "test.parquet",
        "train.parquet",
        "val.parquet",
    ]


def test_verify_passes_then_catches_tampering(exported: Path):
    assert verify_exports(exported).passed
    with (exported / "val.parquet").open("ab") as handle:
        handle.write(b"x")
    outcome = verify_exports(exported)
    assert not outcome.passed and "val: sha256 differs" in outcome.summary


def test_verify_catches_missing_file_and_missing_manifest(exported: Path):
    (exported / "test.parquet").unlink()
    assert "test: test.parquet is missing" in verify_exports(exported).summary
    (exported / "manifest.json").unlink()
    assert "no export manifest" in verify_exports(exported).summary


def test_verify_catches_row_count_mismatch(exported: Path):
    manifest = json.loads((exported / "manifest.json").read_text())
    manifest["splits"]["train"]["rows"] = 5
    (exported / "manifest.json").write_text(json.dumps(manifest))
    assert "train: 4 rows, manifest says 5" in verify_exports(exported).summary


def test_failed_write_keeps_the_previous_file_and_leaves_no_temp(exported: Path, monkeypatch):
    before = {p.name: p.read_bytes() for p in exported.iterdir()}

    def crash(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(export_module.pq, "write_table", crash)
    with pytest.raises(OSError, match="disk full"):
        write_exports(splits(), exported, exported.parent.parent, {"dataset": "ds"})
    assert {p.name: p.read_bytes() for p in exported.iterdir()} == before
    versions = [p.name for p in exported.parent.iterdir() if p.name.startswith(".ds.v-")]
    assert len(versions) == 1  # the failed version's folder was removed


def test_each_export_is_a_new_version_swapped_in_by_one_rename(exported: Path):
    first_target = os.readlink(exported)
    write_exports(splits(), exported, exported.parent.parent, {"dataset": "ds"})
    assert exported.is_symlink() and os.readlink(exported) != first_target
    versions = sorted(p.name for p in exported.parent.iterdir() if p.name.startswith(".ds.v-"))
    assert versions == [os.readlink(exported)]  # the old version is gone once the new one is live


def test_a_plain_folder_from_the_older_layout_is_taken_over(tmp_path: Path):
    legacy = tmp_path / "exports" / "ds"
    legacy.mkdir(parents=True)
    (legacy / "train.parquet").write_bytes(b"old")
    write_exports(splits(), legacy, tmp_path, {"dataset": "ds"})
    assert legacy.is_symlink() and verify_exports(legacy).passed


def test_export_path_outside_data_dir_is_refused(tmp_path: Path):
    with pytest.raises(ExportError, match="outside the data directory"):
        ensure_inside(tmp_path / "data" / ".." / "elsewhere", tmp_path / "data")
    with pytest.raises(ExportError, match="outside the data directory"):
        write_exports(splits(), tmp_path / "elsewhere", tmp_path / "data", {})
