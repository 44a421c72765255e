"""Every gate check passes on good data and fails on a deliberately corrupted frame."""

from datetime import UTC, datetime

import numpy as np
import pandas as pd
import pytest

from ml_data_platform.catalog import DatasetSpec
from ml_data_platform.core.contract import features_contract, quality_contract
from ml_data_platform.core.quality import (
    ERROR,
    WARN,
    check_class_balance,
    check_completeness,
    check_contract,
    check_quality_score,
    check_raw,
    check_schema_change,
    check_splits,
)
from ml_data_platform.core.splitting import stratified_split
from ml_data_platform.sources.readers import stamp_raw

pytestmark = pytest.mark.fast  # pure functions and files: no Dagster run, no subprocess

RATIOS = {"train": 0.7, "val": 0.15, "test": 0.15}
FEATURES = ["a", "b"]
SPEC = DatasetSpec.model_validate(
    {
        "name": "ds",
        "source": {"type": "file", "path": "x.csv"},
        "classes": [0, 1],
        "quality": {"feature_bounds": {"a": [-10, 10]}},
    }
)


@pytest.fixture
def raw() -> pd.DataFrame:
    rng = np.random.default_rng(1)
    frame = pd.DataFrame(
        {"a": rng.normal(size=100), "b": rng.normal(size=100), "target": np.arange(100, dtype=np.int64) % 2}
    )
    return stamp_raw(frame, datetime(2026, 1, 1, tzinfo=UTC))


@pytest.fixture
def features(raw) -> pd.DataFrame:
    return raw[["sample_index", *FEATURES, "target", "ingested_at"]].copy()


def test_raw_check_passes_on_declared_shape(raw):
    outcome = check_raw(raw, [*FEATURES, "target"], expected_rows=100, min_rows=10)
    assert outcome.passed, outcome.summary
    assert outcome.observed["rows"] == 100


@pytest.mark.parametrize(
    ("corrupt", "expected"),
    [
        (lambda f: f.drop(columns=["target"]), "missing column(s) ['target']"),
        (lambda f: f.iloc[:90], "90 rows, expected exactly 100"),
        (lambda f: f.assign(sample_index=f["sample_index"] * 2), "sample_index is not 0..n-1"),
    ],
)
def test_raw_check_fails_on_corruption(raw, corrupt, expected):
    outcome = check_raw(corrupt(raw), [*FEATURES, "target"], expected_rows=100, min_rows=10)
    assert not outcome.passed
    assert expected in outcome.summary


def test_raw_check_fails_below_min_rows(raw):
    outcome = check_raw(raw.iloc[:5], ["target"], expected_rows=None, min_rows=10)
    assert not outcome.passed and "fewer than min_rows=10" in outcome.summary


def test_raw_check_fails_above_max_rows(raw):
    assert check_raw(raw, ["target"], expected_rows=None, min_rows=10, max_rows=100).passed
    outcome = check_raw(raw, ["target"], expected_rows=None, min_rows=10, max_rows=99)
    assert not outcome.passed and "100 rows, more than max_rows=99" in outcome.summary


def test_features_contract_passes(features):
    outcome = check_contract(features, features_contract(SPEC.rules(), FEATURES))
    assert outcome.passed, outcome.summary
    assert outcome.observed["violations"] == []


@pytest.mark.parametrize(
    ("corrupt", "expected"),
    [
        (lambda f: f.assign(a=f["a"].where(f.index != 3)), "a: not null (1 rows)"),
        (lambda f: f.assign(b=f["b"].where(f.index > 1, np.inf)), "b: finite (2 rows)"),
        (lambda f: f.assign(target=f["target"].where(f.index != 0, 2)), "target: in [0, 1] (1 rows)"),
        (lambda f: f.assign(a=f["a"].astype(np.float32)), "a: dtype float64 (is float32) (100 rows)"),
        (
            lambda f: f.assign(sample_index=f["sample_index"].where(f.index != 1, 0)),
            "sample_index: unique (2 rows)",
        ),
        (lambda f: f.drop(columns=["b"]), "b: present (100 rows)"),
        (lambda f: f.assign(extra=1.0), "extra: not declared (100 rows)"),
        (lambda f: f[["sample_index", "b", "a", "target", "ingested_at"]], "(table): column order"),
        (lambda f: f.assign(a=f["a"].where(f.index != 7, 99.0)), "a: within [-10, 10] (1 rows)"),
    ],
)
def test_features_contract_names_column_rule_and_rows(features, corrupt, expected):
    outcome = check_contract(corrupt(features), features_contract(SPEC.rules(), FEATURES))
    assert not outcome.passed
    assert expected in outcome.summary


def test_completeness_reports_share_per_column(raw):
    assert check_completeness(raw, [*FEATURES, "target"], 0.05).passed
    holed = raw.assign(a=raw["a"].where(raw.index >= 10))
    outcome = check_completeness(holed, [*FEATURES, "target"], 0.05)
    assert not outcome.passed
    assert "a: 10.0% null/non-finite (limit 5.0%)" in outcome.summary
    assert outcome.observed["null_share"] == {"a": 0.1}


def test_quality_score_counts_valid_rows(raw):
    contract = quality_contract(SPEC.rules(), FEATURES)
    assert check_quality_score(raw, contract, 95).observed["dqs"] == 100.0
    broken = raw.assign(a=raw["a"].where(raw.index >= 3), target=raw["target"].where(raw.index != 50, 7))
    outcome = check_quality_score(broken, contract, 95)
    assert outcome.observed == {"dqs": 96.0, "invalid_rows": 4, "rows": 100}
    assert outcome.passed
    failing = check_quality_score(broken, contract, 97)
    assert not failing.passed and "DQS 96.00 (4 of 100 rows invalid) below 97" in failing.summary


def test_class_balance_passes_warns_and_errors(features):
    ok = check_class_balance(features, "target", {0: 0.5, 1: 0.5}, 0.1, RATIOS)
    assert ok.passed
    skewed = check_class_balance(features, "target", {0: 0.8, 1: 0.2}, 0.1, RATIOS)
    assert not skewed.passed and skewed.severity == WARN
    assert "off the declared weights" in skewed.summary
    tiny = features.assign(target=np.where(features.index < 3, 1, 0))
    error = check_class_balance(tiny, "target", {0: 0.5, 1: 0.5}, 0.1, RATIOS)
    assert not error.passed and error.severity == ERROR
    assert "too few rows to stratify (need 7): {1: 3}" in error.summary


def test_class_balance_without_a_declaration_says_so_then_compares_with_the_last_run(features):
    first = check_class_balance(features, "target", None, 0.1, RATIOS)
    assert first.passed and "no expected class shares" in first.summary
    assert first.threshold["expected_shares"] is None
    same = check_class_balance(features, "target", None, 0.1, RATIOS, previous={0: 0.5, 1: 0.5})
    assert same.passed and "published version" in same.summary
    moved = check_class_balance(features, "target", None, 0.1, RATIOS, previous={0: 0.8, 1: 0.2})
    assert not moved.passed and moved.severity == WARN
    assert "off the published version's shares" in moved.summary
    assert moved.observed["max_share_gap"] == 0.3


def test_class_balance_counts_a_class_the_reference_never_had(features):
    three = features.assign(target=features.index % 3)
    outcome = check_class_balance(three, "target", None, 0.1, RATIOS, previous={0: 0.5, 1: 0.5})
    assert not outcome.passed and "2: 0.33" in outcome.summary


def test_splits_check_passes_on_real_split(features):
    parts = stratified_split(features, "target", RATIOS, seed=0)
    outcome = check_splits(parts, features, "target", RATIOS)
    assert outcome.passed, outcome.summary
    assert outcome.observed["overlapping_rows"] == 0


def test_splits_check_fails_on_overlap(features):
    parts = stratified_split(features, "target", RATIOS, seed=0)
    parts["val"] = pd.concat([parts["val"], parts["train"].iloc[:3]])
    outcome = check_splits(parts, features, "target", RATIOS)
    assert not outcome.passed
    assert "sample_index in two splits: {'train/val': 3}" in outcome.summary


def test_splits_check_fails_when_rows_are_lost(features):
    parts = stratified_split(features, "target", RATIOS, seed=0)
    parts["test"] = parts["test"].iloc[2:]
    outcome = check_splits(parts, features, "target", RATIOS)
    assert not outcome.passed
    assert "2 missing" in outcome.summary


def test_splits_check_fails_when_ratios_are_off(features):
    parts = {"train": features.iloc[:50], "val": features.iloc[50:75], "test": features.iloc[75:]}
    outcome = check_splits(parts, features, "target", RATIOS)
    assert not outcome.passed
    assert "class shares off the ratios" in outcome.summary and "(±1.0)" in outcome.summary


def test_schema_change_is_summarized_by_counts_and_first_names():
    before = {f"c{i}": "float64" for i in range(2000)}
    after = {**{f"c{i}": "float64" for i in range(3, 2000)}, "c10": "string"}
    after.update({f"n{i}": "float64" for i in range(40)})
    outcome = check_schema_change(before, after)
    assert not outcome.passed and outcome.severity == WARN
    assert outcome.summary == (
        "column schema changed: 40 added (n0, n1, n2, n3, n4, … 35 more); 3 removed (c0, c1, c2); "
        "1 changed type (c10: float64 -> string)"
    )
    assert outcome.observed["added"] == 40 and len(outcome.observed["first_changes"]["added"]) == 40
    assert check_schema_change(before, before).passed
    assert "first materialization" in check_schema_change(None, before).summary


def test_raw_contract_names_the_text_in_a_numeric_column_and_its_row():
    from ml_data_platform.core.contract import raw_contract

    frame = stamp_raw(
        pd.DataFrame({"a": ["1.5", "abc", "2", "x"], "target": [0, 1, 0, 1]}),
        datetime(2026, 1, 1, tzinfo=UTC),
    )
    outcome = check_contract(frame, raw_contract(SPEC.rules(), ["a"]))
    assert not outcome.passed
    assert (
        "a: not a number: 'abc' (sample_index 1), 'x' (sample_index 3) (list it under categorical_columns"
        in (outcome.summary)
    )
    assert outcome.observed["violations"][0]["rows"] == 2
