"""Every gate check passes on good data and fails on a deliberately corrupted frame."""

from datetime import UTC, datetime

import numpy as np
import pandas as pd
import pytest

from ml_data_platform.lib.quality import check_features, check_raw, check_splits
from ml_data_platform.lib.sources import stamp_raw
from ml_data_platform.lib.splitting import stratified_split

RATIOS = {"train": 0.7, "val": 0.15, "test": 0.15}
FEATURES = ["a", "b"]


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


def test_features_check_passes(features):
    outcome = check_features(features, FEATURES, "target", [0, 1])
    assert outcome.passed, outcome.summary
    assert outcome.observed["classes"] == [0, 1]


@pytest.mark.parametrize(
    ("corrupt", "expected"),
    [
        (lambda f: f.assign(a=f["a"].where(f.index != 3)), "null/non-finite values per column {'a': 1}"),
        (lambda f: f.assign(b=f["b"].where(f.index > 1, np.inf)), "{'b': 2}"),
        (lambda f: f.assign(target=f["target"].where(f.index != 0, 2)), "target class(es) [2] not declared"),
        (lambda f: f.assign(a=f["a"].astype(np.float32)), "wrong dtype(s) {'a': 'float32'}"),
        (lambda f: f.assign(target=0), "only 1 target class present"),
        (lambda f: f.drop(columns=["b"]), "missing column(s) ['b']"),
    ],
)
def test_features_check_fails_on_corruption(features, corrupt, expected):
    outcome = check_features(corrupt(features), FEATURES, "target", [0, 1])
    assert not outcome.passed
    assert expected in outcome.summary


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
    assert "ratios off by more than one row per class" in outcome.summary
