"""Per-feature profiles, kept as materialization metadata so drift needs no old data."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

BINS = 10
QUANTILE_SAMPLE = 100_000  # decile edges to ~0.1 % of a share; more rows only cost time
TOP_CATEGORIES = 50  # categories kept by name in a profile; the rest are summed as "other"


def is_categorical(series: pd.Series) -> bool:
    """Text columns (categorical features, raw text labels) are profiled by category shares."""
    return pd.api.types.is_object_dtype(series) or pd.api.types.is_string_dtype(series)


def category_counts(series: pd.Series) -> pd.Series:
    """Rows per category, most frequent first (ties by name, so profiles are deterministic)."""
    counts = series.value_counts(dropna=True)
    order = sorted(zip(-counts.to_numpy(), counts.index.astype(str), strict=True))
    return pd.Series([-c for c, _ in order], index=[k for _, k in order], dtype=np.int64)


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
    }


def thin(values: np.ndarray, limit: int = QUANTILE_SAMPLE) -> np.ndarray:
    """Every k-th value, at most `limit`: decile edges need no more, and it stays deterministic."""
    step = -(-values.size // limit)
    return values[::step] if step > 1 else values


def profile(frame: pd.DataFrame, columns: Sequence[str]) -> dict[str, dict[str, Any]]:
    """count, mean, std, min, max, null share and decile edges of each numeric column; count,
    null share and the shares of the most frequent categories of each text column."""
    result: dict[str, dict[str, Any]] = {}
    for name in columns:
        if is_categorical(frame[name]):
            result[name] = _categorical_profile(frame[name])
            continue
        if not pd.api.types.is_numeric_dtype(frame[name]) or frame[name].dtype == bool:
            continue
        values = frame[name].to_numpy(dtype=np.float64, na_value=np.nan)
        mask = np.isfinite(values)
        finite = values if mask.all() else values[mask]
        entry: dict[str, Any] = {
            "count": int(finite.size),
            "null_share": float(1 - finite.size / values.size) if values.size else 0.0,
        }
        if finite.size:
            entry.update(
                mean=float(finite.mean()),
                std=float(finite.std()),
                min=float(finite.min()),
                max=float(finite.max()),
                edges=np.quantile(thin(finite), np.linspace(0, 1, BINS + 1)).tolist(),
            )
        result[name] = entry
    return result


def _shares(values: np.ndarray, edges: Sequence[float]) -> np.ndarray:
    """Bin shares with add-half smoothing, so an empty bin does not make PSI explode.

    Bins are open to the right, the outer ones unbounded; np.histogram counts them ~4x
    faster than searchsorted + bincount."""
    bounds = np.concatenate(([-np.inf], np.asarray(edges[1:-1], dtype=np.float64), [np.inf]))
    counts = np.histogram(values, bins=bounds)[0]
    return (counts + 0.5) / (values.size + 0.5 * counts.size)


def psi(expected: np.ndarray, actual: np.ndarray, edges: Sequence[float]) -> float:
    """Population stability index of `actual` against `expected`, on `expected`'s bins."""
    e = _shares(expected, edges)
    a = _shares(actual, edges)
    return float(np.sum((a - e) * np.log(a / e)))


def psi_against_profile(values: np.ndarray, reference: Mapping[str, Any]) -> float | None:
    """PSI of `values` against a stored profile, whose decile bins hold a tenth each."""
    edges = reference.get("edges")
    if not edges or len(set(edges)) < 3:
        return None  # a (near-)constant column has no meaningful bins
    finite = values[np.isfinite(values)]
    a = _shares(finite, edges)
    e = np.full(len(edges) - 1, 1 / (len(edges) - 1))
    return float(np.sum((a - e) * np.log(a / e)))


def _smoothed(counts: np.ndarray) -> np.ndarray:
    return (counts + 0.5) / (counts.sum() + 0.5 * counts.size)


def categorical_psi(expected: pd.Series, actual: pd.Series) -> float:
    """PSI between two category-count series (index = category), over the union of categories."""
    categories = expected.index.union(actual.index)
    e = expected.reindex(categories, fill_value=0).to_numpy(dtype=np.float64)
    a = actual.reindex(categories, fill_value=0).to_numpy(dtype=np.float64)
    e, a = _smoothed(e), _smoothed(a)
    return float(np.sum((a - e) * np.log(a / e)))


def categorical_psi_against_profile(series: pd.Series, reference: Mapping[str, Any]) -> float | None:
    """PSI of a text column against a stored categorical profile; categories the profile only
    knows as "other" are pooled on both sides."""
    if not reference.get("count"):
        return None
    known = list(reference["shares"])
    expected = pd.Series(
        [reference["shares"][k] * reference["count"] for k in known]
        + [reference["other_share"] * reference["count"]],
        index=[*known, "\0other"],
    )
    counts = category_counts(series)
    inside = counts.index.isin(known)
    actual = pd.concat([counts[inside], pd.Series([counts[~inside].sum()], index=["\0other"])])
    return categorical_psi(expected, actual)


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
