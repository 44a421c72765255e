"""Exports published to object storage (a real S3-compatible server on 127.0.0.1): readers
follow the pointer object, a rejected run uploads nothing, superseded versions are pruned
after the retention period, and a writer killed before the pointer leaves the old version."""

import hashlib
import os
import subprocess
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.fs as pafs
import pytest

from ml_data_platform import load_data, load_frame
from ml_data_platform.loading import ExportNotFoundError
from ml_data_platform.settings import Storage
from ml_data_platform.storage.object_exports import ObjectExports
from ml_data_platform_tests.conftest import (
    REPO,
    file_settings,
    materialize_all,
    materialize_command,
    process_env,
    sigkill_at_pause,
)
from ml_data_platform_tests.s3_server import S3Server


@pytest.fixture
def s3(monkeypatch) -> S3Server:
    server = S3Server()
    for key, value in server.env().items():
        monkeypatch.setenv(key, value)
    yield server
    server.stop()


def rows(version: int, n: int = 150) -> pd.DataFrame:
    rng = np.random.default_rng(version)
    return pd.DataFrame(
        {"a": rng.normal(size=n) + version, "b": rng.normal(size=n), "target": np.arange(n) % 2}
    )


def versions_in(url: str, dataset: str) -> list[str]:
    remote = ObjectExports(url)
    filesystem, root = remote._fs
    selector = pafs.FileSelector(f"{root}/{dataset}/versions", allow_not_found=True)
    return sorted(info.base_name for info in filesystem.get_file_info(selector))


def test_published_exports_are_read_back_from_the_bucket(tmp_path: Path, s3: S3Server):
    url = s3.fresh_bucket()
    settings = replace(file_settings(tmp_path, Storage.sqlite, rows(1)), export_url=url)
    with pytest.raises(ExportNotFoundError, match=f"no published export at {url}/files"):
        load_frame("files", url=url)
    assert materialize_all(settings).success
    X, y = load_data("files", "train", url=url)
    X_local, y_local = load_data("files", "train", data_dir=settings.data_dir)
    np.testing.assert_array_equal(X, X_local)
    np.testing.assert_array_equal(y, y_local)
    pd.testing.assert_frame_equal(
        load_frame("files", url=url), load_frame("files", data_dir=settings.data_dir)
    )
    [first] = versions_in(url, "files")
    assert ObjectExports(url).current("files") == first
    # the fitted preprocessor the manifest names travels with the version
    filesystem, root = ObjectExports(url)._fs
    with filesystem.open_input_stream(f"{root}/files/versions/{first}/preprocessor.joblib") as stream:
        fit = stream.read()
    _, manifest = ObjectExports(url).read_manifest("files")
    assert hashlib.sha256(fit).hexdigest() == manifest["preprocessor"]["sha256"]
    assert os.readlink(settings.exports_dir / "files").endswith(first)  # the same version

    # a rejected run uploads nothing and moves no pointer
    rows(2).assign(target=np.nan).to_csv(tmp_path / "rows.csv", index=False)
    assert not materialize_all(settings, raise_on_error=False).success
    assert versions_in(url, "files") == [first] and ObjectExports(url).current("files") == first

    # the next good run moves the pointer; the superseded version stays for the retention period
    rows(3).to_csv(tmp_path / "rows.csv", index=False)
    assert materialize_all(settings).success
    second = ObjectExports(url).current("files")
    assert second != first and versions_in(url, "files") == sorted([first, second])
    assert not np.array_equal(load_data("files", "train", url=url)[0], X)
    # with no retention, the next publish prunes every version but the one it names
    rows(4).to_csv(tmp_path / "rows.csv", index=False)
    assert materialize_all(replace(settings, export_retention_days=0)).success
    assert versions_in(url, "files") == [ObjectExports(url).current("files")]


def test_the_environment_url_is_the_default_for_readers(tmp_path: Path, s3: S3Server, monkeypatch):
    url = s3.fresh_bucket()
    settings = replace(file_settings(tmp_path, Storage.duckdb, rows(1)), export_url=url)
    assert materialize_all(settings).success
    monkeypatch.setenv("ML_PLATFORM_EXPORT_URL", url)
    monkeypatch.setenv("ML_PLATFORM_DATA_DIR", str(tmp_path / "elsewhere"))  # nothing local there
    assert len(load_frame("files")) == 150


def test_sigkill_before_the_pointer_leaves_readers_on_the_old_version(tmp_path: Path, s3: S3Server):
    url = s3.fresh_bucket()
    catalog = {
        "datasets": [
            {
                "name": "files",
                "classes": [0, 1],
                "source": {"type": "file", "path": str(tmp_path / "rows.csv")},
            }
        ]
    }
    env = process_env(tmp_path, catalog, ML_PLATFORM_EXPORT_URL=url, **s3.env())
    rows(1).to_csv(tmp_path / "rows.csv", index=False)
    first = subprocess.run(
        materialize_command("*"), cwd=REPO, env=env, capture_output=True, text=True, timeout=180
    )
    assert first.returncode == 0, first.stderr[-2000:]
    before = load_frame("files", url=url)

    rows(2).to_csv(tmp_path / "rows.csv", index=False)
    sigkill_at_pause("s3_pointer", "files", tmp_path, env)

    assert len(versions_in(url, "files")) == 2  # the new version is uploaded, not named
    pd.testing.assert_frame_equal(load_frame("files", url=url), before)
    again = subprocess.run(
        materialize_command("*"), cwd=REPO, env=env, capture_output=True, text=True, timeout=180
    )
    assert again.returncode == 0, again.stderr[-2000:]
    after = load_frame("files", url=url)
    assert not after["a"].equals(before["a"])
    pd.testing.assert_frame_equal(after, load_frame("files", data_dir=tmp_path / "data"))


def test_a_bucket_that_does_not_exist_fails_the_publish_and_keeps_the_tables(tmp_path: Path, s3: S3Server):
    settings = file_settings(tmp_path, Storage.sqlite, rows(1))
    assert materialize_all(settings).success
    before = load_frame("files", data_dir=settings.data_dir)
    rows(2).to_csv(tmp_path / "rows.csv", index=False)
    broken = replace(settings, export_url="s3://no-such-bucket-here/prefix")
    result = materialize_all(broken, raise_on_error=False)
    assert not result.success
    failure = next(e for e in result.all_events if e.is_step_failure).step_failure_data.error
    assert "no-such-bucket-here" in failure.message + str(failure.cause and failure.cause.message)
    assert "the published tables and exports are kept" in failure.message + str(
        failure.cause and failure.cause.message
    )
    pd.testing.assert_frame_equal(load_frame("files", data_dir=settings.data_dir), before)
