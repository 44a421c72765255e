"""The preprocessor's train statistics from the engine, and its transform as SQL: the
model-ready rows of a stored split, equal to core.preprocessing.model_ready's."""

from __future__ import annotations

from typing import Any

import duckdb
import numpy as np

from ml_data_platform.core.engine.sql import number, quote

MEDIAN_WINDOW = 0.01  # first guess: the median lies between these approximate quantiles


def _finite(name: str) -> str:
    return f"isfinite({quote(name)}::DOUBLE)"


def medians(db: duckdb.DuckDBPyConnection, table: str, names: list[str]) -> np.ndarray:
    """np.nanmedian of each column, exactly, without sorting the column: approximate quantiles
    around the middle bound a window, the engine counts the values below it, and only the
    window's values (about 2 % of the rows) are read and sorted."""
    result = []
    for name in names:
        result.append(_median(db, table, name))
    return np.array(result, dtype=np.float64)


def _median(db, table: str, name: str) -> float:
    column, finite = f"{quote(name)}::DOUBLE", _finite(name)
    count = int(db.execute(f"SELECT count(*) FROM {quote(table)} WHERE {finite}").fetchall()[0][0])
    if not count:
        return float("nan")
    low_rank, high_rank = (count - 1) // 2, count // 2
    width = MEDIAN_WINDOW
    while True:
        bounds = [max(0.0, 0.5 - width), min(1.0, 0.5 + width)]
        low, high = db.execute(
            f"SELECT approx_quantile({column}, {bounds}) FROM {quote(table)} WHERE {finite}"
        ).fetchall()[0][0]
        if bounds == [0.0, 1.0]:
            low, high = float("-inf"), float("inf")
        inside = f"{finite} AND {column} >= {number(low)} AND {column} <= {number(high)}"
        below = db.execute(
            f"SELECT count(*) FILTER (WHERE {column} < {number(low)}) FROM {quote(table)} WHERE {finite}"
        ).fetchall()[0][0]
        values = None
        if below <= low_rank:
            window = db.execute(f"SELECT {column} AS v FROM {quote(table)} WHERE {inside}").fetchnumpy()["v"]
            if below + len(window) > high_rank:
                values = np.sort(window)
        if values is not None:
            a, b = values[low_rank - below], values[high_rank - below]
            return float(a) if low_rank == high_rank else float(np.mean([a, b]))
        width *= 4


def moments(
    db: duckdb.DuckDBPyConnection, table: str, names: list[str]
) -> tuple[np.ndarray, np.ndarray, int]:
    """(means, population variances, rows): two passes with exactly rounded sums (fsum), so
    they agree with StandardScaler's to the last bits."""
    rows = int(db.execute(f"SELECT count(*) FROM {quote(table)}").fetchall()[0][0])
    sums = db.execute(
        "SELECT " + ", ".join(f"fsum({quote(n)}::DOUBLE)" for n in names) + f" FROM {quote(table)}"
    ).fetchall()[0]
    means = np.array(sums, dtype=np.float64) / rows
    squares = db.execute(
        "SELECT "
        + ", ".join(
            f"fsum(pow({quote(n)}::DOUBLE - {number(m)}, 2))" for n, m in zip(names, means, strict=True)
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
