"""core/bins.py over a stored table, a few scans for all columns at once: the thinned values
the decile edges come from (the same values the pandas path reads, so the edges are numpy's
own), and the rows per bin (np.histogram's and counts_in's counts, by the engine)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import duckdb
import numpy as np

from ml_data_platform.core.bins import BINS, DISCRETE_LIMIT
from ml_data_platform.core.engine.sql import number, quote


def finite(name: str) -> str:
    """True on finite values. Written as a range (NaN sorts above every number in DuckDB), so
    on a column whose stored statistics show only finite values the engine skips it."""
    return f"coalesce({quote(name)}::DOUBLE BETWEEN {-LARGEST!r} AND {LARGEST!r}, false)"


LARGEST = float(np.finfo(np.float64).max)


def thinned(
    db: duckdb.DuckDBPyConnection, table: str, counts: Mapping[str, int], limit: int
) -> dict[str, np.ndarray]:
    """core.bins.thin of each column's finite values (`counts`: how many), in table order:
    by row position for the columns whose every value is finite (one scan for all of them),
    else numbered after the column's own filter."""
    rows = int(db.execute(f"SELECT count(*) FROM {quote(table)}").fetchall()[0][0])
    whole = [n for n, c in counts.items() if c == rows and c]
    result: dict[str, np.ndarray] = {}
    if whole:
        step = max(1, -(-rows // limit))
        cast = ", ".join(f"{quote(n)}::DOUBLE AS {quote(n)}" for n in whole)
        found = db.execute(
            f"SELECT {cast} FROM {quote(table)} WHERE rowid % {step} = 0 ORDER BY rowid"
        ).fetchnumpy()
        result |= {n: np.asarray(found[n], dtype=np.float64) for n in whole}
    for name in (n for n, c in counts.items() if c and n not in result):
        step = max(1, -(-counts[name] // limit))
        numbered = (
            f"SELECT {quote(name)}::DOUBLE AS v, row_number() OVER (ORDER BY rowid) - 1 AS i "
            f"FROM {quote(table)} WHERE {finite(name)}"
        )
        found = db.execute(f"SELECT v FROM ({numbered}) WHERE i % {step} = 0 ORDER BY i").fetchnumpy()
        result[name] = np.asarray(found["v"], dtype=np.float64)
    return result


def histograms(
    db: duckdb.DuckDBPyConnection, table: str, edges: Mapping[str, Sequence[float]], whole: Sequence[str] = ()
) -> dict[str, np.ndarray]:
    """Finite values per bin (-inf, e1), [e1, e2), …, [ek, inf) of each column (`edges`: its
    inner edges), np.histogram's counts, in one scan: the engine counts the values at or
    above each edge, and neighbouring counts differ by a bin's. `whole`: columns known to
    hold only finite values (their counts need no filter)."""
    if not edges:
        return {}
    terms = []
    for name, inner in edges.items():
        keep = "" if name in whole else f"{finite(name)} AND "
        terms.append(f"count_if({finite(name)})")
        terms += [f"count_if({keep}{quote(name)}::DOUBLE >= {number(e)})" for e in inner]
    found = db.execute(f"SELECT {', '.join(terms)} FROM {quote(table)}").fetchall()[0]
    result, start = {}, 0
    for name, inner in edges.items():
        at_or_above = np.array(found[start : start + len(inner) + 1], dtype=np.int64)  # total first
        result[name] = at_or_above - np.append(at_or_above[1:], 0)
        start += len(inner) + 1
    return result


def value_counts(db, table: str, name: str, limit: int | None = None) -> list[tuple[float, int]]:
    """(value, rows) of the finite values, by value (at most `limit` values)."""
    cap = f" LIMIT {limit}" if limit is not None else ""
    return db.execute(
        f"SELECT {quote(name)}::DOUBLE, count(*) FROM {quote(table)} WHERE {finite(name)} "
        f"GROUP BY 1 ORDER BY 1{cap}"
    ).fetchall()


def category_counts(db, table: str, name: str) -> list[tuple[str, int]]:
    """Rows per category, most frequent first, ties by name (bins.category_counts)."""
    return db.execute(
        f"SELECT {quote(name)}::VARCHAR AS k, count(*) AS c FROM {quote(table)} "
        f"WHERE {quote(name)} IS NOT NULL GROUP BY 1 ORDER BY c DESC, k"
    ).fetchall()


def numeric_bins(
    db: duckdb.DuckDBPyConnection,
    table: str,
    counts: Mapping[str, int],
    deciles: Mapping[str, Sequence[float]],
) -> dict[str, dict[str, list]]:
    """core.bins.numeric_bins of each column: by value when it has few distinct values, else
    by its decile edges (`deciles`: the 11 quantiles)."""
    rows = int(db.execute(f"SELECT count(*) FROM {quote(table)}").fetchall()[0][0])
    small = thinned(db, table, counts, 4096)
    result: dict[str, dict[str, list]] = {}
    for name in counts:
        if counts[name] and np.unique(small[name]).size <= DISCRETE_LIMIT:
            found = value_counts(db, table, name, DISCRETE_LIMIT + 1)
            if len(found) <= DISCRETE_LIMIT:
                result[name] = {"values": [v for v, _ in found], "counts": [int(c) for _, c in found]}
    inner = {
        n: np.unique(np.asarray(deciles[n][1:-1], dtype=np.float64)).tolist()
        for n in counts
        if n not in result
    }
    whole = [n for n, c in counts.items() if c == rows]
    for name, found in histograms(db, table, inner, whole).items():
        result[name] = {"edges": inner[name], "counts": found.tolist()}
    return result


def deciles(samples: Mapping[str, np.ndarray]) -> dict[str, list[float]]:
    return {n: np.quantile(s, np.linspace(0, 1, BINS + 1)).tolist() for n, s in samples.items() if s.size}


def counts_in(db, table: str, bins: Mapping[str, Mapping[str, Any]]) -> dict[str, np.ndarray]:
    """core.bins.counts_in of each column for its bins (one scan for the quantile bins)."""
    edges = {n: b["edges"] for n, b in bins.items() if "edges" in b}
    result = {n: c.astype(np.float64) for n, c in histograms(db, table, edges).items()}
    for name, found in bins.items():
        if "edges" in found:
            continue
        if "other" in found:  # categories by name
            seen = dict(category_counts(db, table, name))
            inside = np.array([seen.get(str(v), 0) for v in found["values"]], dtype=np.float64)
            result[name] = np.append(inside, float(sum(seen.values())) - inside.sum())
        else:
            seen = dict(value_counts(db, table, name))
            inside = np.array([seen.get(float(v), 0) for v in found["values"]], dtype=np.float64)
            result[name] = np.append(inside, float(sum(seen.values())) - inside.sum())
    return result
