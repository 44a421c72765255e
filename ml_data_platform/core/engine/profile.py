"""core/profile.py over a stored table: the same profile entries (count, null share, mean,
std, min, max, decile edges, drift bins; category shares for text), computed by the engine
in a few scans for all columns; and the column statistics the distribution checks need."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import duckdb
import numpy as np

from ml_data_platform.core.bins import QUANTILE_SAMPLE, TOP_CATEGORIES
from ml_data_platform.core.engine import bins as engine_bins
from ml_data_platform.core.engine.bins import finite
from ml_data_platform.core.engine.sql import column_types, is_numeric, number, quote, text


def _finite_counts(db, table: str, names: Sequence[str]) -> tuple[int, list[int]]:
    """(rows, finite values per column): one scan, which the engine answers from its stored
    statistics for the columns that hold only finite values."""
    counted = ", ".join(f"count_if({finite(n)})" for n in names)
    rows, *counts = db.execute(
        f"SELECT count(*){', ' + counted if names else ''} FROM {quote(table)}"
    ).fetchall()[0]
    return int(rows), [int(c) for c in counts]


def _moments(db, table: str, names: Sequence[str]) -> tuple[int, dict[str, tuple]]:
    """(rows, per column: finite count, mean, std, min, max) in two scans; the filter to
    finite values only on the columns that hold others (it costs more than the sums)."""
    rows, counts = _finite_counts(db, table, names)
    if not names:
        return rows, {}
    terms = []
    for name, count in zip(names, counts, strict=True):
        column = f"{quote(name)}::DOUBLE"
        where = "" if count == rows else f" FILTER (WHERE {finite(name)})"
        terms += [
            f"fsum({column}){where} / {max(count, 1)}",
            f"stddev_pop({column}){where}",
            f"min({column}){where}",
            f"max({column}){where}",
        ]
    found = db.execute(f"SELECT {', '.join(terms)} FROM {quote(table)}").fetchall()[0]
    return int(rows), {n: (counts[i], *found[4 * i : 4 * i + 4]) for i, n in enumerate(names)}


def numeric_profiles(
    db: duckdb.DuckDBPyConnection, table: str, names: Sequence[str]
) -> dict[str, dict[str, Any]]:
    rows, stats = _moments(db, table, names)
    deciles, binned = _bins(db, table, {n: int(stats[n][0]) for n in names})
    result = {}
    for name in names:
        count, mean, std, low, high = stats[name]
        entry: dict[str, Any] = {"count": int(count), "null_share": float(1 - count / rows) if rows else 0.0}
        if count:
            entry.update(
                mean=float(mean),
                std=float(std),
                min=float(low),
                max=float(high),
                edges=deciles[name],
                bins=binned[name],
            )
        result[name] = entry
    return result


def _bins(db, table: str, counts: Mapping[str, int]) -> tuple[dict[str, list], dict[str, dict[str, list]]]:
    """(decile edges, drift bins) of each column's finite values (`counts`: how many)."""
    deciles = engine_bins.deciles(engine_bins.thinned(db, table, counts, QUANTILE_SAMPLE))
    return deciles, engine_bins.numeric_bins(db, table, {n: c for n, c in counts.items() if c}, deciles)


def numeric_bins(
    db: duckdb.DuckDBPyConnection, table: str, names: Sequence[str]
) -> dict[str, dict[str, list]]:
    """numeric_profiles' bins alone (the distribution checks' need): no sums, no min or max."""
    _, counts = _finite_counts(db, table, names)
    _, binned = _bins(db, table, dict(zip(names, counts, strict=True)))
    return {n: binned.get(n, {"edges": [], "counts": [0]}) for n in names}


def categorical_profile(db: duckdb.DuckDBPyConnection, table: str, name: str) -> dict[str, Any]:
    rows = int(db.execute(f"SELECT count(*) FROM {quote(table)}").fetchall()[0][0])
    counts = engine_bins.category_counts(db, table, name)
    present = sum(c for _, c in counts)
    top, rest = counts[:TOP_CATEGORIES], counts[TOP_CATEGORIES:]
    return {
        "kind": "categorical",
        "count": present,
        "null_share": float(1 - present / rows) if rows else 0.0,
        "distinct": len(counts),
        "shares": {k: float(c) / present for k, c in top} if present else {},
        "other_share": float(sum(c for _, c in rest)) / present if present else 0.0,
        "bins": {
            "values": [k for k, _ in top],
            "counts": [c for _, c in top],
            "other": sum(c for _, c in rest),
        },
    }


def _numeric(engine_type: str) -> bool:
    return engine_type.upper() != "BOOLEAN" and is_numeric(engine_type)


def profile(db: duckdb.DuckDBPyConnection, table: str, columns: Sequence[str]) -> dict[str, dict[str, Any]]:
    """core.profile.profile of the stored table's `columns`."""
    types = column_types(db, table)
    numeric = numeric_profiles(db, table, [n for n in columns if _numeric(types.get(n, ""))])
    result = {}
    for name in columns:
        if types.get(name, "").upper() == "VARCHAR":
            result[name] = categorical_profile(db, table, name)
        elif name in numeric:
            result[name] = numeric[name]
    return result


def bad_shares(db: duckdb.DuckDBPyConnection, table: str, columns: Sequence[str]) -> dict[str, float]:
    """Share of null or non-finite values per column (1.0 for a column the table lacks)."""
    types = column_types(db, table)
    present = [n for n in columns if n in types]
    terms = [
        f"avg((NOT {finite(n)})::DOUBLE)" if _numeric(types[n]) else f"avg(({quote(n)} IS NULL)::DOUBLE)"
        for n in present
    ]
    values = db.execute(f"SELECT {', '.join(terms)} FROM {quote(table)}").fetchall()[0] if terms else ()
    shares = {n: float(v or 0.0) for n, v in zip(present, values, strict=True)}
    return {n: shares.get(n, 1.0) for n in columns}


def class_counts(db: duckdb.DuckDBPyConnection, table: str, target: str) -> dict[int, int]:
    rows = db.execute(
        f"SELECT {quote(target)}, count(*) FROM {quote(table)} "
        f"WHERE {quote(target)} IS NOT NULL GROUP BY 1 ORDER BY 1"
    ).fetchall()
    return {int(k): int(v) for k, v in rows}


class TableColumns:
    """core.drift.Columns of a stored table (the distribution checks' statistics)."""

    def __init__(self, db: duckdb.DuckDBPyConnection, table: str) -> None:
        self.db, self.table = db, table
        self.types = column_types(db, table)
        self.rows = int(db.execute(f"SELECT count(*) FROM {quote(table)}").fetchall()[0][0])

    def is_text(self, name: str) -> bool:
        return self.types[name].upper() == "VARCHAR"

    def counts_in(self, bins: Mapping[str, Mapping[str, Any]]) -> dict[str, np.ndarray]:
        return engine_bins.counts_in(self.db, self.table, bins)

    def bins(self, names: Sequence[str]) -> dict[str, dict[str, list]]:
        found = {n: categorical_profile(self.db, self.table, n)["bins"] for n in names if self.is_text(n)}
        found |= numeric_bins(self.db, self.table, [n for n in names if not self.is_text(n)])
        return {n: found[n] for n in names}

    def outside(self, name: str, low: float, high: float) -> int:
        column = f"{quote(name)}::DOUBLE"
        where = f"NOT isnan({column}) AND ({column} < {number(low)} OR {column} > {number(high)})"
        sql = f"SELECT count(*) FROM {quote(self.table)} WHERE {where}"
        return int(self.db.execute(sql).fetchall()[0][0])

    def unseen(self, name: str, known: list[str]) -> tuple[int, list[str]]:
        listed = ", ".join(text(k) for k in known) or "NULL"
        where = f"{quote(name)} IS NOT NULL AND {quote(name)}::VARCHAR NOT IN ({listed})"
        count = self.db.execute(f"SELECT count(*) FROM {quote(self.table)} WHERE {where}").fetchall()[0][0]
        first = self.db.execute(
            f"SELECT DISTINCT {quote(name)}::VARCHAR AS v FROM {quote(self.table)} WHERE {where} "
            "ORDER BY v LIMIT 5"
        ).fetchall()
        return int(count), [r[0] for r in first]
