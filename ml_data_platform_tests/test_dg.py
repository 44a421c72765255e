"""`dg`, Dagster's current CLI, from the repo root as the README shows it: the definitions
load and list (`[tool.dg]` in pyproject.toml), `dg dev` serves the UI; `dg launch` runs are
covered by the shared instance test and the daily backfill."""

import json
import os
import signal
import subprocess
import time
import urllib.request
from pathlib import Path

from ml_data_platform_tests.conftest import BIN, REPO, process_env, small_catalog
from ml_data_platform_tests.postgres_server import _free_port


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


def test_dg_dev_serves_the_ui_with_the_platforms_code_location(tmp_path: Path):
    """`make ui` runs `dg dev`: the webserver answers and loads the code location (the daemon
    runs beside it)."""
    port = _free_port()
    env = process_env(tmp_path, small_catalog())
    server = subprocess.Popen(
        [str(BIN / "dg"), "dev", "--port", str(port)],
        cwd=REPO,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,  # dg dev starts the webserver, daemon and code server
    )
    query = "{ repositoriesOrError { ... on RepositoryConnection { nodes { name location { name } } } } }"
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/graphql",
        data=json.dumps({"query": query}).encode(),
        headers={"Content-Type": "application/json"},
    )
    try:
        deadline, nodes = time.monotonic() + 120, []
        while not nodes and time.monotonic() < deadline and server.poll() is None:
            try:
                with urllib.request.urlopen(request, timeout=5) as response:
                    nodes = json.loads(response.read())["data"]["repositoriesOrError"].get("nodes", [])
            except (OSError, KeyError):
                time.sleep(1)
        assert [n["location"]["name"] for n in nodes] == ["ml_data_platform"], "dg dev never served it"
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=60)
        except subprocess.TimeoutExpired:  # its shutdown is dg's business, not this test's
            os.killpg(server.pid, signal.SIGKILL)
            server.wait(timeout=30)
