"""core/profile.py and core/bins.py over a stored table: the same profile entries and bin
counts, computed by the engine column by column. Decile edges and the discrete test read the
same thinned values the pandas path reads (every k-th finite value, at most 100,000), so the
edges are numpy's own; every count is the engine's."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import duckdb
import numpy as np

from ml_data_platform.core.bins import BINS, DISCRETE_LIMIT, QUANTILE_SAMPLE, TOP_CATEGORIES
from ml_data_platform.core.engine.sql import number, quote, text
from ml_data_platform.core.engine.validation import is_numeric


def _finite(name: str) -> str:
    return f"coalesce(isfinite({quote(name)}::DOUBLE), false)"


def thinned(db: duckdb.DuckDBPyConnection, table: str, name: str, count: int, limit: int) -> np.ndarray:
    """core.bins.thin of the column's `count` finite values (in table order), from the engine:
    by row position when every value is finite (no sort), else numbered after the filter."""
    step = max(1, -(-count // limit))
    column, where = f"{quote(name)}::DOUBLE", _finite(name)
    rows = int(db.execute(f"SELECT count(*) FROM {quote(table)}").fetchall()[0][0])
    if rows == count:
        sql = f"SELECT {column} AS v FROM {quote(table)} WHERE rowid % {step} = 0 ORDER BY rowid"
    else:
        numbered = f"SELECT {column} AS v, row_number() OVER (ORDER BY rowid) - 1 AS i FROM {quote(table)}"
        sql = f"SELECT v FROM ({numbered} WHERE {where}) WHERE i % {step} = 0 ORDER BY i"
    return db.execute(sql).fetchnumpy()["v"].astype(np.float64)


def histogram(db: duckdb.DuckDBPyConnection, table: str, name: str, inner: Sequence[float]) -> np.ndarray:
    """Finite values per bin (-inf, e1), [e1, e2), …, [ek, inf): np.histogram's counts."""
    position = " + ".join(f"({quote(name)}::DOUBLE >= {number(e)})::INTEGER" for e in inner) or "0"
    rows = db.execute(
        f"SELECT {position} AS b, count(*) FROM {quote(table)} WHERE {_finite(name)} GROUP BY 1"
    ).fetchall()
    counts = np.zeros(len(inner) + 1, dtype=np.int64)
    for bin_index, count in rows:
        counts[bin_index] = count
    return counts


def value_counts(db, table: str, name: str, limit: int | None = None) -> list[tuple[float, int]]:
    """(value, rows) of the finite values, by value (at most `limit` values)."""
    cap = f" LIMIT {limit}" if limit is not None else ""
    return db.execute(
        f"SELECT {quote(name)}::DOUBLE, count(*) FROM {quote(table)} WHERE {_finite(name)} "
        f"GROUP BY 1 ORDER BY 1{cap}"
    ).fetchall()


def numeric_bins(db, table: str, name: str, count: int, edges: Sequence[float]) -> dict[str, list]:
    if count and np.unique(thinned(db, table, name, count, 4096)).size <= DISCRETE_LIMIT:
        found = value_counts(db, table, name, DISCRETE_LIMIT + 1)
        if len(found) <= DISCRETE_LIMIT:
            return {"values": [v for v, _ in found], "counts": [int(c) for _, c in found]}
    inner = np.unique(np.asarray(edges[1:-1], dtype=np.float64)).tolist()
    return {"edges": inner, "counts": histogram(db, table, name, inner).tolist()}


def numeric_profile(db: duckdb.DuckDBPyConnection, table: str, name: str) -> dict[str, Any]:
    column = f"{quote(name)}::DOUBLE"
    rows, count, mean, std, low, high = db.execute(
        f"SELECT count(*), count(*) FILTER (WHERE {_finite(name)}), "
        f"fsum({column}) FILTER (WHERE {_finite(name)}) / count(*) FILTER (WHERE {_finite(name)}), "
        f"stddev_pop({column}) FILTER (WHERE {_finite(name)}), min({column}) FILTER (WHERE {_finite(name)}), "
        f"max({column}) FILTER (WHERE {_finite(name)}) FROM {quote(table)}"
    ).fetchall()[0]
    entry: dict[str, Any] = {"count": int(count), "null_share": float(1 - count / rows) if rows else 0.0}
    if count:
        sample = thinned(db, table, name, count, QUANTILE_SAMPLE)
        edges = np.quantile(sample, np.linspace(0, 1, BINS + 1)).tolist()
        entry.update(
            mean=float(mean),
            std=float(std),
            min=float(low),
            max=float(high),
            edges=edges,
            bins=numeric_bins(db, table, name, count, edges),
        )
    return entry


def category_counts(db, table: str, name: str) -> list[tuple[str, int]]:
    """Rows per category, most frequent first, ties by name (bins.category_counts)."""
    return db.execute(
        f"SELECT {quote(name)}::VARCHAR AS k, count(*) AS c FROM {quote(table)} "
        f"WHERE {quote(name)} IS NOT NULL GROUP BY 1 ORDER BY c DESC, k"
    ).fetchall()


def categorical_profile(db: duckdb.DuckDBPyConnection, table: str, name: str) -> dict[str, Any]:
    rows = int(db.execute(f"SELECT count(*) FROM {quote(table)}").fetchall()[0][0])
    counts = category_counts(db, table, name)
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


def column_types(db: duckdb.DuckDBPyConnection, table: str) -> dict[str, str]:
    return {r[0]: r[1] for r in db.execute(f"DESCRIBE {quote(table)}").fetchall()}


def profile(db: duckdb.DuckDBPyConnection, table: str, columns: Sequence[str]) -> dict[str, dict[str, Any]]:
    """core.profile.profile of the stored table's `columns`."""
    types = column_types(db, table)
    result = {}
    for name in columns:
        kind = types.get(name, "").upper()
        if kind == "VARCHAR":
            result[name] = categorical_profile(db, table, name)
        elif kind and kind != "BOOLEAN" and is_numeric(kind):
            result[name] = numeric_profile(db, table, name)
    return result


def counts_in(db, table: str, name: str, bins: Mapping[str, Any]) -> np.ndarray:
    """core.bins.counts_in for a stored column."""
    if "edges" in bins:
        return histogram(db, table, name, bins["edges"]).astype(np.float64)
    if "other" in bins:  # categories by name
        counts = dict(category_counts(db, table, name))
        inside = np.array([counts.get(str(v), 0) for v in bins["values"]], dtype=np.float64)
        return np.append(inside, float(sum(counts.values())) - inside.sum())
    found = dict(value_counts(db, table, name))
    inside = np.array([found.get(float(v), 0) for v in bins["values"]], dtype=np.float64)
    return np.append(inside, float(sum(found.values())) - inside.sum())


def bad_shares(db: duckdb.DuckDBPyConnection, table: str, columns: Sequence[str]) -> dict[str, float]:
    """Share of null or non-finite values per column (1.0 for a column the table lacks)."""
    types = column_types(db, table)
    present = [n for n in columns if n in types]
    terms = [
        f"avg((NOT {_finite(n)})::DOUBLE)"
        if is_numeric(types[n]) and types[n].upper() != "BOOLEAN"
        else f"avg(({quote(n)} IS NULL)::DOUBLE)"
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

    def counts_in(self, name: str, bins: Mapping[str, Any]) -> np.ndarray:
        return counts_in(self.db, self.table, name, bins)

    def bins(self, name: str) -> dict[str, list]:
        if self.is_text(name):
            entry = categorical_profile(self.db, self.table, name)
            return entry["bins"]
        count = self.db.execute(
            f"SELECT count(*) FILTER (WHERE {_finite(name)}) FROM {quote(self.table)}"
        ).fetchall()[0][0]
        if not count:
            return {"edges": [], "counts": [0]}
        sample = thinned(self.db, self.table, name, count, QUANTILE_SAMPLE)
        edges = np.quantile(sample, np.linspace(0, 1, BINS + 1)).tolist()
        return numeric_bins(self.db, self.table, name, count, edges)

    def outside(self, name: str, low: float, high: float) -> int:
        column = f"{quote(name)}::DOUBLE"
        where = f"NOT isnan({column}) AND ({column} < {number(low)} OR {column} > {number(high)})"
        return int(self.db.execute(f"SELECT count(*) FROM {quote(self.table)} WHERE {where}").fetchall()[0][0])

    def unseen(self, name: str, known: list[str]) -> tuple[int, list[str]]:
        listed = ", ".join(text(k) for k in known) or "NULL"
        where = f"{quote(name)} IS NOT NULL AND {quote(name)}::VARCHAR NOT IN ({listed})"
        count = self.db.execute(f"SELECT count(*) FROM {quote(self.table)} WHERE {where}").fetchall()[0][0]
        first = self.db.execute(
            f"SELECT DISTINCT {quote(name)}::VARCHAR AS v FROM {quote(self.table)} WHERE {where} "
            "ORDER BY v LIMIT 5"
        ).fetchall()
        return int(count), [r[0] for r in first]
