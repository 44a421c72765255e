from pathlib import Path

import pytest

from ml_data_platform.settings import Executor, Settings, SettingsError, Storage

pytestmark = pytest.mark.fast  # pure functions and files: no Dagster run, no subprocess


def test_defaults_are_sqlite_under_data(tmp_path: Path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    settings = Settings.from_env({})
    assert settings.storage is Storage.sqlite
    assert settings.data_dir == tmp_path / "data"
    assert settings.database == str(tmp_path / "data" / "warehouse.sqlite")
    assert settings.exports_dir == tmp_path / "data" / "exports"


def test_environment_switches_backend_and_moves_data(tmp_path: Path):
    settings = Settings.from_env(
        {"ML_PLATFORM_STORAGE": "DuckDB", "ML_PLATFORM_DATA_DIR": str(tmp_path / "elsewhere")}
    )
    assert settings.storage is Storage.duckdb
    assert settings.database == str(tmp_path / "elsewhere" / "warehouse.duckdb")


def test_unknown_storage_lists_the_valid_values():
    with pytest.raises(SettingsError, match="valid values: sqlite, duckdb, postgres"):
        Settings.from_env({"ML_PLATFORM_STORAGE": "mysql"})


def test_postgres_needs_a_url_and_never_shows_its_password():
    with pytest.raises(SettingsError, match="needs ML_PLATFORM_POSTGRES_URL.*it is not set"):
        Settings.from_env({"ML_PLATFORM_STORAGE": "postgres"})
    with pytest.raises(SettingsError, match=r"it is 'mysql://u:\*\*\*@h/db'"):
        Settings.from_env(
            {"ML_PLATFORM_STORAGE": "postgres", "ML_PLATFORM_POSTGRES_URL": "mysql://u:pw@h/db"}
        )
    url = "postgresql://team:pa55@db.internal:5432/warehouse"
    settings = Settings.from_env({"ML_PLATFORM_STORAGE": "postgres", "ML_PLATFORM_POSTGRES_URL": url})
    assert settings.database == url
    assert settings.database_label == "postgresql://team:***@db.internal:5432/warehouse"


def test_executor_is_in_process_unless_asked():
    assert Settings.from_env({}).executor is Executor.in_process
    assert Settings.from_env({"ML_PLATFORM_EXECUTOR": "multiprocess"}).executor is Executor.multiprocess
    with pytest.raises(SettingsError, match="valid values: in_process, multiprocess"):
        Settings.from_env({"ML_PLATFORM_EXECUTOR": "celery"})


def test_defaults_come_from_the_project_found_upward(tmp_path: Path, monkeypatch):
    (tmp_path / "datasets.yaml").write_text("datasets: []\n")
    (tmp_path / "notebooks").mkdir()
    monkeypatch.chdir(tmp_path / "notebooks")
    settings = Settings.from_env({})
    assert settings.data_dir == tmp_path / "data" and settings.catalog_path == tmp_path / "datasets.yaml"
    elsewhere = Settings.from_env({"ML_PLATFORM_DATA_DIR": "out"})  # explicit paths stay cwd-relative
    assert elsewhere.data_dir == tmp_path / "notebooks" / "out"


def test_export_url_must_name_a_bucket():
    assert Settings.from_env({}).export_url is None
    url = "s3://team-bucket/ml/exports"
    assert Settings.from_env({"ML_PLATFORM_EXPORT_URL": url}).export_url == url
    with pytest.raises(SettingsError, match="ML_PLATFORM_EXPORT_URL='exports/' is not an object-storage URL"):
        Settings.from_env({"ML_PLATFORM_EXPORT_URL": "exports/"})
    with pytest.raises(SettingsError, match="ML_PLATFORM_EXPORT_RETENTION_DAYS='soon' is not a number"):
        Settings.from_env({"ML_PLATFORM_EXPORT_RETENTION_DAYS": "soon"})
