"""Processes that read Parquet through the platform exit with code 0, every time.

pyarrow's `read_table` on a Python file object (what `pandas.read_parquet` passes it for a
local path) leaves thread-pool work behind that can abort the interpreter at exit (SIGABRT,
"terminate called without an active exception"; apache/arrow#50482, seen in ~10-50 % of runs
with pyarrow 25 and 26). The platform reads by path; these runs would catch a regression.
"""

from __future__ import annotations

import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from ml_data_platform.settings import Storage
from ml_data_platform_tests.conftest import make_settings, materialize_all

RUNS = 24

README_SNIPPETS = """
import sys
from ml_data_platform import load_data, load_frame

data_dir = sys.argv[1]
X, y = load_data("files", split="train", data_dir=data_dir)
X_all, y_all = load_data("files", data_dir=data_dir)
Xt, yt = load_data("files", split="val", data_dir=data_dir, transformed=True)
frame = load_frame("files", split="test", data_dir=data_dir)
assert len(X) and len(X_all) and len(Xt) and len(frame)
"""

PARQUET_SOURCE = """
import sys
from ml_data_platform.catalog import DatasetSpec
from ml_data_platform.sources.readers import read_source

spec = DatasetSpec.model_validate({"name": "files", "source": {"type": "file", "path": sys.argv[1]}})
assert len(read_source(spec)) == 300
"""


@pytest.fixture(scope="module")
def parquet_project(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    folder = tmp_path_factory.mktemp("clean_exit")
    rng = np.random.default_rng(3)
    rows = pd.DataFrame(rng.normal(size=(300, 4)), columns=["a", "b", "c", "d"]).assign(
        target=np.arange(300) % 2
    )
    rows.to_parquet(folder / "rows.parquet", index=False)
    catalog = {
        "datasets": [{"name": "files", "source": {"type": "file", "path": str(folder / "rows.parquet")}}]
    }
    settings = make_settings(folder, Storage.sqlite, catalog)
    assert materialize_all(settings).success
    return settings.data_dir, folder / "rows.parquet"


def run_many(script: str, argument: Path) -> list[tuple[int, str]]:
    def once(_: int) -> tuple[int, str]:
        done = subprocess.run([sys.executable, "-c", script, str(argument)], capture_output=True, text=True)
        return done.returncode, done.stderr[-300:]

    with ThreadPoolExecutor(max_workers=2) as pool:
        return list(pool.map(once, range(RUNS)))


def test_the_readme_reading_snippets_exit_cleanly_every_time(parquet_project):
    data_dir, _ = parquet_project
    failures = [r for r in run_many(README_SNIPPETS, data_dir) if r[0] != 0]
    assert not failures, failures[:3]


def test_reading_a_parquet_source_exits_cleanly_every_time(parquet_project):
    _, source = parquet_project
    failures = [r for r in run_many(PARQUET_SOURCE, source) if r[0] != 0]
    assert not failures, failures[:3]
