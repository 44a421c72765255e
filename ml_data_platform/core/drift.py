"""Distribution checks (WARN): drift against the published version's stored profile,
train vs test, and learned bounds.

Every column is scored by PSI over bins that hold observed counts (core/bins.py): categories
(text columns, and numeric columns with few distinct values) or quantile bins (other numeric
columns). A PSI above the threshold is reported only when it is also above what sampling noise
alone reaches at these row counts; when noise alone could pass the threshold for every column,
the check says there are too few rows to judge instead of warning.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol

import numpy as np
import pandas as pd

from ml_data_platform.core.bins import (
    by_text,
    category_bins,
    category_counts,
    counts_in,
    noise_psi,
    numeric_bins,
    psi,
    reference_counts,
)
from ml_data_platform.core.profile import is_categorical
from ml_data_platform.core.quality import WARN, Outcome

FIRST = "first materialization: no previous profile to compare with"
OLD_PROFILE = (
    "the previous profile was stored by an older version (no bin counts); compared from the next "
    "materialization on"
)


def _score(reference: np.ndarray, actual: np.ndarray, columns: int) -> tuple[float, float]:
    return psi(reference, actual), noise_psi(reference, actual, columns)


def _psi_outcome(
    scores: Mapping[str, tuple[float, float]],
    threshold: float,
    failing: str,
    passing: str,
    rows: Mapping[str, int],
) -> Outcome:
    """WARN naming the (up to five) worst columns whose PSI is above both `threshold` and the
    noise level; "too few rows to judge" when noise alone could pass the threshold everywhere."""
    flagged = sorted(((p, k) for k, (p, n) in scores.items() if p > max(threshold, n)), reverse=True)
    unjudged = [k for k, (_, n) in scores.items() if n > threshold]
    top = max((p for p, _ in scores.values()), default=0.0)
    noise = max((n for _, n in scores.values()), default=0.0)
    observed = {
        "psi": {k: round(p, 4) for k, (p, _) in scores.items()},
        "max_psi": round(top, 4),
        "worst": [k for _, k in flagged[:5]],
        "noise_psi": round(noise, 4),
        "unjudged_columns": len(unjudged),
        "rows": dict(rows),
    }
    sizes = ", ".join(f"{v} {k} rows" for k, v in rows.items())
    if flagged:
        summary = f"{failing}: " + ", ".join(f"{k} (PSI {p:.3f})" for p, k in flagged[:5])
    elif scores and len(unjudged) == len(scores):
        summary = (
            f"too few rows to judge ({sizes}): sampling noise alone reaches PSI {noise:.3f}, above "
            f"the {threshold:g} threshold; max PSI {top:.3f}"
        )
    else:
        summary = f"{passing} {top:.3f} <= {threshold:g}"
        if unjudged:
            summary += f"; {len(unjudged)} column(s) too sparse to judge"
    return Outcome(
        passed=not flagged,
        summary=summary,
        observed=observed,
        threshold={"psi": threshold},
        severity=WARN,
        metric="max_psi",
        value=round(top, 4),
        limit=threshold,
    )


class Columns(Protocol):
    """The column statistics the distribution checks need, from a frame or a stored table."""

    rows: int

    def is_text(self, name: str) -> bool: ...

    def counts_in(self, bins: Mapping[str, Mapping[str, Any]]) -> dict[str, np.ndarray]:
        """Rows of each named column per bin of its `bins` (laid out as reference_counts)."""
        ...

    def bins(self, names: Sequence[str]) -> dict[str, dict[str, list]]:
        """Each column's own bins (categories, values, or deciles with their counts)."""
        ...

    def outside(self, name: str, low: float, high: float) -> int: ...

    def unseen(self, name: str, known: list[str]) -> tuple[int, list[str]]: ...


class FrameColumns:
    """Columns of a pandas frame."""

    def __init__(self, frame: pd.DataFrame) -> None:
        self.frame, self.rows = frame, len(frame)

    def is_text(self, name: str) -> bool:
        return is_categorical(self.frame[name])

    def counts_in(self, bins: Mapping[str, Mapping[str, Any]]) -> dict[str, np.ndarray]:
        return {name: counts_in(self.frame[name], found) for name, found in bins.items()}

    def bins(self, names: Sequence[str]) -> dict[str, dict[str, list]]:
        return {name: self._bins(name) for name in names}

    def _bins(self, name: str) -> dict[str, list]:
        if self.is_text(name):
            return category_bins(category_counts(self.frame[name]))
        values = self.frame[name].to_numpy(dtype=np.float64, na_value=np.nan)
        return numeric_bins(values[np.isfinite(values)])

    def outside(self, name: str, low: float, high: float) -> int:
        values = self.frame[name].to_numpy(dtype=np.float64, na_value=np.nan)
        return int(((values < low) | (values > high)).sum())

    def unseen(self, name: str, known: list[str]) -> tuple[int, list[str]]:
        column = self.frame[name]
        mask = ~column.isin(known) & column.notna()
        return int(mask.sum()), sorted(column[mask].astype(str).unique())[:5]


def check_drift(
    frame: pd.DataFrame | Columns, features: list[str], previous: Mapping[str, Any] | None, threshold: float
) -> Outcome:
    """Per-feature PSI against the published version's stored profile (WARN)."""
    if not previous:
        return Outcome(True, FIRST, severity=WARN, threshold={"psi": threshold})
    columns = FrameColumns(frame) if isinstance(frame, pd.DataFrame) else frame
    older = 0
    compared = [n for n in features if n in previous and "count" in previous[n]]
    judged: dict[str, Mapping[str, Any]] = {}
    for name in compared:
        bins = previous[name].get("bins")
        if bins is None:
            older += previous[name]["count"] > 0  # an empty column has no bins, old or new
        elif by_text(bins) == columns.is_text(name):  # else it changed kind: the schema checks say so
            judged[name] = bins
    actual = columns.counts_in(judged)
    scores = {n: _score(reference_counts(b), actual[n], len(compared)) for n, b in judged.items()}
    rows = {
        "previous": int(max((previous[n]["count"] for n in compared), default=0)),
        "current": columns.rows,
    }
    if older and not scores:
        return Outcome(True, OLD_PROFILE, severity=WARN, threshold={"psi": threshold})
    return _psi_outcome(scores, threshold, "drifted", "max PSI", rows)


def check_split_distribution(
    train: pd.DataFrame | Columns, test: pd.DataFrame | Columns, features: list[str], threshold: float
) -> Outcome:
    """Train vs test PSI per feature on train's bins: wildly apart splits are a WARN."""
    train = FrameColumns(train) if isinstance(train, pd.DataFrame) else train
    test = FrameColumns(test) if isinstance(test, pd.DataFrame) else test
    scores = {}
    bins = train.bins(features)
    actual = test.counts_in(bins)
    for name in features:
        reference = reference_counts(bins[name])
        if reference.sum() and actual[name].sum():
            scores[name] = _score(reference, actual[name], len(features))
    rows = {"train": train.rows, "test": test.rows}
    return _psi_outcome(scores, threshold, "train/test apart on", "max train/test PSI", rows)


def check_learned_bounds(
    frame: pd.DataFrame | Columns, features: list[str], previous: Mapping[str, Any] | None, margin: float
) -> Outcome:
    """Values outside the published version's range widened by `margin` std, and
    categories it never held (WARN)."""
    if not previous:
        return Outcome(True, FIRST, severity=WARN)
    columns = FrameColumns(frame) if isinstance(frame, pd.DataFrame) else frame
    outside: dict[str, int] = {}
    bounds: dict[str, list[float]] = {}
    new_categories: dict[str, list[str]] = {}
    for name in features:
        ref = previous.get(name, {})
        if ref.get("kind") == "categorical":
            if ref["other_share"] == 0:  # the stored profile lists every category it saw
                count, first = columns.unseen(name, list(ref["shares"]))
                if count:
                    outside[name] = count
                    new_categories[name] = first
            continue
        if "min" not in ref:
            continue
        low, high = ref["min"] - margin * ref["std"], ref["max"] + margin * ref["std"]
        bounds[name] = [round(low, 6), round(high, 6)]
        count = columns.outside(name, low, high)
        if count:
            outside[name] = count
    return Outcome(
        passed=not outside,
        summary=f"values outside learned bounds: {outside}"
        + (f"; new categories: {new_categories}" if new_categories else "")
        if outside
        else "every value within the learned bounds",
        observed={"rows_outside": outside, "new_categories": new_categories},
        threshold={"bounds": bounds, "margin_std": margin},
        severity=WARN,
        metric="rows_outside",
        value=sum(outside.values()),
        limit=0,
    )
