import numpy as np
import pandas as pd
import pytest

from ml_data_platform.core.splitting import SplitError, allocate, allocate_per_class, stratified_split

pytestmark = pytest.mark.fast  # pure functions and files: no Dagster run, no subprocess

RATIOS = {"train": 0.7, "val": 0.15, "test": 0.15}


def table(labels) -> pd.DataFrame:
    labels = np.asarray(labels, dtype=np.int64)
    return pd.DataFrame(
        {"sample_index": np.arange(len(labels)), "x": np.arange(len(labels)) * 0.5, "target": labels}
    )


@pytest.mark.parametrize("count", [7, 10, 101, 999, 1000])
def test_allocate_sums_and_stays_within_one_row(count):
    sizes = allocate(count, RATIOS)
    assert sum(sizes.values()) == count
    assert all(abs(sizes[n] - count * r) < 1 for n, r in RATIOS.items())


@pytest.mark.parametrize("counts", [[501, 499], [200, 200, 200, 200, 200], [7, 7, 7], [601, 301, 95]])
def test_per_class_sizes_hit_class_ratios_and_global_sizes(counts):
    class_counts = dict(enumerate(counts))
    sizes = allocate_per_class(class_counts, RATIOS)
    for cls, count in class_counts.items():
        assert sum(sizes[cls].values()) == count
        assert all(abs(sizes[cls][n] - count * r) <= 1 for n, r in RATIOS.items())
    totals = {n: sum(sizes[c][n] for c in class_counts) for n in RATIOS}
    assert totals == allocate(sum(counts), RATIOS)


def test_splits_are_disjoint_complete_and_stratified():
    rng = np.random.default_rng(0)
    data = table(rng.choice([0, 1, 2], size=997, p=[0.6, 0.3, 0.1]))
    parts = stratified_split(data, "target", RATIOS, seed=3)
    ids = [set(p["sample_index"]) for p in parts.values()]
    assert not (ids[0] & ids[1] or ids[0] & ids[2] or ids[1] & ids[2])
    assert set().union(*ids) == set(data["sample_index"])
    for cls, count in data["target"].value_counts().items():
        for name, part in parts.items():
            assert abs((part["target"] == cls).sum() - count * RATIOS[name]) <= 1
    for part in parts.values():
        assert part["sample_index"].is_monotonic_increasing


def test_same_seed_same_split_other_seed_other_split():
    data = table([0, 1] * 200)
    first = stratified_split(data, "target", RATIOS, seed=1)
    again = stratified_split(data, "target", RATIOS, seed=1)
    other = stratified_split(data, "target", RATIOS, seed=2)
    for name in RATIOS:
        pd.testing.assert_frame_equal(first[name], again[name])
    assert not first["test"]["sample_index"].equals(other["test"]["sample_index"])


def test_rows_keep_their_values():
    data = table([0, 1] * 50)
    for part in stratified_split(data, "target", RATIOS, seed=5).values():
        assert (part["x"] == part["sample_index"] * 0.5).all()


def test_class_too_small_to_stratify_is_named():
    data = table([0] * 50 + [1] * 3)
    with pytest.raises(SplitError, match=r"\{1: 3\}.*>= 7 rows"):
        stratified_split(data, "target", RATIOS, seed=0)
