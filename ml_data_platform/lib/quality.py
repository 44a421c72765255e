"""Gate checks as pure functions: each returns what it saw, so the UI and CI can show why."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from ml_data_platform.lib.contract import Contract, evaluate, invalid_rows
from ml_data_platform.lib.profile import (
    categorical_psi,
    categorical_psi_against_profile,
    category_counts,
    is_categorical,
    psi,
    psi_against_profile,
    thin,
)
from ml_data_platform.lib.splitting import allocate, min_rows_per_class

ERROR = "ERROR"
WARN = "WARN"


@dataclass(frozen=True)
class Outcome:
    passed: bool
    summary: str
    observed: dict[str, Any] = field(default_factory=dict)
    threshold: dict[str, Any] = field(default_factory=dict)
    severity: str = ERROR  # how bad a failure is: ERROR blocks, WARN is for a human to look at


def _join(problems: list[str], ok: str) -> str:
    return "; ".join(problems) if problems else ok


def check_raw(
    raw: pd.DataFrame,
    required_columns: list[str],
    expected_rows: int | None,
    min_rows: int,
    positional_index: bool = True,
) -> Outcome:
    """Raw keeps the declared columns, a unique `sample_index` (0..n-1 unless it comes from an
    id column) and enough rows."""
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
        if positional_index and not np.array_equal(index, np.arange(rows)):
            problems.append("sample_index is not 0..n-1 in order")
        if not positional_index and (np.diff(index) <= 0).any():
            problems.append("sample_index (from the id column) is not unique and ordered")
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


def check_contract(frame: pd.DataFrame, contract: Contract) -> Outcome:
    """Declared columns, dtypes and row rules; each violation names column, rule and rows."""
    violations = evaluate(frame, contract)
    return Outcome(
        passed=not violations,
        summary="; ".join(map(str, violations[:8])) + (" ..." if len(violations) > 8 else "")
        if violations
        else f"{len(frame)} rows meet the {contract.stage} contract",
        observed={
            "rows": len(frame),
            "violations": [{"column": v.column, "rule": v.rule, "rows": v.rows} for v in violations],
        },
        threshold={"violations": 0, "columns": [c.name for c in contract.columns]},
    )


def check_completeness(frame: pd.DataFrame, columns: list[str], max_null_fraction: float) -> Outcome:
    """Share of null or non-finite values per column, against the catalog's limit."""
    shares = {}
    for name in columns:
        if name not in frame:
            shares[name] = 1.0
            continue
        series = frame[name]
        if pd.api.types.is_numeric_dtype(series) and series.dtype != bool:
            bad = ~np.isfinite(series.to_numpy(dtype=np.float64, na_value=np.nan))
        else:
            bad = series.isna().to_numpy()
        shares[name] = float(bad.mean()) if len(series) else 0.0
    worst = sorted(((v, k) for k, v in shares.items() if v > max_null_fraction), reverse=True)
    return Outcome(
        passed=not worst,
        summary=", ".join(f"{k}: {v:.1%} null/non-finite" for v, k in worst[:5])
        + f" (limit {max_null_fraction:.1%})"
        if worst
        else f"every column within {max_null_fraction:.1%} nulls",
        observed={"null_share": {k: round(v, 6) for k, v in shares.items() if v}},
        threshold={"max_null_fraction": max_null_fraction},
    )


def quality_score(frame: pd.DataFrame, contract: Contract) -> tuple[float, int]:
    """DQS = valid rows / rows × 100, a row being valid when it breaks no row rule."""
    if not len(frame):
        return 0.0, 0
    bad = int(invalid_rows(frame, contract).sum())
    return 100.0 * (len(frame) - bad) / len(frame), bad


def check_quality_score(frame: pd.DataFrame, contract: Contract, threshold: float) -> Outcome:
    score, bad = quality_score(frame, contract)
    passed = score >= threshold
    return Outcome(
        passed=passed,
        summary=f"DQS {score:.2f} ({bad} of {len(frame)} rows invalid) "
        f"{'>=' if passed else 'below'} {threshold:g}",
        observed={"dqs": round(score, 4), "invalid_rows": bad, "rows": len(frame)},
        threshold={"dqs": threshold},
    )


def check_class_balance(
    frame: pd.DataFrame,
    target: str,
    expected: dict[int, float] | None,
    tolerance: float,
    ratios: Mapping[str, float],
) -> Outcome:
    """ERROR when a class cannot be stratified; WARN when a share strays from the declared one."""
    counts = frame[target].value_counts().sort_index()
    total = int(counts.sum())
    shares = {int(k): float(v) / total for k, v in counts.items()} if total else {}
    needed = min_rows_per_class(ratios)
    too_few = {int(k): int(v) for k, v in counts.items() if v < needed}
    if expected is not None:
        too_few.update({c: 0 for c in expected if c not in shares})
    observed = {
        "class_counts": {int(k): int(v) for k, v in counts.items()},
        "class_shares": {k: round(v, 4) for k, v in shares.items()},
    }
    threshold = {"expected_shares": expected, "tolerance": tolerance, "min_rows_per_class": needed}
    if too_few:
        return Outcome(
            False,
            f"class(es) with too few rows to stratify (need {needed}): {too_few}",
            observed,
            threshold,
            ERROR,
        )
    off = {
        c: round(shares.get(c, 0.0) - e, 4)
        for c, e in (expected or {}).items()
        if abs(shares.get(c, 0.0) - e) > tolerance
    }
    observed["max_share_gap"] = round(
        max((abs(shares.get(c, 0.0) - e) for c, e in (expected or {}).items()), default=0.0), 4
    )
    if off:
        return Outcome(
            False,
            f"class share(s) off the declared weights by more than {tolerance:.0%}: {off}",
            observed,
            threshold,
            WARN,
        )
    return Outcome(
        True, f"class shares {observed['class_shares']} within {tolerance:.0%}", observed, threshold, WARN
    )


def _previous_note(previous: Mapping[str, Any] | None) -> str | None:
    if not previous:
        return "first materialization: no previous profile to compare with"
    return None


def check_learned_bounds(
    frame: pd.DataFrame, features: list[str], previous: Mapping[str, Any] | None, margin: float
) -> Outcome:
    """Values outside the previous materialization's range widened by `margin` std, and
    categories it never held (WARN)."""
    note = _previous_note(previous)
    if note:
        return Outcome(True, note, severity=WARN)
    outside: dict[str, int] = {}
    bounds: dict[str, list[float]] = {}
    new_categories: dict[str, list[str]] = {}
    for name in features:
        ref = previous.get(name, {})
        if ref.get("kind") == "categorical":
            if ref["other_share"] == 0:  # the stored profile lists every category it saw
                unseen = ~frame[name].isin(list(ref["shares"])) & frame[name].notna()
                if unseen.any():
                    outside[name] = int(unseen.sum())
                    new_categories[name] = sorted(frame.loc[unseen, name].astype(str).unique())[:5]
            continue
        if "min" not in ref:
            continue
        low, high = ref["min"] - margin * ref["std"], ref["max"] + margin * ref["std"]
        bounds[name] = [round(low, 6), round(high, 6)]
        values = frame[name].to_numpy(dtype=np.float64, na_value=np.nan)
        count = int(((values < low) | (values > high)).sum())
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
    )


def _psi_outcome(scores: dict[str, float], threshold: float, failing: str, passing: str) -> Outcome:
    """WARN naming the (up to five) worst features whose PSI is above `threshold`."""
    worst = sorted(((v, k) for k, v in scores.items() if v > threshold), reverse=True)
    top = max(scores.values(), default=0.0)
    return Outcome(
        passed=not worst,
        summary=f"{failing}: " + ", ".join(f"{k} (PSI {v:.3f})" for v, k in worst[:5])
        if worst
        else f"{passing} {top:.3f} <= {threshold:g}",
        observed={"psi": scores, "max_psi": top, "worst": [k for _, k in worst[:5]]},
        threshold={"psi": threshold},
        severity=WARN,
    )


def check_drift(
    frame: pd.DataFrame, features: list[str], previous: Mapping[str, Any] | None, threshold: float
) -> Outcome:
    """Per-feature PSI against the previous materialization's stored profile (WARN)."""
    note = _previous_note(previous)
    if note:
        return Outcome(True, note, severity=WARN, threshold={"psi": threshold})
    scores = {}
    for name in features:
        if name in previous:
            if previous[name].get("kind") == "categorical":
                value = categorical_psi_against_profile(frame[name], previous[name])
            else:
                values = frame[name].to_numpy(dtype=np.float64, na_value=np.nan)
                value = psi_against_profile(values, previous[name])
            if value is not None:
                scores[name] = round(value, 4)
    return _psi_outcome(scores, threshold, "drifted", "max PSI")


def check_split_distribution(
    train: pd.DataFrame, test: pd.DataFrame, features: list[str], threshold: float
) -> Outcome:
    """Train vs test PSI per feature on train's quantile bins (categories for text features):
    wildly apart splits are a WARN."""
    scores = {}
    for name in features:
        if is_categorical(train[name]):
            if train[name].notna().any() and test[name].notna().any():
                scores[name] = round(
                    categorical_psi(category_counts(train[name]), category_counts(test[name])), 4
                )
            continue
        a = train[name].to_numpy(dtype=np.float64, na_value=np.nan)
        b = test[name].to_numpy(dtype=np.float64, na_value=np.nan)
        a, b = a[np.isfinite(a)], b[np.isfinite(b)]
        if a.size and b.size:
            bins = int(min(10, max(2, min(a.size, b.size) // 10)))  # ~10 rows per bin at least
            edges = np.quantile(thin(a), np.linspace(0, 1, bins + 1))
            if len(np.unique(edges)) >= 3:
                scores[name] = round(psi(a, b, edges), 4)
    return _psi_outcome(scores, threshold, "train/test apart on", "max train/test PSI")


def check_splits(
    splits: Mapping[str, pd.DataFrame],
    features: pd.DataFrame,
    target: str,
    ratios: Mapping[str, float],
) -> Outcome:
    """Splits are disjoint, their union is exactly `features`, and each class hits the ratios ±1 row."""
    problems = []
    ids = {name: frame["sample_index"].to_numpy() for name, frame in splits.items()}
    # Sorting beats hashing for a million integer ids (np.unique hashes in numpy 2).
    combined = np.sort(np.concatenate(list(ids.values()))) if ids else np.array([], dtype=np.int64)
    repeated = np.diff(combined) == 0
    overlaps: dict[str, int] = {}
    if repeated.any():
        names = list(ids)
        for i, a in enumerate(names):
            for b in names[i + 1 :]:
                shared = np.intersect1d(np.sort(ids[a]), np.sort(ids[b]), assume_unique=True).size
                if shared:
                    overlaps[f"{a}/{b}"] = int(shared)
        problems.append(f"sample_index in two splits: {overlaps}")
    covered = combined[np.concatenate(([True], ~repeated))] if combined.size else combined
    expected = np.sort(features["sample_index"].to_numpy())
    total_rows = int(combined.size)
    if not np.array_equal(covered, expected) or total_rows != len(features):
        missing = int(np.count_nonzero(~np.isin(expected, covered, kind="sort")))
        unknown = int(np.count_nonzero(~np.isin(covered, expected, kind="sort")))
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
