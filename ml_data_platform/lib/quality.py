"""Gate checks as pure functions: each returns what it saw, so the UI and CI can show why."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from ml_data_platform.lib.splitting import allocate


@dataclass(frozen=True)
class Outcome:
    passed: bool
    summary: str
    observed: dict[str, Any] = field(default_factory=dict)
    threshold: dict[str, Any] = field(default_factory=dict)


def _join(problems: list[str], ok: str) -> str:
    return "; ".join(problems) if problems else ok


def check_raw(
    raw: pd.DataFrame,
    required_columns: list[str],
    expected_rows: int | None,
    min_rows: int,
) -> Outcome:
    """Raw keeps the declared columns, a unique 0..n-1 `sample_index` and enough rows."""
    problems = []
    missing = [c for c in ["sample_index", *required_columns, "ingested_at"] if c not in raw]
    if missing:
        problems.append(f"missing column(s) {missing}")
    rows = len(raw)
    if expected_rows is not None and rows != expected_rows:
        problems.append(f"{rows} rows, expected exactly {expected_rows}")
    if rows < min_rows:
        problems.append(f"{rows} rows, fewer than min_rows={min_rows}")
    if "sample_index" in raw:
        index = raw["sample_index"].to_numpy()
        if not np.array_equal(index, np.arange(rows)):
            problems.append("sample_index is not 0..n-1 in order")
    return Outcome(
        passed=not problems,
        summary=_join(problems, f"{rows} rows with the declared columns"),
        observed={"rows": rows, "columns": list(map(str, raw.columns))},
        threshold={
            "expected_rows": expected_rows,
            "min_rows": min_rows,
            "required_columns": required_columns,
        },
    )


def check_features(
    features: pd.DataFrame, feature_names: list[str], target: str, classes: list[int] | None
) -> Outcome:
    """No nulls or non-finite values, float64 features, int64 target within the declared classes."""
    problems = []
    missing = [c for c in [*feature_names, target] if c not in features]
    if missing:
        return Outcome(False, f"missing column(s) {missing}", {"columns": list(features.columns)})
    wrong_types = {c: str(features[c].dtype) for c in feature_names if features[c].dtype != np.float64}
    if features[target].dtype != np.int64:
        wrong_types[target] = str(features[target].dtype)
    if wrong_types:
        problems.append(f"wrong dtype(s) {wrong_types} (features float64, target int64)")
    values = features[feature_names].to_numpy(dtype=np.float64, na_value=np.nan)
    bad_per_column = (~np.isfinite(values)).sum(axis=0)
    non_finite = {c: int(n) for c, n in zip(feature_names, bad_per_column, strict=True) if n}
    target_nulls = int(features[target].isna().sum())
    if target_nulls:
        non_finite[target] = target_nulls
    if non_finite:
        problems.append(f"null/non-finite values per column {non_finite}")
    observed_classes = sorted(int(v) for v in pd.unique(features[target].dropna()))
    unexpected: list[int] = []
    if classes is not None:
        unexpected = [c for c in observed_classes if c not in classes]
        if unexpected:
            counts = features[target].value_counts()
            problems.append(
                f"target class(es) {unexpected} not declared (rows: "
                f"{ {c: int(counts[c]) for c in unexpected} }); declared {classes}"
            )
    if len(observed_classes) < 2:
        problems.append(f"only {len(observed_classes)} target class present; need at least 2")
    return Outcome(
        passed=not problems,
        summary=_join(problems, f"{len(features)} rows, all finite, classes {observed_classes}"),
        observed={"rows": len(features), "non_finite": non_finite, "classes": observed_classes},
        threshold={"non_finite": 0, "classes": classes},
    )


def check_splits(
    splits: Mapping[str, pd.DataFrame],
    features: pd.DataFrame,
    target: str,
    ratios: Mapping[str, float],
) -> Outcome:
    """Splits are disjoint, their union is exactly `features`, and each class hits the ratios ±1 row."""
    problems = []
    ids = {name: frame["sample_index"].to_numpy() for name, frame in splits.items()}
    names = list(ids)
    overlaps = {
        f"{a}/{b}": int(np.intersect1d(ids[a], ids[b]).size)
        for i, a in enumerate(names)
        for b in names[i + 1 :]
    }
    overlaps = {pair: n for pair, n in overlaps.items() if n}
    if overlaps:
        problems.append(f"sample_index in two splits: {overlaps}")
    covered = np.unique(np.concatenate(list(ids.values()))) if ids else np.array([], dtype=np.int64)
    expected = np.unique(features["sample_index"].to_numpy())
    total_rows = sum(len(f) for f in splits.values())
    missing = np.setdiff1d(expected, covered).size
    unknown = np.setdiff1d(covered, expected).size
    if missing or unknown or total_rows != len(features):
        problems.append(
            f"union of splits != features: {missing} missing, {unknown} unknown, "
            f"{total_rows} split rows vs {len(features)}"
        )
    class_counts = features[target].value_counts()
    worst = 0.0
    off: list[str] = []
    for cls, count in sorted(class_counts.items()):
        ideal = {name: count * ratio for name, ratio in ratios.items()}
        for name, frame in splits.items():
            got = int((frame[target] == cls).sum())
            gap = abs(got - ideal[name])
            worst = max(worst, gap)
            if gap > 1:
                off.append(f"class {cls} in {name}: {got} rows vs {ideal[name]:.1f} expected")
    if off:
        problems.append("ratios off by more than one row per class: " + ", ".join(off[:5]))
    sizes = {name: len(frame) for name, frame in splits.items()}
    return Outcome(
        passed=not problems,
        summary=_join(problems, f"disjoint, cover all {len(features)} rows, sizes {sizes}"),
        observed={
            "sizes": sizes,
            "max_rows_off_per_class": round(worst, 3),
            "overlapping_rows": sum(overlaps.values()),
        },
        threshold={
            "ratios": dict(ratios),
            "max_rows_off_per_class": 1,
            "expected_sizes": allocate(len(features), ratios),
        },
    )
