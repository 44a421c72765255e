"""Per-feature profiles, kept as materialization metadata so drift needs no old data."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

BINS = 10
QUANTILE_SAMPLE = 200_000


def thin(values: np.ndarray, limit: int = QUANTILE_SAMPLE) -> np.ndarray:
    """Every k-th value, at most `limit`: decile edges need no more, and it stays deterministic."""
    step = -(-values.size // limit)
    return values[::step] if step > 1 else values


def profile(frame: pd.DataFrame, columns: Sequence[str]) -> dict[str, dict[str, Any]]:
    """count, mean, std, min, max, null share and decile edges of each column."""
    result: dict[str, dict[str, Any]] = {}
    for name in columns:
        if not pd.api.types.is_numeric_dtype(frame[name]) or frame[name].dtype == bool:
            continue  # text labels: nothing to bin
        values = frame[name].to_numpy(dtype=np.float64, na_value=np.nan)
        finite = values[np.isfinite(values)]
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
    """Bin shares with add-half smoothing, so an empty bin does not make PSI explode."""
    inner = np.asarray(edges[1:-1], dtype=np.float64)
    counts = np.bincount(np.searchsorted(inner, values, side="right"), minlength=len(edges) - 1)
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


def profile_markdown(stats: Mapping[str, Mapping[str, Any]]) -> str:
    rows = ["| feature | count | mean | std | min | max | null share |", "|---|---|---|---|---|---|---|"]
    for name, s in stats.items():
        cells = [f"{s.get(k, float('nan')):.4g}" for k in ("mean", "std", "min", "max")]
        rows.append(f"| {name} | {s['count']} | {' | '.join(cells)} | {s['null_share']:.2%} |")
    return "\n".join(rows)
