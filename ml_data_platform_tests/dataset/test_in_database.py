"""Datasets that run in the database (execution: database): the same check outcomes and
exports as in memory, a run under a DuckDB memory limit smaller than its table, release of a
quarantined version, and clear refusals of what cannot run there. (Every rejected-input case
of test_publishing.py runs on this path too.)"""

import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from ml_data_platform import quarantine
from ml_data_platform.catalog import CatalogError, DatasetSpec
from ml_data_platform.catalog.execution import AUTO_ROWS, runs_in_database
from ml_data_platform.definitions import build_definitions
from ml_data_platform.settings import Storage
from ml_data_platform.storage.exports import read_manifest
from ml_data_platform_tests.conftest import (
    BIN,
    REPO,
    file_settings,
    make_settings,
    materialize_all,
    process_env,
)
from ml_data_platform_tests.dataset.test_publishing import (
    IN_DATABASE,
    good_rows,
    published,
    raw_rows,
    settings_for,
)


def messy_csv(folder: Path) -> Path:
    """Ids out of order, text labels, two NaN rows and two repeated rows."""
    rng = np.random.default_rng(5)
    n = 3000
    frame = pd.DataFrame(
        {
            "id": rng.permutation(n) * 3 + 11,
            "a": rng.normal(size=n),
            "b": rng.integers(0, 5, n),
            "c": rng.normal(size=n).round(1),
            "label": np.where(rng.random(n) < 0.4, "yes", "no"),
        }
    )
    frame.loc[[3, 50], "a"] = np.nan
    frame = pd.concat([frame, frame.iloc[[10, 20]].assign(id=[99_999, 99_998])], ignore_index=True)
    frame.to_csv(folder / "rows.csv", index=False)
    return folder / "rows.csv"


def parquet_folder(folder: Path) -> Path:
    rng = np.random.default_rng(9)
    (folder / "landing").mkdir()
    for day in range(2):
        part = pd.DataFrame(
            {"x": rng.normal(size=700), "y": rng.normal(size=700), "target": rng.integers(0, 3, 700)}
        )
        part.to_parquet(folder / "landing" / f"day{day}.parquet")
    return folder / "landing"


def catalog(folder: Path, execution: str) -> dict:
    return {
        "datasets": [
            {
                "name": "files",
                "source": {"type": "file", "path": str(messy_csv(folder))},
                "target": "label",
                "id_column": "id",
                "on_non_finite": "drop",
                "execution": execution,
            },
            {
                "name": "landing",
                "source": {"type": "file", "path": str(parquet_folder(folder)), "format": "parquet"},
                "split": {"method": "hash"},
                "execution": execution,
            },
            {
                "name": "synth",
                "source": {
                    "type": "synthetic",
                    "n_samples": 3000,
                    "n_features": 6,
                    "n_informative": 3,
                    "n_redundant": 1,
                },
                "split": {"method": "hash"},
                "seed": 3,
                "execution": execution,
            },
        ]
    }


def data_columns(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.drop(columns=["event_timestamp", "ingested_at"])


def test_both_paths_give_the_same_check_outcomes_and_exports(tmp_path: Path):
    runs = {}
    for execution in ("memory", "database"):
        (tmp_path / execution).mkdir()
        settings = make_settings(
            tmp_path / execution, Storage.duckdb, catalog(tmp_path / execution, execution)
        )
        result = materialize_all(settings)
        outcomes = {
            (e.asset_key.to_user_string(), e.check_name): (e.passed, e.description)
            for e in result.get_asset_check_evaluations()
        }
        runs[execution] = (settings, outcomes)
    (memory, expected), (database, got) = runs["memory"], runs["database"]
    assert got == expected  # every check, its verdict and its summary
    for name in ("files", "landing", "synth"):
        ours, theirs = read_manifest(database.exports_dir / name), read_manifest(memory.exports_dir / name)
        assert ours["columns"] == theirs["columns"] and ours["label_codes"] == theirs["label_codes"]
        assert {s: e["rows"] for s, e in ours["splits"].items()} == {
            s: e["rows"] for s, e in theirs["splits"].items()
        }
        for split in ("train", "val", "test"):
            frames = [pd.read_parquet(s.exports_dir / name / f"{split}.parquet") for s in (database, memory)]
            pd.testing.assert_frame_equal(data_columns(frames[0]), data_columns(frames[1]))
            assert frames[0].dtypes.equals(frames[1].dtypes)
            ready = [
                pd.read_parquet(s.exports_dir / name / f"{split}.model_ready.parquet")
                for s in (database, memory)
            ]
            assert list(ready[0].columns) == list(ready[1].columns) and ready[0].dtypes.equals(
                ready[1].dtypes
            )
            np.testing.assert_allclose(
                ready[0].to_numpy(float), ready[1].to_numpy(float), rtol=1e-12, atol=1e-12
            )


@pytest.mark.parametrize("row", [4, 30_000])  # 30,000: past the rows DuckDB sniffs types from
@pytest.mark.parametrize("ids", [False, True])  # an id column: its checks scan the file first
def test_a_text_value_in_a_feature_column_is_named_and_nothing_is_published(
    tmp_path: Path, instance, row, ids
):
    extra = {**IN_DATABASE, **({"id_column": "id"} if ids else {})}
    rows = good_rows(30_010).assign(id=lambda f: f.index * 2 + 1)
    settings = file_settings(tmp_path, Storage.duckdb, rows if ids else rows.drop(columns="id"), **extra)
    assert materialize_all(settings, instance=instance).success
    before = published(settings)
    broken = rows.astype({"a": object}).assign(a=lambda f: f["a"].where(f.index != row, "n/a"))
    (broken if ids else broken.drop(columns="id")).to_csv(tmp_path / "rows.csv", index=False)
    result = materialize_all(settings, instance=instance, raise_on_error=False)
    failed = {e.check_name: e.description for e in result.get_asset_check_evaluations() if not e.passed}
    index = row * 2 + 1 if ids else row
    assert f"a: not a number: 'n/a' (sample_index {index})" in failed["raw_schema_and_row_count"]
    assert published(settings) == before


def test_a_run_under_a_memory_limit_smaller_than_its_table(tmp_path: Path):
    """1.2M rows x 8 features (~85 MB of doubles per stage) under a 64 MB DuckDB limit, through
    the CLI: the engine spills instead of holding them, the chunked generator feeds it, and
    the run logs its progress."""
    entry = {
        "name": "big",
        "source": {
            "type": "synthetic",
            "n_samples": 1_200_000,
            "n_features": 8,
            "n_informative": 4,
            "n_redundant": 2,
        },
        "split": {"method": "hash"},
    }
    env = process_env(
        tmp_path,
        {"datasets": [{**entry, "execution": "database"}]},
        ML_PLATFORM_STORAGE="duckdb",
        ML_PLATFORM_DUCKDB_MEMORY_LIMIT="64MB",
    )
    done = subprocess.run(
        [str(BIN / "ml-data-platform"), "run", "--verbose"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "big/raw: generating: 1,200,000 of 1,200,000 rows (100%)" in done.stdout + done.stderr
    manifest = read_manifest(tmp_path / "data" / "exports" / "big")
    assert sum(e["rows"] for e in manifest["splits"].values()) == 1_200_000
    assert not list((tmp_path / "data").glob("*.tmp/*"))  # DuckDB's spill files are gone


def test_execution_database_refuses_what_cannot_run_there(tmp_path: Path):
    base = {"name": "d", "source": {"type": "synthetic"}, "execution": "database"}
    with pytest.raises(ValueError, match=r"set split\.method: hash"):
        DatasetSpec.model_validate(base)
    with pytest.raises(ValueError, match="categorical_columns are not supported in the database"):
        DatasetSpec.model_validate(
            {
                **base,
                "source": {"type": "file", "path": "x.csv"},
                "categorical_columns": ["c"],
                "feature_columns": ["c"],
                "id_column": "i",
            }
        )
    settings = make_settings(tmp_path, Storage.sqlite, {"datasets": [{**base, "split": {"method": "hash"}}]})
    with pytest.raises(
        (ValueError, CatalogError), match="execution: database runs on DuckDB storage, not sqlite"
    ):
        build_definitions(settings)


def test_auto_runs_large_sources_in_the_database_on_duckdb_only():
    def spec(rows: int, **extra) -> DatasetSpec:
        return DatasetSpec.model_validate(
            {"name": "d", "source": {"type": "synthetic", "n_samples": rows}, **extra}
        )

    hashed = {"split": {"method": "hash"}}
    assert runs_in_database(spec(AUTO_ROWS, **hashed), "duckdb")
    assert not runs_in_database(spec(AUTO_ROWS - 1, **hashed), "duckdb")
    assert not runs_in_database(spec(AUTO_ROWS, **hashed), "sqlite")
    assert not runs_in_database(spec(AUTO_ROWS), "duckdb")  # an exact split shuffles in memory
    assert not runs_in_database(spec(AUTO_ROWS, execution="memory", **hashed), "duckdb")


def test_a_released_version_feeds_the_later_stages_in_the_database(tmp_path: Path, instance):
    settings = settings_for(tmp_path, Storage.duckdb, **IN_DATABASE, min_rows=150)
    assert materialize_all(settings, instance=instance).success
    good_rows(120).to_csv(tmp_path / "rows.csv", index=False)  # fewer rows than declared
    assert not materialize_all(settings, instance=instance, raise_on_error=False).success
    [rejected] = quarantine.rejected_versions(settings)
    shown = quarantine.sample(settings, rejected, 5)
    assert list(shown["sample_index"]) == [0, 1, 2, 3, 4]  # read alone, not the whole table
    quarantine.release(settings, rejected.version.name, instance)
    defs = build_definitions(settings)
    later = [k for k in defs.resolve_asset_graph().get_all_asset_keys() if k.path[-1] != "raw"]
    assert (
        defs.resolve_job_def("all_datasets")
        .execute_in_process(instance=instance, asset_selection=later)
        .success
    )
    assert sum(len(raw_rows(settings, f"files__{s}")) for s in ("train", "val", "test")) == 120
