"""Splits that never move: the keyed hash, the stability check, and freshness (pure)."""

from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ml_data_platform.core.freshness import check_freshness
from ml_data_platform.core.quality import WARN, check_splits
from ml_data_platform.core.splitting import hash_assignment, hash_split, hash_tolerance
from ml_data_platform.core.stability import check_split_stability, moved_rows

pytestmark = pytest.mark.fast
RATIOS = {"train": 0.7, "val": 0.15, "test": 0.15}


def table(ids: np.ndarray, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame({"sample_index": ids, "x": rng.normal(size=len(ids)), "target": ids % 3})


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), n=st.integers(1, 3000), added=st.integers(1, 3000))
def test_adding_rows_moves_no_existing_row_whatever_the_order(seed, n, added):
    old = np.arange(n) * 7 - 500  # negative ids too
    grown = np.concatenate([old, np.arange(added) + 10**9])
    shuffled = np.random.default_rng(seed).permutation(grown)
    before = dict(zip(old, hash_assignment(old, RATIOS, seed), strict=True))
    after = dict(zip(shuffled, hash_assignment(shuffled, RATIOS, seed), strict=True))
    assert all(after[i] == split for i, split in before.items())


def test_another_seed_deals_rows_anew_and_shares_follow_the_ratios():
    ids = np.arange(200_000)
    a, b = hash_assignment(ids, RATIOS, 1), hash_assignment(ids, RATIOS, 2)
    assert 0.525 < (a == b).mean() < 0.545  # independent deals agree on 0.7² + 2·0.15² = 0.535
    shares = np.bincount(a) / len(a)
    assert np.allclose(shares, list(RATIOS.values()), atol=0.005)


def test_hash_split_is_disjoint_complete_and_within_the_stated_class_bound():
    frame = table(np.random.default_rng(3).choice(10**7, 5000, replace=False))
    parts = hash_split(frame, RATIOS, seed=9)
    outcome = check_splits(parts, frame, "target", RATIOS, hashed=True)
    assert outcome.passed, outcome.summary
    assert all(p["sample_index"].is_monotonic_increasing for p in parts.values())
    assert outcome.limit == pytest.approx(hash_tolerance(int((frame["target"] == 0).sum()), 0.7), rel=0.5)


def test_hash_bound_is_breached_by_a_split_far_off_the_ratios():
    frame = table(np.arange(3000))
    parts = {"train": frame.iloc[:1500], "val": frame.iloc[1500:2250], "test": frame.iloc[2250:]}
    outcome = check_splits(parts, frame, "target", RATIOS, hashed=True)
    assert not outcome.passed and "class shares off the ratios" in outcome.summary


IDS = {"train": np.array([1, 2, 3]), "val": np.array([4]), "test": np.array([5])}
DEFINITION = {"method": "hash", "seed": 1, "ratios": RATIOS}


def test_stability_passes_when_rows_only_arrive():
    grown = {**IDS, "train": np.array([1, 2, 3, 10, 11])}
    outcome = check_split_stability(grown, IDS, DEFINITION, DEFINITION, hashed=True)
    assert outcome.passed and outcome.observed["moved_rows"] == 0


def test_a_moved_row_is_an_error_under_the_same_hash_definition():
    moved = {"train": np.array([1, 2]), "val": np.array([4]), "test": np.array([3, 5])}
    assert moved_rows(moved, IDS) == {"train->test": 1}
    outcome = check_split_stability(moved, IDS, DEFINITION, DEFINITION, hashed=True)
    assert not outcome.passed and outcome.severity != WARN and "train->test" in outcome.summary


def test_a_changed_definition_or_exact_splits_only_report_moves():
    moved = {"train": np.array([1, 2]), "val": np.array([4]), "test": np.array([3, 5])}
    other = {**DEFINITION, "seed": 2}
    changed = check_split_stability(moved, IDS, other, DEFINITION, hashed=True)
    assert not changed.passed and changed.severity == WARN and "definition changed" in changed.summary
    exact = check_split_stability(moved, IDS, DEFINITION, DEFINITION, hashed=False)
    assert exact.severity == WARN and "split.method: hash" in exact.summary
    assert check_split_stability(moved, None, DEFINITION, None, hashed=True).passed


NOW = datetime(2026, 11, 23, 12, tzinfo=UTC)


@pytest.mark.parametrize(
    ("age", "passed", "severity"),
    [
        (timedelta(hours=1), True, "ERROR"),
        (timedelta(hours=30), False, WARN),
        (timedelta(days=4), False, "ERROR"),
    ],
)
def test_freshness_against_a_fixed_clock(age, passed, severity):
    outcome = check_freshness(NOW - age, NOW, timedelta(days=3), timedelta(hours=26))
    assert (outcome.passed, outcome.severity) == (passed, severity), outcome.summary


def test_never_published_is_not_fresh():
    outcome = check_freshness(None, NOW, timedelta(days=3), None)
    assert not outcome.passed and "never published" in outcome.summary
