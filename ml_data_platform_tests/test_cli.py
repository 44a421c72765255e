"""The command lines a user and CI run, in real subprocesses."""

import subprocess
from pathlib import Path

import dagster as dg
import numpy as np
import pandas as pd
import pytest
import yaml

from ml_data_platform.definitions import CODE_LOCATION, REPOSITORY_LABEL
from ml_data_platform_tests.conftest import (
    BIN,
    REPO,
    materialize_command,
    process_env,
    small_catalog,
    write_catalog,
)


def run(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(args, cwd=REPO, env=env, capture_output=True, text=True, timeout=180)


def bad_class_catalog(tmp_path: Path) -> dict:
    rng = np.random.default_rng(0)
    rows = pd.DataFrame({"a": rng.normal(size=80), "target": np.arange(80) % 3})
    rows.to_csv(tmp_path / "rows.csv", index=False)
    return {
        "datasets": [
            {
                "name": "files",
                "classes": [0, 1],
                "source": {"type": "file", "path": str(tmp_path / "rows.csv")},
            }
        ]
    }


def test_dagster_asset_materialize_builds_every_dataset(tmp_path: Path):
    env = process_env(tmp_path, small_catalog(), ML_PLATFORM_STORAGE="duckdb")
    done = run(
        materialize_command("*"),
        env,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    for dataset in ("binary", "multi"):
        assert (tmp_path / "data" / "exports" / dataset / "manifest.json").is_file()
    assert (tmp_path / "data" / "warehouse.duckdb").is_file()
    assert not (tmp_path / "data" / "warehouse.sqlite").exists()


def test_selecting_one_group_builds_only_that_dataset(tmp_path: Path):
    env = process_env(tmp_path, small_catalog())
    done = run(
        materialize_command("group:multi"),
        env,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert (tmp_path / "data" / "exports" / "multi" / "manifest.json").is_file()
    assert not (tmp_path / "data" / "exports" / "binary").exists()


def test_failing_blocking_check_fails_the_command_with_the_reason(tmp_path: Path):
    env = process_env(tmp_path, bad_class_catalog(tmp_path))
    done = run(
        materialize_command("*"),
        env,
    )
    assert done.returncode != 0
    output = done.stdout + done.stderr
    assert "raw_quality_score" in output
    assert "DQS 67.50 (26 of 80 rows invalid) below 95" in output
    assert not (tmp_path / "data" / "exports" / "files").exists()


def test_platform_run_prints_a_summary(tmp_path: Path):
    env = process_env(tmp_path, small_catalog())
    done = run([str(BIN / "ml-data-platform"), "run"], env)
    assert done.returncode == 0, done.stderr[-3000:]
    lines = done.stdout.splitlines()
    assert lines[0].startswith("storage: sqlite")
    binary = next(line for line in lines if line.startswith("binary "))
    assert binary.split()[1:6] == ["210", "45", "45", "20", "passed"]
    assert str(tmp_path / "data" / "exports" / "binary") in binary
    # The run is recorded in the instance that DAGSTER_HOME names, with the repository label
    # that the UI's job pages filter on (workspace.yaml names the same code location).
    with dg.DagsterInstance.from_config(env["DAGSTER_HOME"]) as instance:
        runs = instance.get_runs(filters=dg.RunsFilter(tags={".dagster/repository": REPOSITORY_LABEL}))
    assert [r.job_name for r in runs] == ["all_datasets"]
    workspace = yaml.safe_load((REPO / "workspace.yaml").read_text())
    assert workspace["load_from"][0]["python_module"]["location_name"] == CODE_LOCATION


def test_platform_run_exits_nonzero_and_names_the_failure(tmp_path: Path):
    env = process_env(tmp_path, bad_class_catalog(tmp_path))
    done = run([str(BIN / "ml-data-platform"), "run"], env)
    assert done.returncode == 1
    assert "FAILED files/raw:raw_quality_score: DQS 67.50 (26 of 80 rows invalid) below 95" in done.stdout
    last = done.stderr.strip().splitlines()[-4:]  # the failure block is the last thing printed
    assert last[0].startswith("Run failed (recorded in ") and last[1] == "  files:"
    assert last[2].startswith("    - check files/raw:raw_quality_score failed: DQS 67.50")
    assert last[3].startswith("    - the rejected version is quarantined as quarantine__files__raw__")
    assert "the published data is unchanged (inspect: ml-data-platform quarantine show " in last[3]


def test_a_bad_file_after_a_good_run_is_the_last_message_and_the_old_export_is_not_shown(tmp_path: Path):
    rows = pd.DataFrame({"a": np.random.default_rng(0).normal(size=120), "target": np.arange(120) % 2})
    rows.to_parquet(tmp_path / "rows.parquet")
    catalog = {
        "datasets": [{"name": "files", "source": {"type": "file", "path": str(tmp_path / "rows.parquet")}}]
    }
    env = process_env(tmp_path, catalog)
    assert run([str(BIN / "ml-data-platform"), "run"], env).returncode == 0
    (tmp_path / "rows.parquet").write_text("a,target\n1,0\n")  # CSV text where Parquet should be
    done = run([str(BIN / "ml-data-platform"), "run"], env)
    assert done.returncode == 1
    line = next(x for x in done.stdout.splitlines() if x.startswith("files "))
    assert line.split()[1:4] == ["-", "-", "-"] and "not updated by this run" in line
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith("    - step files__raw failed: SourceError: dataset 'files': ")
    assert last.endswith(
        "rows.parquet is not a Parquet file (no PAR1 header); it looks like CSV text: set source.format: csv"
    )
    assert "magic bytes" not in done.stderr.strip().splitlines()[-1]


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        ({"ML_PLATFORM_STORAGE": "oracle"}, "valid values: sqlite, duckdb"),
        ({"ML_PLATFORM_CATALOG": "/nonexistent/datasets.yaml"}, "dataset catalog not found"),
    ],
)
def test_platform_run_reports_bad_settings(tmp_path: Path, extra, expected):
    env = process_env(tmp_path, small_catalog())
    env.update(extra)
    done = run([str(BIN / "ml-data-platform"), "run"], env)
    assert done.returncode == 2
    assert expected in done.stderr


def test_check_command_exit_codes_for_pass_warn_and_error(tmp_path: Path):
    import sqlite3

    catalog = small_catalog()
    env = process_env(tmp_path, catalog)
    assert run([str(BIN / "ml-data-platform"), "run", "--dataset", "binary"], env).returncode == 0
    check = [str(BIN / "ml-data-platform"), "check", "--dataset", "binary"]

    passed = run(check, env)
    assert passed.returncode == 0, passed.stdout + passed.stderr[-2000:]
    header = passed.stdout.splitlines()[1].split()
    assert header == ["asset", "check", "severity", "result", "observed", "threshold"]
    assert "20 passed, 0 failed (ERROR), 0 warned (WARN), 0 not run" in passed.stdout

    catalog["datasets"][0]["quality"] = {"class_weights": [0.9, 0.1]}
    write_catalog(tmp_path, catalog)
    warned = run(check, env)
    assert warned.returncode == 0
    assert "19 passed, 0 failed (ERROR), 1 warned (WARN), 0 not run" in warned.stdout
    row = next(line for line in warned.stdout.splitlines() if "features_class_balance" in line)
    assert row.split()[2:4] == ["WARN", "FAILED"]
    assert run([*check, "--strict"], env).returncode == 1

    with sqlite3.connect(tmp_path / "data" / "warehouse.sqlite") as connection:
        connection.execute('UPDATE "binary__features" SET feature_2 = NULL WHERE sample_index < 2')
    failed = run(check, env)
    assert failed.returncode == 1
    rows = {line.split()[1]: line for line in failed.stdout.splitlines()[3:] if line.startswith("binary/")}
    assert rows["features_schema"].split()[2:4] == ["ERROR", "FAILED"]
    assert "feature_2: not null (2 rows)" in rows["features_schema"]
    # checks that read the rejected features wait behind the failed gate, and say so
    assert rows["splits_disjoint_complete_stratified"].split()[2:5] == ["ERROR", "NOT", "RUN"]
    assert rows["exports_match_manifest"].split()[2:4] == ["ERROR", "passed"]  # reads no table
    assert "15 passed, 1 failed (ERROR), 1 warned (WARN), 3 not run" in failed.stdout


def test_quarantine_commands_list_show_audit_release_and_drop(tmp_path: Path):
    """The commands as a user types them (both backends' versions: dataset/test_publishing)."""
    good = pd.DataFrame({"a": np.random.default_rng(1).normal(size=120), "target": np.arange(120) % 2})
    good.to_csv(tmp_path / "rows.csv", index=False)
    catalog = {
        "datasets": [{"name": "files", "source": {"type": "file", "path": str(tmp_path / "rows.csv")}}]
    }
    env = process_env(tmp_path, catalog)
    cli = str(BIN / "ml-data-platform")
    assert run([cli, "run"], env).returncode == 0
    assert run([cli, "quarantine", "list"], env).stdout.startswith("no quarantined versions")

    good.assign(a=good["a"].where(good.index != 7, np.inf)).to_csv(tmp_path / "rows.csv", index=False)
    assert run([cli, "run"], env).returncode == 1
    listed = run([cli, "quarantine", "list"], env)
    [row] = [line for line in listed.stdout.splitlines() if line.startswith("quarantine__")]
    name = row.split()[0]
    assert name.startswith("quarantine__files__raw__") and "files/raw" in row and "raw_validates" in row

    shown = run([cli, "quarantine", "show", name, "--rows", "3"], env)
    assert shown.returncode == 0 and "asset:    files/raw" in shown.stdout and "first 3 rows:" in shown.stdout

    assert run([cli, "check"], env).returncode == 0  # the published data
    audited = run([cli, "check", "--quarantined", name], env)
    assert audited.returncode == 1 and f"auditing the quarantined version {name}" in audited.stdout
    assert "raw_validates" in next(x for x in audited.stdout.splitlines() if "FAILED" in x)

    missing = run([cli, "quarantine", "release", "quarantine__nope"], env)
    assert missing.returncode == 2
    assert missing.stderr.strip().splitlines()[-1].startswith("error: no quarantined version named")

    released = run([cli, "quarantine", "release", name], env)
    assert released.returncode == 0 and f"released {name}" in released.stdout
    assert "files/features*" in released.stdout  # how to rebuild the later stages from it
    assert run([cli, "check"], env).returncode == 1  # the released rows fail their audit, on purpose

    good.head(3).to_csv(tmp_path / "rows.csv", index=False)  # too few rows: quarantined again
    assert run([cli, "run"], env).returncode == 1
    [again] = [
        x.split()[0] for x in run([cli, "quarantine", "list"], env).stdout.splitlines() if "__raw__" in x
    ]
    assert run([cli, "quarantine", "drop", again], env).stdout.strip() == f"dropped {again}"
    assert run([cli, "quarantine", "list"], env).stdout.startswith("no quarantined versions")
