"""The definitions load from the environment, with a snapshot of every asset and check key."""

import importlib

import dagster as dg
import pytest

from ml_data_platform.catalog import CatalogError
from ml_data_platform.definitions import build_definitions
from ml_data_platform.settings import SettingsError
from ml_data_platform.storage.duckdb import DuckDBTableIOManager
from ml_data_platform.storage.sqlite import SQLiteTableIOManager
from ml_data_platform_tests.conftest import REPO

pytestmark = pytest.mark.fast  # pure functions and files: no Dagster run, no subprocess

STAGES = ["baseline_model", "export", "features", "preprocessor", "raw", "test", "train", "val"]
DATASETS = ("classification_data", "daily_events", "multiclass_data")
EXPECTED_ASSETS = sorted(f"{ds}/{stage}" for ds in DATASETS for stage in STAGES)
# (asset stage, check name, blocking) for every dataset
CHECKS = [
    ("baseline_model", "baseline_beats_majority_class", False),
    ("baseline_model", "test_not_suspiciously_perfect", True),
    ("export", "exports_match_manifest", True),
    ("features", "column_schema_change", False),
    ("features", "features_class_balance", True),
    ("features", "features_drift", False),
    ("features", "features_learned_bounds", False),
    ("features", "features_quality_score", True),
    ("features", "features_schema", True),
    ("raw", "column_schema_change", False),
    ("raw", "raw_completeness", True),
    ("raw", "raw_quality_score", True),
    ("raw", "raw_schema_and_row_count", True),
    ("raw", "raw_validates", True),
    ("test", "column_schema_change", False),
    ("train", "column_schema_change", False),
    ("train", "splits_disjoint_complete_stratified", True),
    ("train", "splits_stable", True),
    ("train", "train_test_distribution", False),
    ("val", "column_schema_change", False),
]
EXPECTED_CHECKS = sorted(
    (f"{ds}/{stage}", name, blocking) for ds in DATASETS for stage, name, blocking in CHECKS
)


@pytest.fixture
def repo_env(monkeypatch, tmp_path):
    monkeypatch.chdir(REPO)
    monkeypatch.setenv("ML_PLATFORM_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("ML_PLATFORM_STORAGE", raising=False)
    monkeypatch.delenv("ML_PLATFORM_CATALOG", raising=False)


def test_module_defs_load_and_match_the_snapshot(repo_env):
    module = importlib.import_module("ml_data_platform.definitions")
    defs = dg.Definitions.merge(module.defs())  # the @dg.definitions loader the CLI and UI call
    graph = defs.resolve_asset_graph()
    assert sorted(k.to_user_string() for k in graph.get_all_asset_keys()) == EXPECTED_ASSETS
    checks = sorted(
        (k.asset_key.to_user_string(), k.name, graph.get_check_spec(k).blocking)
        for k in graph.asset_check_keys
    )
    assert checks == EXPECTED_CHECKS
    groups = {graph.get(k).group_name for k in graph.get_all_asset_keys()}
    assert groups == set(DATASETS)
    assert {j.name for j in defs.resolve_all_job_defs()} >= {"all_datasets", *(f"{d}_job" for d in DATASETS)}
    partitioned = {k.to_user_string() for k in graph.get_all_asset_keys() if graph.get(k).partitions_def}
    assert partitioned == {"daily_events/raw", "daily_events/features"}
    export = graph.get(dg.AssetKey(["daily_events", "export"]))
    assert export.freshness_policy is not None and export.code_version


def test_storage_switch_changes_only_the_io_manager(repo_env, monkeypatch):
    sqlite_defs = build_definitions()
    monkeypatch.setenv("ML_PLATFORM_STORAGE", "duckdb")
    duckdb_defs = build_definitions()
    assert isinstance(sqlite_defs.resources["io_manager"], SQLiteTableIOManager)
    assert isinstance(duckdb_defs.resources["io_manager"], DuckDBTableIOManager)
    assert duckdb_defs.resources["io_manager"].database.endswith("warehouse.duckdb")
    keys = [sorted(d.resolve_asset_graph().get_all_asset_keys()) for d in (sqlite_defs, duckdb_defs)]
    assert keys[0] == keys[1]


def test_unknown_storage_fails_when_defs_are_built(repo_env, monkeypatch):
    monkeypatch.setenv("ML_PLATFORM_STORAGE", "parquet")
    with pytest.raises(SettingsError, match="valid values: sqlite, duckdb"):
        build_definitions()


def test_invalid_catalog_fails_when_defs_are_built(repo_env, monkeypatch, tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("datasets:\n  - name: Bad-Name\n    source: {type: synthetic}\n")
    monkeypatch.setenv("ML_PLATFORM_CATALOG", str(bad))
    with pytest.raises(CatalogError, match="not a safe identifier"):
        build_definitions()
