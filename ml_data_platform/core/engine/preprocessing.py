"""The preprocessor's train statistics from the engine, and its transform as SQL: the
model-ready rows of a stored split, equal to core.preprocessing.model_ready's."""

from __future__ import annotations

from typing import Any

import duckdb
import numpy as np

from ml_data_platform.core.bins import QUANTILE_SAMPLE
from ml_data_platform.core.engine.bins import finite, thinned
from ml_data_platform.core.engine.sql import number, quote

WINDOW = 0.005  # the window: the sample's quantiles 0.5 ± this (about 3 standard errors)


def medians(db: duckdb.DuckDBPyConnection, table: str, names: list[str]) -> np.ndarray:
    """np.nanmedian of each column, exactly, without sorting a column: a thinned sample
    bounds a window around the middle, the engine counts the values below and inside it
    (all columns in one scan), and only the window's values (about 1 % of the rows) are
    read, column by column, and sorted; a window that misses the middle is widened."""
    counts = dict(zip(names, _finite_counts(db, table, names), strict=True))
    samples = thinned(db, table, counts, QUANTILE_SAMPLE)
    result = {n: float("nan") for n in names if not counts[n]}
    width = WINDOW
    while len(result) < len(names):
        pending = [n for n in names if n not in result]
        bounds = {n: _window(samples[n], width) for n in pending}
        terms = []
        for name, (low, high) in bounds.items():
            column, keep = f"{quote(name)}::DOUBLE", finite(name)
            terms += [
                f"count_if({keep} AND {column} < {number(low)})",
                f"count_if({keep} AND {column} BETWEEN {number(low)} AND {number(high)})",
            ]
        found = db.execute(f"SELECT {', '.join(terms)} FROM {quote(table)}").fetchall()[0]
        for i, name in enumerate(pending):
            below, inside = int(found[2 * i]), int(found[2 * i + 1])
            low_rank, high_rank = (counts[name] - 1) // 2, counts[name] // 2
            if below <= low_rank and below + inside > high_rank:
                result[name] = _middle(db, table, name, bounds[name], low_rank - below, high_rank - below)
        width *= 4
    return np.array([result[n] for n in names], dtype=np.float64)


def _middle(db, table: str, name: str, bounds: tuple[float, float], low: int, high: int) -> float:
    """The median from the window's values (ranks `low`, `high` within it), as np.median."""
    column = f"{quote(name)}::DOUBLE"
    where = f"{finite(name)} AND {column} BETWEEN {number(bounds[0])} AND {number(bounds[1])}"
    window = np.sort(db.execute(f"SELECT {column} AS v FROM {quote(table)} WHERE {where}").fetchnumpy()["v"])
    a, b = window[low], window[high]
    return float(a) if low == high else float(np.mean([a, b]))


def _window(sample: np.ndarray, width: float) -> tuple[float, float]:
    if width >= 0.5:
        return -np.inf, np.inf
    low, high = np.quantile(sample, [0.5 - width, 0.5 + width])
    return float(low), float(high)


def _finite_counts(db, table: str, names: list[str]) -> list[int]:
    terms = ", ".join(f"count_if({finite(n)})" for n in names)
    return [int(c) for c in db.execute(f"SELECT {terms} FROM {quote(table)}").fetchall()[0]]


def moments(
    db: duckdb.DuckDBPyConnection, table: str, names: list[str]
) -> tuple[np.ndarray, np.ndarray, int]:
    """(means, population variances, rows): two passes with exactly rounded sums (fsum), so
    they agree with StandardScaler's to about 1e-15."""
    rows = int(db.execute(f"SELECT count(*) FROM {quote(table)}").fetchall()[0][0])
    sums = db.execute(
        "SELECT " + ", ".join(f"fsum({quote(n)}::DOUBLE)" for n in names) + f" FROM {quote(table)}"
    ).fetchall()[0]
    means = np.array(sums, dtype=np.float64) / rows
    squares = db.execute(
        "SELECT "
        + ", ".join(
            f"fsum(({quote(n)}::DOUBLE - {number(m)}) * ({quote(n)}::DOUBLE - {number(m)}))"
            for n, m in zip(names, means, strict=True)
        )
        + f" FROM {quote(table)}"
    ).fetchall()[0]
    return means, np.array(squares, dtype=np.float64) / rows, rows


def model_ready_select(artifact: dict[str, Any], table: str, target: str) -> str:
    """sample_index, each numeric feature imputed then scaled ((x - mean) / scale, as
    StandardScaler.transform computes it), and the target."""
    if artifact["categorical"] is not None:
        raise ValueError("model-ready SQL covers numeric features only")
    steps = artifact["numeric"].named_steps
    medians, scaler = steps["impute"].statistics_, steps["scale"]
    parts = []
    for i, name in enumerate(artifact["numeric_columns"]):
        value = f"CASE WHEN isnan({quote(name)}) THEN {number(medians[i])} ELSE {quote(name)} END"
        scaled = f"({value} - {number(scaler.mean_[i])}) / {number(scaler.scale_[i])}"
        parts.append(f"{scaled} AS {quote(artifact['output_names'][i])}")
    return f"SELECT sample_index, {', '.join(parts)}, {quote(target)} FROM {quote(table)}"
