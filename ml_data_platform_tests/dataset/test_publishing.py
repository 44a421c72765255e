"""Write, audit, publish: after a good run, a rejected input changes nothing anyone reads,
its rows wait in quarantine, and releasing one publishes exactly it. Both backends."""

import hashlib
import json
import os
import sqlite3
from pathlib import Path

import dagster as dg
import duckdb
import numpy as np
import pandas as pd
import pytest

from ml_data_platform import quarantine
from ml_data_platform.catalog import load_catalog
from ml_data_platform.core.splitting import stratified_split
from ml_data_platform.definitions import build_definitions, checks_job_name
from ml_data_platform.settings import Settings, Storage
from ml_data_platform.storage.export_versions import quarantined_exports
from ml_data_platform_tests.conftest import BACKENDS, file_settings, materialize_all


def good_rows(n: int = 200) -> pd.DataFrame:
    rng = np.random.default_rng(3)
    return pd.DataFrame({"a": rng.normal(size=n), "b": rng.normal(size=n), "target": np.arange(n) % 2})


def settings_for(tmp_path: Path, storage: Storage, **extra) -> Settings:
    return file_settings(tmp_path, storage, good_rows(), **extra)


def table_names(settings: Settings) -> list[str]:
    if settings.storage is Storage.sqlite:
        with sqlite3.connect(settings.database) as connection:
            rows = connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'").fetchall()
    else:
        with duckdb.connect(settings.database, read_only=True) as connection:
            rows = connection.execute("SHOW TABLES").fetchall()
    return sorted(r[0] for r in rows)


def raw_rows(settings: Settings, table: str) -> list[tuple]:
    """A table's rows as the database driver returns them, in sample_index order."""
    sql = f'SELECT * FROM "{table}" ORDER BY sample_index'
    if settings.storage is Storage.sqlite:
        with sqlite3.connect(settings.database) as connection:
            return connection.execute(sql).fetchall()
    with duckdb.connect(settings.database, read_only=True) as connection:
        return connection.execute(sql).fetchall()


def published(settings: Settings) -> dict[str, str]:
    """Content hash of every published table (by the raw driver) and every export file."""
    hashes = {
        t: hashlib.sha256(repr(raw_rows(settings, t)).encode()).hexdigest()
        for t in table_names(settings)
        if t.startswith("files__")
    }
    exports = settings.exports_dir / "files"
    hashes["export link"] = str(exports.readlink())
    hashes |= {f"export {p.name}": hashlib.sha256(p.read_bytes()).hexdigest() for p in exports.iterdir()}
    return hashes


def checks_pass(settings: Settings, instance: dg.DagsterInstance) -> bool:
    job = build_definitions(settings).resolve_job_def(checks_job_name("files"))
    result = job.execute_in_process(instance=instance, raise_on_error=False)
    return all(
        e.passed or e.severity is dg.AssetCheckSeverity.WARN for e in result.get_asset_check_evaluations()
    )


def nan_target(f):
    return f.assign(target=f["target"].astype(float).where(f.index != 5))


def infinite(f):
    return f.assign(a=f["a"].where(f.index != 3, np.inf))


def single_class(f):
    return f.assign(target=0)


def too_few_rows(f):
    return f.head(6)


def all_null_column(f):
    return f.assign(b=np.nan)


def third_class(f):
    return f.assign(target=np.where(f.index < 90, 2, f["target"]))


def tiny_class(f):
    return f.assign(target=np.where(f.index < 2, 1, 0))


# (how the landing file goes bad, the check that rejects it, catalog extras)
CASES = {
    "nan-target": (nan_target, "raw_validates", {}),
    "infinite": (infinite, "raw_validates", {}),
    "single-class": (single_class, "raw_validates", {}),
    "too-few-rows": (too_few_rows, "raw_schema_and_row_count", {}),
    "all-null-column": (all_null_column, "raw_completeness", {}),
    "third-class": (third_class, "raw_quality_score", {}),
    "undeclared-class-past-raw": (third_class, "features_schema", {"quality": {"dqs_threshold": 50}}),
    "class-too-small-to-split": (tiny_class, "features_class_balance", {}),
}


# Where the stages run: each backend in memory, and DuckDB with every stage in the database.
IN_DATABASE = {"execution": "database", "split": {"method": "hash"}}
PATHS = {**{b.value: (b, {}) for b in BACKENDS}, "duckdb-in-database": (Storage.duckdb, IN_DATABASE)}
REJECTIONS = [
    pytest.param(path, case, id=f"{path}-{case}")
    for path in PATHS
    for case in CASES
    if not (PATHS[path][1] and case == "class-too-small-to-split")  # an exact split's check
]


@pytest.mark.parametrize(("path", "case"), REJECTIONS)
def test_a_rejected_input_changes_nothing_published(tmp_path: Path, path: str, case: str, instance):
    corrupt, check, extra = CASES[case]
    storage, execution = PATHS[path]
    settings = settings_for(tmp_path, storage, **execution, **extra)
    good_rows().to_csv(tmp_path / "rows.csv", index=False)
    assert materialize_all(settings, instance=instance).success
    before = published(settings)

    bad = corrupt(good_rows())
    bad.to_csv(tmp_path / "rows.csv", index=False)
    result = materialize_all(settings, instance=instance, raise_on_error=False)
    assert not result.success
    failed = {e.check_name: e for e in result.get_asset_check_evaluations() if not e.passed}
    assert check in failed and failed[check].severity is dg.AssetCheckSeverity.ERROR
    assert failed[check].metadata["published"].value is False
    assert published(settings) == before  # byte for byte, tables and exports

    kept = [t for t in table_names(settings) if t.startswith("quarantine__files__raw__")]
    assert len(kept) == 1 and failed[check].metadata["quarantine"].value.startswith(kept[0])
    rows = pd.DataFrame(raw_rows(settings, kept[0]), columns=["sample_index", "a", "b", "target", "t"])
    assert len(rows) == len(bad)  # exactly the rejected rows, as they came
    np.testing.assert_allclose(rows["a"].to_numpy(float), bad["a"].to_numpy(float))
    if check.startswith("features"):  # a later stage's rejection takes the run's raw with it
        assert [t for t in table_names(settings) if t.startswith("quarantine__files__features__")]
    assert not [t for t in table_names(settings) if t.startswith("staging__")]
    assert checks_pass(settings, instance)  # the published data still passes its audit


@pytest.mark.parametrize("storage", BACKENDS, ids=[b.value for b in BACKENDS])
def test_release_publishes_exactly_the_quarantined_version(tmp_path: Path, storage: Storage, instance):
    settings = settings_for(tmp_path, storage, min_rows=150)
    good_rows().to_csv(tmp_path / "rows.csv", index=False)
    assert materialize_all(settings, instance=instance).success
    good_rows(120).to_csv(tmp_path / "rows.csv", index=False)  # fewer rows than declared
    assert not materialize_all(settings, instance=instance, raise_on_error=False).success
    [rejected] = quarantine.rejected_versions(settings)
    assert "raw_schema_and_row_count" in rejected.why()
    quarantined_rows = raw_rows(settings, rejected.version.name)

    message = quarantine.release(settings, rejected.version.name, instance)
    assert "dg launch --assets 'files/features*'" in message
    assert raw_rows(settings, "files__raw") == quarantined_rows
    assert quarantine.rejected_versions(settings) == []
    released = instance.fetch_observations(dg.AssetKey(["files", "raw"]), limit=1).records[0]
    metadata = released.event_log_entry.asset_observation.metadata
    assert metadata["publish_status"].value == "released"
    assert metadata["published_run_id"].value == rejected.version.run_id
    run = instance.get_run_by_id(released.run_id)
    assert run.job_name == quarantine.RELEASE_JOB and run.tags[quarantine.RELEASED_TAG]

    # The later stages rebuilt from the released raw (not from the source again) publish.
    defs = build_definitions(settings)
    job = defs.resolve_job_def("all_datasets")
    later = [k for k in defs.resolve_asset_graph().get_all_asset_keys() if k.path[-1] != "raw"]
    assert job.execute_in_process(instance=instance, asset_selection=later).success
    assert sum(len(raw_rows(settings, f"files__{s}")) for s in ("train", "val", "test")) == 120


def leaky_rows(settings: Settings, n: int = 400) -> pd.DataFrame:
    """Test rows perfectly separable, a fifth of train's labels flipped: the baseline scores
    test 1.0 and train ~0.8, the leakage check's signature."""
    spec = load_catalog(settings.catalog_path).datasets[0]
    ids = pd.DataFrame({"sample_index": np.arange(n), "target": np.arange(n) % 2})
    test = stratified_split(ids, "target", spec.split.as_dict(), spec.seed)["test"]["sample_index"]
    rng = np.random.default_rng(7)
    target = ids["target"].to_numpy()
    flipped = (rng.random(n) < 0.2) & ~np.isin(np.arange(n), test)
    signal = np.where(flipped, 1 - target, target) * 10.0 + rng.normal(scale=0.5, size=n)
    return pd.DataFrame({"a": signal, "b": rng.normal(size=n), "target": target})


@pytest.mark.parametrize("storage", BACKENDS, ids=[b.value for b in BACKENDS])
def test_a_leaked_test_split_quarantines_the_whole_run(tmp_path: Path, storage: Storage, instance):
    """The last stages' rejection takes the run's raw, features and splits with it, and its
    fitted preprocessor is never what serving loads."""
    settings = settings_for(tmp_path, storage)
    good_rows(400).to_csv(tmp_path / "rows.csv", index=False)
    assert materialize_all(settings, instance=instance).success
    artifact = settings.data_dir / "artifacts" / "files" / "preprocessor.joblib"
    before, served = published(settings), (artifact.readlink(), artifact.read_bytes())

    leaky_rows(settings).to_csv(tmp_path / "rows.csv", index=False)
    result = materialize_all(settings, instance=instance, raise_on_error=False)
    failed = {e.check_name for e in result.get_asset_check_evaluations() if not e.passed}
    assert "test_not_suspiciously_perfect" in failed
    assert published(settings) == before
    assert (artifact.readlink(), artifact.read_bytes()) == served
    kept = {t.split("__")[2] for t in table_names(settings) if t.startswith("quarantine__")}
    assert kept == {"raw", "features", "train", "val", "test"}
    assert checks_pass(settings, instance)


def test_each_published_run_links_its_own_preprocessor_fit(tmp_path: Path, instance):
    settings = settings_for(tmp_path, Storage.sqlite)
    artifact = settings.data_dir / "artifacts" / "files" / "preprocessor.joblib"
    fits = []
    for seed in (1, 2):
        good_rows().assign(b=lambda f, s=seed: f["b"] + s).to_csv(tmp_path / "rows.csv", index=False)
        result = materialize_all(settings, instance=instance)
        assert result.success and artifact.is_symlink()
        target = artifact.parent / os.readlink(artifact)
        assert target.name == f".preprocessor.{result.run_id.replace('-', '')[:12]}.joblib"
        assert target.is_file() and not target.is_symlink()
        fits.append(target.read_bytes())
    assert fits[0] != fits[1]  # the second run's fit is served, the first is kept until pruned
    manifest = json.loads((settings.exports_dir / "files" / "manifest.json").read_text())
    assert manifest["preprocessor"]["path"] == str(artifact)
    assert manifest["preprocessor"]["sha256"] == hashlib.sha256(fits[1]).hexdigest()


def test_quarantined_versions_past_retention_are_pruned(tmp_path: Path, instance):
    settings = settings_for(tmp_path, Storage.sqlite)
    good_rows().to_csv(tmp_path / "rows.csv", index=False)
    assert materialize_all(settings, instance=instance).success
    nan_target(good_rows()).to_csv(tmp_path / "rows.csv", index=False)
    assert not materialize_all(settings, instance=instance, raise_on_error=False).success
    assert len(quarantine.rejected_versions(settings)) == 1
    expired = Settings(settings.storage, settings.data_dir, settings.catalog_path, quarantine_days=0)
    assert quarantine.rejected_versions(expired) == []
    assert not [t for t in table_names(settings) if t.startswith("quarantine__")]
    assert quarantined_exports(settings.exports_dir) == []
