"""The in-database split check's statistics equal core.quality.split_stats on the same
stored tables: sound splits (the fingerprint path) and every way they can be broken (the
exact path the fingerprint mismatch leads to)."""

import duckdb
import numpy as np
import pandas as pd
import pytest

from ml_data_platform.core.quality import split_stats as frame_split_stats
from ml_data_platform.core.splitting import hash_split
from ml_data_platform.dataset.in_database.splits import fingerprint, split_stats

pytestmark = pytest.mark.fast  # an in-memory DuckDB, no Dagster run
RATIOS = {"train": 0.7, "val": 0.15, "test": 0.15}


def features(ids) -> pd.DataFrame:
    ids = np.asarray(ids, dtype=np.int64)
    return pd.DataFrame({"sample_index": ids, "x": ids * 0.5, "target": ids % 3})


def sound() -> tuple[pd.DataFrame, dict[str, pd.DataFrame]]:
    table = features(np.arange(0, 3000, 3))
    return table, hash_split(table, RATIOS, seed=7)


def broken_overlap(table, splits):
    return {**splits, "val": pd.concat([splits["val"], splits["train"].head(4)])}


def broken_missing(table, splits):
    return {**splits, "test": splits["test"].iloc[5:]}


def broken_unknown(table, splits):
    return {**splits, "train": pd.concat([splits["train"], features([1, 2])])}


def broken_swap(table, splits):
    """Same sizes as sound splits, one feature row swapped for an unknown one."""
    return {**splits, "train": pd.concat([splits["train"].iloc[1:], features([1])])}


def repeated_id(table, splits):
    """A feature id stored twice lands twice in one split: sound, as in memory."""
    twice = pd.concat([table, table.head(1)]).sort_values("sample_index", kind="stable")
    return hash_split(twice, RATIOS, seed=7), twice


def stored(frames: dict[str, pd.DataFrame]) -> duckdb.DuckDBPyConnection:
    db = duckdb.connect()
    for name, frame in frames.items():
        db.register("incoming", frame)
        db.execute(f'CREATE TABLE "{name}" AS SELECT * FROM incoming')
        db.unregister("incoming")
    return db


@pytest.mark.parametrize(
    "break_them", [None, broken_overlap, broken_missing, broken_unknown, broken_swap, repeated_id]
)
def test_split_stats_equal_the_frames(break_them):
    table, splits = sound()
    if break_them is repeated_id:
        splits, table = repeated_id(table, splits)
    elif break_them is not None:
        splits = break_them(table, splits)
    db = stored({"features": table, **splits})
    expected = frame_split_stats(splits, table, "target")
    assert split_stats(db, {name: name for name in splits}, "features", "target") == expected
    sound_now = break_them in (None, repeated_id)
    assert ((expected.overlaps, expected.missing, expected.unknown) == ({}, 0, 0)) is sound_now


def test_fingerprint_tells_multisets_apart():
    db = stored({"a": features([1, 2, 3]), "b": features([3, 2, 1]), "c": features([0, 2, 4])})
    assert fingerprint(db, "a") == fingerprint(db, "b")
    assert fingerprint(db, "a") != fingerprint(db, "c")  # same count and id sum
    empty = stored({"e": features([])})
    assert fingerprint(empty, "e") == (0, 0, 0, 0)
