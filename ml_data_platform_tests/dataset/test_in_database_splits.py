"""The in-database split checks' statistics equal the exact ones on the same stored tables:
coverage against core.quality.split_stats, and rows moved against the published splits
against the plain join, on sound splits (the fingerprint path) and on every way they can be
broken or changed (the exact path a fingerprint mismatch leads to)."""

import duckdb
import numpy as np
import pandas as pd
import pytest

from ml_data_platform.core.quality import split_stats as frame_split_stats
from ml_data_platform.core.splitting import hash_split
from ml_data_platform.dataset.in_database.splits import fingerprint, moves, split_stats

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


def _union(tables) -> str:
    return " UNION ALL ".join(f"SELECT sample_index, '{n}' AS s FROM \"{v}\"" for n, v in tables.items())


def joined_moves(db, published, current) -> dict[str, int]:
    """The plain join the fingerprints stand in for."""
    found = db.execute(
        f"SELECT p.s || '->' || c.s, count(*) FROM ({_union(published)}) p JOIN ({_union(current)}) c "
        "USING (sample_index) WHERE p.s <> c.s GROUP BY 1"
    ).fetchall()
    return dict(found)


@pytest.mark.parametrize("change", ["none", "new rows", "moved", "reseeded"])
def test_moves_against_published_splits_equal_the_join(change):
    table, splits = sound()
    if change == "new rows":  # later rows join, none moves: the fingerprints differ, the join finds nothing
        now = hash_split(features(np.arange(0, 3600, 3)), RATIOS, seed=7)
    elif change == "moved":
        now = {
            **splits,
            "train": splits["train"].iloc[3:],
            "val": pd.concat([splits["val"], splits["train"].head(3)]),
        }
    elif change == "reseeded":
        now = hash_split(table, RATIOS, seed=8)
    else:
        now = splits
    db = stored({**{f"p_{n}": f for n, f in splits.items()}, **{f"c_{n}": f for n, f in now.items()}})
    published, current = ({n: f"{side}_{n}" for n in splits} for side in ("p", "c"))
    moved, kept = moves(db, published, current)
    assert moved == joined_moves(db, published, current)
    assert kept == len(table)
    assert bool(moved) is (change in ("moved", "reseeded"))
