"""Drift and train/test checks: unchanged data never drifts, whatever the column looks like;
a real shift always does; too few rows is said, not warned."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sklearn.datasets import load_breast_cancer, load_digits, load_iris, load_wine

from ml_data_platform.core.bins import DISCRETE_LIMIT, counts_in, numeric_bins, psi, reference_counts
from ml_data_platform.core.drift import check_drift, check_learned_bounds, check_split_distribution
from ml_data_platform.core.profile import profile
from ml_data_platform.core.quality import WARN

pytestmark = pytest.mark.fast

KINDS = ("continuous", "counts", "mostly_zero", "constant", "two_valued", "skewed", "categorical", "gappy")


def column(kind: str, rows: int, seed: int) -> pd.Series:
    """A column shaped like one kind of real data."""
    rng = np.random.default_rng(seed)
    if kind == "continuous":
        return pd.Series(rng.normal(3.0, 2.0, rows))
    if kind == "counts":
        return pd.Series(rng.poisson(4.0, rows).astype(np.float64))
    if kind == "mostly_zero":  # like digits' edge pixels: 0 for most rows, a few counts up to 16
        return pd.Series(np.where(rng.random(rows) < 0.9, 0.0, rng.integers(1, 17, rows)))
    if kind == "constant":
        return pd.Series(np.full(rows, 7.0))
    if kind == "two_valued":
        return pd.Series((rng.random(rows) < 0.3).astype(np.float64))
    if kind == "skewed":
        return pd.Series(rng.lognormal(0.0, 2.0, rows))
    if kind == "gappy":  # zero-inflated continuous: ties at 0, then a long tail
        return pd.Series(np.where(rng.random(rows) < 0.7, 0.0, rng.exponential(5.0, rows)))
    return pd.Series(rng.choice(["red", "green", "blue", "teal"], rows, p=[0.4, 0.3, 0.2, 0.1]), dtype=object)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(kind=st.sampled_from(KINDS), rows=st.integers(1, 3000), seed=st.integers(0, 10_000))
def test_a_frame_compared_with_its_own_profile_never_drifts(kind: str, rows: int, seed: int):
    frame = pd.DataFrame({"x": column(kind, rows, seed)})
    outcome = check_drift(frame, ["x"], profile(frame, ["x"]), 0.2)
    assert outcome.passed, outcome.summary
    assert outcome.observed["max_psi"] == 0.0


@settings(max_examples=40, deadline=None)
@given(
    kind=st.sampled_from(("continuous", "counts", "skewed", "gappy", "mostly_zero")),
    rows=st.integers(2000, 6000),
    seed=st.integers(0, 10_000),
)
def test_a_mean_moved_by_one_std_always_drifts(kind: str, rows: int, seed: int):
    before = pd.DataFrame({"x": column(kind, rows, seed)})
    after = pd.DataFrame({"x": column(kind, rows, seed + 1)})
    after["x"] += after["x"].std()
    outcome = check_drift(after, ["x"], profile(before, ["x"]), 0.2)
    assert not outcome.passed and outcome.observed["worst"] == ["x"], outcome.summary


@settings(max_examples=40, deadline=None)
@given(share=st.floats(0.25, 0.5), rows=st.integers(2000, 6000), seed=st.integers(0, 10_000))
def test_a_category_share_doubled_always_drifts(share: float, rows: int, seed: int):
    """Doubling a category of at least a quarter of the rows (the others shrinking in step)
    always passes the 0.2 PSI threshold; see the README for rarer categories."""
    rng = np.random.default_rng(seed)

    def draw(p: float) -> pd.Series:
        rest = (1 - p) / 3
        return pd.Series(rng.choice(["a", "b", "c", "d"], rows, p=[p, rest, rest, rest]), dtype=object)

    before, after = pd.DataFrame({"x": draw(share)}), pd.DataFrame({"x": draw(min(2 * share, 1.0))})
    outcome = check_drift(after, ["x"], profile(before, ["x"]), 0.2)
    assert not outcome.passed, outcome.summary


@pytest.mark.parametrize("load", [load_digits, load_iris, load_wine, load_breast_cancer])
def test_real_tables_materialized_twice_show_no_drift(load):
    frame = load(as_frame=True).frame
    names = [c for c in frame.columns if c != "target"]
    stored = profile(frame, names)
    drift = check_drift(frame, names, stored, 0.2)
    assert drift.passed and drift.observed["max_psi"] == 0.0, drift.summary
    assert check_learned_bounds(frame, names, stored, 4.0).passed


def test_digits_pixels_are_binned_by_value_with_their_real_counts():
    pixel = load_digits(as_frame=True).frame["pixel_7_1"]
    bins = profile(pixel.to_frame(), ["pixel_7_1"])["pixel_7_1"]["bins"]
    assert bins["values"][0] == 0.0 and sum(bins["counts"]) == len(pixel)
    assert bins["counts"][0] == int((pixel == 0).sum())


def test_values_the_reference_never_held_count_as_drift():
    bins = numeric_bins(np.array([0.0, 0.0, 1.0, 1.0]))
    assert counts_in(np.array([0.0, 5.0, 5.0, np.nan]), bins).tolist() == [1.0, 0.0, 2.0]
    assert psi(reference_counts(bins), counts_in(np.array([0.0, 1.0]), bins)) > 0


def test_many_distinct_values_are_binned_by_quantile_with_observed_counts():
    values = np.concatenate([np.zeros(700), np.linspace(1, 2, 300)])  # ties at 0, then spread
    bins = numeric_bins(values)
    assert "edges" in bins and sum(bins["counts"]) == 1000
    assert len(np.unique(values)) > DISCRETE_LIMIT and bins["counts"][1] == 700


def test_a_profile_from_an_older_version_passes_with_a_note():
    frame = pd.DataFrame({"x": column("continuous", 500, 1)})
    old = {"x": {k: v for k, v in profile(frame, ["x"])["x"].items() if k != "bins"}}
    outcome = check_drift(frame, ["x"], old, 0.2)
    assert outcome.passed and "older version" in outcome.summary


def test_drift_flags_shifted_features_by_name():
    before = pd.DataFrame({"a": column("continuous", 500, 1), "b": column("continuous", 500, 2)})
    shifted = before.assign(b=before["b"] + 3.0)
    outcome = check_drift(shifted, ["a", "b"], profile(before, ["a", "b"]), 0.2)
    assert not outcome.passed and outcome.severity == WARN
    assert outcome.observed["worst"] == ["b"] and "b (PSI" in outcome.summary


def test_a_constant_column_that_starts_varying_drifts():
    before = pd.DataFrame({"x": column("constant", 1000, 0)})
    after = pd.DataFrame({"x": column("continuous", 1000, 0)})
    assert not check_drift(after, ["x"], profile(before, ["x"]), 0.2).passed


def test_same_distribution_train_and_test_agree_for_every_kind():
    frame = pd.DataFrame({kind: column(kind, 3000, i) for i, kind in enumerate(KINDS)})
    outcome = check_split_distribution(frame.iloc[:2100], frame.iloc[2100:], list(KINDS), 0.25)
    assert outcome.passed, outcome.summary


def test_train_and_test_far_apart_warn():
    train = pd.DataFrame({"a": column("continuous", 2000, 1)})
    test = pd.DataFrame({"a": column("continuous", 500, 2) + 5})
    outcome = check_split_distribution(train, test, ["a"], 0.25)
    assert not outcome.passed and "a (PSI" in outcome.summary


def test_a_tiny_test_split_of_a_wide_table_is_too_few_rows_to_judge():
    rng = np.random.default_rng(0)
    wide = pd.DataFrame(rng.normal(size=(775, 2000)), columns=[f"c{i}" for i in range(2000)])
    outcome = check_split_distribution(wide.iloc[:700], wide.iloc[700:], list(wide.columns), 0.25)
    assert outcome.passed and "too few rows to judge" in outcome.summary
    assert outcome.observed["noise_psi"] > 0.25 and outcome.observed["rows"] == {"train": 700, "test": 75}
