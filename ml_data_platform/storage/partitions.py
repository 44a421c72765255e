"""Partitioned tables: one table per asset holds every partition's rows, each tagged with
its `partition_key`. A run stages the rows of the partitions it wrote as a table of its own;
publishing deletes exactly those partitions from the published table and inserts the staged
rows, in one transaction, so readers see a partition's old rows or its new ones. Keys are
always bound as parameters, never spliced into SQL."""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from ml_data_platform.core.rules import PARTITION_COLUMN
from ml_data_platform.storage import versions as v


class PartitionError(ValueError):
    """A partitioned output that cannot be stored as its partitions (bad keys, new schema)."""


def check_partition_rows(asset: str, frame: pd.DataFrame, keys: Sequence[str]) -> None:
    """Every row names one of the partitions being written: a row of another partition would
    silently replace that partition's rows."""
    if PARTITION_COLUMN not in frame.columns:
        raise PartitionError(
            f"asset {asset} is partitioned but its rows have no {PARTITION_COLUMN!r} column saying "
            "which partition each belongs to"
        )
    outside = sorted(set(frame[PARTITION_COLUMN].unique()) - set(keys))
    if outside:
        raise PartitionError(
            f"asset {asset}: rows of partition(s) {outside[:5]} in a run of partition(s) {list(keys)[:5]}"
        )


def schema_change(
    asset: str,
    published: Sequence[tuple[str, str]],
    written: Sequence[tuple[str, str]],
    other_partitions: Sequence[str],
) -> str | None:
    """Why the written partitions cannot join the published table (None: they can). Columns
    must match by name, order and type while other partitions stay published."""
    if not published or list(published) == list(written) or not other_partitions:
        return None
    old, new = dict(published), dict(written)
    added = [c for c in new if c not in old]
    removed = [c for c in old if c not in new]
    retyped = [f"{c} {old[c]}->{new[c]}" for c in new if c in old and old[c] != new[c]]
    changes = (
        "; ".join(
            f"{label} {names[:5]}"
            for label, names in (("added", added), ("removed", removed), ("retyped", retyped))
            if names
        )
        or "column order changed"
    )
    return (
        f"asset {asset}: these partitions' columns differ from the published table's ({changes}), "
        f"which still holds {len(other_partitions)} other partition(s) (e.g. {list(other_partitions)[:3]}). "
        "The published partitions are kept. Make the new data match, or change the schema for "
        "every partition at once: materialize all of them in one run (dg launch --assets ... "
        "--partition-range FIRST...LAST, or ml-data-platform run)"
    )


def merge_statements(version: v.Version, columns: Sequence[str], quote) -> list[v.Statement]:
    """Replace the version's partitions in the published table with its rows, and forget it."""
    keys = list(version.partitions or ())
    names = ", ".join(quote(c) for c in columns)
    marks = ", ".join("?" * len(keys))
    return [
        (f"DELETE FROM {quote(version.base)} WHERE {quote(PARTITION_COLUMN)} IN ({marks})", tuple(keys)),
        (f"INSERT INTO {quote(version.base)} ({names}) SELECT {names} FROM {quote(version.name)}", ()),
        (f"DROP TABLE {quote(version.name)}", ()),
        (f"DELETE FROM {v.LOG} WHERE name = ?", (version.name,)),
    ]


def key_filter(keys: Sequence[str], quote) -> tuple[str, tuple[str, ...]]:
    """A WHERE clause selecting partitions, keys bound as parameters."""
    if not keys:
        return "1 = 0", ()
    marks = ", ".join("?" * len(keys))
    return f"{quote(PARTITION_COLUMN)} IN ({marks})", tuple(keys)


def partition_index_statements(table: str, quote) -> list[v.Statement]:
    """An index on partition_key, for engines that would otherwise scan the whole table to
    replace one partition and to list the stored partitions on every write."""
    index = quote(f"{table}__by_partition")
    return [(f"CREATE INDEX IF NOT EXISTS {index} ON {quote(table)} ({quote(PARTITION_COLUMN)})", ())]
