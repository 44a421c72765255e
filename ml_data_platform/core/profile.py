"""Per-feature profiles, kept as materialization metadata so drift needs no old data."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from ml_data_platform.core.bins import (
    TOP_CATEGORIES,
    category_bins,
    category_counts,
    decile_edges,
    numeric_bins,
)


def is_categorical(series: pd.Series) -> bool:
    """Text columns (categorical features, raw text labels) are profiled by category shares."""
    return pd.api.types.is_object_dtype(series) or pd.api.types.is_string_dtype(series)


def _categorical_profile(series: pd.Series) -> dict[str, Any]:
    counts = category_counts(series)
    present = int(counts.sum())
    top = counts.iloc[:TOP_CATEGORIES]
    return {
        "kind": "categorical",
        "count": present,
        "null_share": float(1 - present / len(series)) if len(series) else 0.0,
        "distinct": int(counts.size),
        "shares": {k: float(v) / present for k, v in top.items()} if present else {},
        "other_share": float(counts.iloc[TOP_CATEGORIES:].sum()) / present if present else 0.0,
        "bins": category_bins(counts),
    }


def _numeric_profile(series: pd.Series) -> dict[str, Any]:
    values = series.to_numpy(dtype=np.float64, na_value=np.nan)
    mask = np.isfinite(values)
    finite = values if mask.all() else values[mask]
    entry: dict[str, Any] = {
        "count": int(finite.size),
        "null_share": float(1 - finite.size / values.size) if values.size else 0.0,
    }
    if finite.size:
        edges = decile_edges(finite)
        entry.update(
            mean=float(finite.mean()),
            std=float(finite.std()),
            min=float(finite.min()),
            max=float(finite.max()),
            edges=edges,
            bins=numeric_bins(finite, edges),
        )
    return entry


def profile(frame: pd.DataFrame, columns: Sequence[str]) -> dict[str, dict[str, Any]]:
    """count, mean, std, min, max, null share, decile edges and drift bins of each numeric
    column; count, null share, the shares of the most frequent categories and drift bins of
    each text column (see core/bins.py for the bins)."""
    result: dict[str, dict[str, Any]] = {}
    for name in columns:
        series = frame[name]
        if is_categorical(series):
            result[name] = _categorical_profile(series)
        elif pd.api.types.is_numeric_dtype(series) and series.dtype != bool:
            result[name] = _numeric_profile(series)
    return result


def profile_markdown(stats: Mapping[str, Mapping[str, Any]]) -> str:
    rows = ["| feature | count | mean | std | min | max | null share |", "|---|---|---|---|---|---|---|"]
    for name, s in stats.items():
        if s.get("kind") == "categorical":
            top = ", ".join(f"{k} {v:.0%}".replace("|", "\\|") for k, v in list(s["shares"].items())[:3])
            rows.append(
                f"| {name} | {s['count']} | {s['distinct']} categories: {top} | | | | {s['null_share']:.2%} |"
            )
            continue
        cells = [f"{s.get(k, float('nan')):.4g}" for k in ("mean", "std", "min", "max")]
        rows.append(f"| {name} | {s['count']} | {' | '.join(cells)} | {s['null_share']:.2%} |")
    return "\n".join(rows)
