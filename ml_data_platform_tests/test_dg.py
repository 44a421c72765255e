"""`dg`, Dagster's current CLI, from the repo root as the README shows it: the definitions
load and list (`[tool.dg]` in pyproject.toml); `dg launch` runs are covered by the shared
instance test and the daily backfill."""

import json
import subprocess
from pathlib import Path

from ml_data_platform_tests.conftest import BIN, REPO, process_env, small_catalog


def dg(env: dict, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(BIN / "dg"), *args], cwd=REPO, env=env, capture_output=True, text=True, timeout=300
    )


def test_dg_checks_and_lists_the_platforms_definitions(tmp_path: Path):
    env = process_env(tmp_path, small_catalog())
    checked = dg(env, "check", "defs")
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "All definitions loaded successfully" in checked.stdout + checked.stderr
    listed = dg(env, "list", "defs", "--json")
    assert listed.returncode == 0, listed.stderr
    defs = json.loads(listed.stdout)
    assert {a["asset_key"] for a in defs["assets"]} >= {"binary/raw", "multi/export"}
    assert len(defs["asset_checks"]) == 2 * 20
    assert {j["name"] for j in defs["jobs"]} >= {"all_datasets", "checks_only", "binary_job"}


def test_dg_check_defs_names_a_bad_catalog(tmp_path: Path):
    catalog = small_catalog()
    catalog["datasets"][0]["split"] = {"train": 0.9, "val": 0.3, "test": 0.1}
    checked = dg(process_env(tmp_path, catalog), "check", "defs")
    assert checked.returncode != 0
    assert "dataset 'binary', field split" in checked.stdout + checked.stderr
    assert "must sum to 1" in checked.stdout + checked.stderr
