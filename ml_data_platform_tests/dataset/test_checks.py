"""The quality suite in real runs: checks-only on stored data, drift across runs, bad data."""

import sqlite3
from pathlib import Path

import dagster as dg
import duckdb
import numpy as np
import pandas as pd
import pytest

from ml_data_platform.definitions import CHECKS_ONLY_JOB, build_definitions, checks_job_name
from ml_data_platform.settings import Settings, Storage
from ml_data_platform_tests.conftest import file_settings, make_settings, materialize_all


def run_checks(
    settings: Settings, instance: dg.DagsterInstance, job: str = CHECKS_ONLY_JOB
) -> dict[str, dg.AssetCheckEvaluation]:
    job_def = build_definitions(settings).resolve_job_def(job)
    result = job_def.execute_in_process(instance=instance, raise_on_error=False)
    return {f"{e.asset_key.to_user_string()}:{e.check_name}": e for e in result.get_asset_check_evaluations()}


def execute_sql(settings: Settings, sql: str) -> None:
    if settings.storage is Storage.sqlite:
        with sqlite3.connect(settings.database) as connection:
            connection.execute(sql)
    else:
        with duckdb.connect(settings.database) as connection:
            connection.execute(sql)


def rows(n: int = 200, shift: float = 0.0, seed: int = 5) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {"a": rng.normal(size=n) + shift, "b": rng.normal(size=n), "target": np.arange(n) % 2}
    )


def test_checks_only_run_passes_on_good_stored_data(settings: Settings, instance):
    materialize_all(settings, instance=instance)
    evaluations = run_checks(settings, instance)
    assert len(evaluations) == 2 * 20
    assert [k for k, e in evaluations.items() if not e.passed] == []


def test_checks_only_run_reads_what_is_stored_not_memory(settings: Settings, instance):
    """A value nulled in storage after the run must be caught by the next checks-only run."""
    materialize_all(settings, instance=instance)
    execute_sql(settings, 'UPDATE "binary__features" SET feature_0 = NULL WHERE sample_index = 3')
    evaluations = run_checks(settings, instance, checks_job_name("binary"))
    failed = {k: e for k, e in evaluations.items() if not e.passed}
    assert set(failed) == {"binary/features:features_schema"}
    assert "feature_0: not null (1 rows)" in failed["binary/features:features_schema"].description
    dqs = evaluations["binary/features:features_quality_score"].metadata["dqs"].value
    assert dqs == pytest.approx(100 * 299 / 300, abs=1e-4)  # one bad row of 300: above the 95 bar


def test_dqs_is_numeric_metadata_on_assets_and_checks(settings: Settings):
    result = materialize_all(settings)
    by_key = {e.asset_key.to_user_string(): e for e in result.get_asset_materialization_events()}
    metadata = by_key["binary/features"].materialization.metadata
    assert metadata["dqs"].value == 100.0
    assert "| feature_0 |" in metadata["profile"].value
    assert set(metadata["profile_json"].value["feature_0"]) >= {
        "count",
        "mean",
        "std",
        "min",
        "max",
        "null_share",
        "edges",
    }


def test_drift_across_two_materializations_with_shifted_data(tmp_path: Path, storage: Storage, instance):
    settings = file_settings(tmp_path, storage, rows())
    first = {
        e.check_name: e for e in materialize_all(settings, instance=instance).get_asset_check_evaluations()
    }
    assert first["features_drift"].passed
    assert "first materialization" in first["features_drift"].description

    rows(shift=3.0, seed=6).to_csv(tmp_path / "rows.csv", index=False)
    result = materialize_all(settings, instance=instance)
    assert result.success  # drift is a WARN: it tells, it does not block
    second = {e.check_name: e for e in result.get_asset_check_evaluations()}
    drift = second["features_drift"]
    assert not drift.passed and drift.severity is dg.AssetCheckSeverity.WARN
    assert drift.metadata["observed"].value["worst"] == ["a"]
    assert drift.metadata["threshold"].value == {"psi": 0.2}
    bounds = second["features_learned_bounds"]
    assert bounds.passed, bounds.description  # a 3-sigma shift stays within 4 std of the old range


def test_same_data_again_shows_no_drift(tmp_path: Path, instance):
    settings = file_settings(tmp_path, Storage.sqlite, rows())
    materialize_all(settings, instance=instance)
    result = materialize_all(settings, instance=instance)
    second = {e.check_name: e for e in result.get_asset_check_evaluations()}
    assert second["features_drift"].passed
    assert second["features_drift"].metadata["observed"].value["max_psi"] == 0.0


def test_undeclared_class_balance_compares_with_the_previous_materialization(tmp_path: Path, instance):
    frame = rows()
    frame.to_csv(tmp_path / "rows.csv", index=False)
    catalog = {
        "datasets": [{"name": "files", "source": {"type": "file", "path": str(tmp_path / "rows.csv")}}]
    }
    settings = make_settings(tmp_path, Storage.sqlite, catalog)

    def balance() -> dg.AssetCheckEvaluation:
        result = materialize_all(settings, instance=instance)
        return next(
            e for e in result.get_asset_check_evaluations() if e.check_name == "features_class_balance"
        )

    first = balance()
    assert first.passed and "no expected class shares" in first.description
    frame.assign(target=(np.arange(len(frame)) % 5 == 0).astype(int)).to_csv(
        tmp_path / "rows.csv", index=False
    )
    moved = balance()
    assert not moved.passed and moved.severity is dg.AssetCheckSeverity.WARN
    assert "published version" in moved.description


def test_class_weights_mismatch_is_a_warning_not_a_block(tmp_path: Path):
    settings = file_settings(tmp_path, Storage.sqlite, rows(), quality={"class_weights": [0.9, 0.1]})
    result = materialize_all(settings)
    assert result.success
    balance = next(
        e for e in result.get_asset_check_evaluations() if e.check_name == "features_class_balance"
    )
    assert not balance.passed and balance.severity is dg.AssetCheckSeverity.WARN


def nulls(frame):
    return frame.assign(a=frame["a"].where(frame.index % 10 != 0))


def third_class(frame):
    return frame.assign(target=np.where(frame.index < 20, 2, frame["target"]))


def duplicated(frame):
    return pd.concat([frame, frame.iloc[:30]], ignore_index=True)


@pytest.mark.parametrize(
    ("corrupt", "expected"),
    [
        (nulls, "raw_completeness"),
        (third_class, "raw_quality_score"),
        (duplicated, "repeat an earlier row"),
    ],
    ids=["nulls", "third-class", "duplicates"],
)
def test_bad_source_stops_the_graph_and_keeps_exports(tmp_path: Path, storage: Storage, corrupt, expected):
    settings = file_settings(tmp_path, storage, rows(), on_duplicates="fail")
    assert materialize_all(settings).success
    export_dir = settings.exports_dir / "files"
    before = {p.name: p.read_bytes() for p in export_dir.iterdir()}

    corrupt(rows()).to_csv(tmp_path / "rows.csv", index=False)
    result = materialize_all(settings, raise_on_error=False)
    assert not result.success
    failed_checks = [
        f"{e.check_name}: {e.description}" for e in result.get_asset_check_evaluations() if not e.passed
    ]
    errors = [
        str(
            e.step_failure_data.error.cause.message
            if e.step_failure_data.error.cause
            else e.step_failure_data.error.message
        )
        for e in result.all_events
        if e.is_step_failure
    ]
    assert any(expected in m for m in [*failed_checks, *errors])
    materialized = {e.asset_key.to_user_string() for e in result.get_asset_materialization_events()}
    assert not {"files/train", "files/export"} & materialized
    assert {p.name: p.read_bytes() for p in export_dir.iterdir()} == before


def test_tampered_export_fails_the_checks_only_run(settings: Settings, instance):
    materialize_all(settings, instance=instance)
    with (settings.exports_dir / "multi" / "test.parquet").open("r+b") as handle:
        handle.seek(100)
        handle.write(b"\x00\x01\x02")
    evaluations = run_checks(settings, instance, checks_job_name("multi"))
    export = evaluations["multi/export:exports_match_manifest"]
    assert not export.passed and "test: sha256 differs from the manifest" in export.description


def test_schema_change_and_row_bounds_checks_fail_on_both_backends(
    tmp_path: Path, storage: Storage, instance
):
    settings = file_settings(tmp_path, storage, rows(), quality={"max_rows": 210})
    first = {
        e.check_name: e
        for e in materialize_all(settings, instance=instance).get_asset_check_evaluations()
        if e.asset_key.path[1] == "raw"
    }
    assert first["column_schema_change"].passed and first["raw_schema_and_row_count"].passed

    rows().assign(c=1.5).to_csv(tmp_path / "rows.csv", index=False)  # a new column
    result = materialize_all(settings, instance=instance, raise_on_error=False)
    second = {e.check_name: e for e in result.get_asset_check_evaluations() if e.asset_key.path[1] == "raw"}
    change = second["column_schema_change"]
    assert not change.passed and change.severity is dg.AssetCheckSeverity.WARN
    assert change.description == "column schema changed: 1 added (c)"

    rows(n=220).to_csv(tmp_path / "rows.csv", index=False)  # more rows than max_rows
    result = materialize_all(settings, instance=instance, raise_on_error=False)
    third = {e.check_name: e for e in result.get_asset_check_evaluations() if e.asset_key.path[1] == "raw"}
    bounds = third["raw_schema_and_row_count"]
    assert not bounds.passed and bounds.severity is dg.AssetCheckSeverity.ERROR
    assert "220 rows, more than max_rows=210" in bounds.description


def test_a_check_that_raises_fails_alone_with_the_reason(settings: Settings, instance):
    """Checks of one asset share a step: one raising must not hide what its siblings found."""
    defs = build_definitions(settings)
    keep = [a for a in defs.assets if not any(k.path[-1] == "baseline_model" for k in a.keys)]
    audits = [
        c for c in defs.asset_checks if all(k.asset_key.path[-1] != "baseline_model" for k in c.check_keys)
    ]
    assert dg.materialize([*keep, *audits], resources=defs.resources, instance=instance).success
    evaluations = run_checks(settings, instance, checks_job_name("binary"))
    raised = evaluations["binary/baseline_model:test_not_suspiciously_perfect"]
    assert not raised.passed and raised.severity == dg.AssetCheckSeverity.ERROR
    assert "raised LookupError: binary/baseline_model was never materialized" in raised.description
    assert evaluations["binary/features:features_schema"].passed


def test_every_check_result_carries_its_main_number_and_threshold_as_floats(settings: Settings, instance):
    materialize_all(settings, instance=instance)
    result = materialize_all(settings, instance=instance)  # second run: drift and schema compare
    for evaluation in result.get_asset_check_evaluations():
        floats = {k: v.value for k, v in evaluation.metadata.items() if isinstance(v, dg.FloatMetadataValue)}
        assert len(floats) == 2, (evaluation.check_name, evaluation.metadata.keys())
        metric = next(k for k in floats if not k.endswith("_threshold"))
        assert f"{metric}_threshold" in floats
    drift = next(e for e in result.get_asset_check_evaluations() if e.check_name == "features_drift")
    assert drift.metadata["max_psi"].value == 0.0 and drift.metadata["max_psi_threshold"].value == 0.2
    model = next(
        e for e in result.get_asset_materialization_events() if e.asset_key.path[-1] == "baseline_model"
    )
    accuracy = model.materialization.metadata["val_accuracy"].value
    assert accuracy == round(accuracy, 4)


def test_real_tables_materialized_twice_pass_every_check(tmp_path: Path, storage: Storage, instance):
    """scikit-learn's digits (pixel counts, mostly 0) and iris (text labels, a text column):
    unchanged data must never fail a check, or a CI gate on `check --strict` never goes green."""
    from sklearn.datasets import load_digits, load_iris

    load_digits(as_frame=True).frame.to_csv(tmp_path / "digits.csv", index=False)
    iris = load_iris(as_frame=True)
    named = iris.frame.assign(
        target=np.asarray(iris.target_names)[iris.target], region=np.resize(["north", "south", "east"], 150)
    )
    named.to_csv(tmp_path / "iris.csv", index=False)
    catalog = {
        "datasets": [
            {"name": "digits", "source": {"type": "file", "path": str(tmp_path / "digits.csv")}},
            {
                "name": "iris",
                "source": {"type": "file", "path": str(tmp_path / "iris.csv")},
                "categorical_columns": ["region"],
            },
        ]
    }
    settings = make_settings(tmp_path, storage, catalog)
    materialize_all(settings, instance=instance)
    result = materialize_all(settings, instance=instance)
    assert result.success
    failed = [
        f"{e.asset_key.to_user_string()}:{e.check_name}: {e.description}"
        for e in result.get_asset_check_evaluations()
        if not e.passed
    ]
    assert not failed, failed
    drift = [e for e in result.get_asset_check_evaluations() if e.check_name == "features_drift"]
    assert [e.metadata["max_psi"].value for e in drift] == [0.0, 0.0]
