"""Gate checks as pure functions: each returns what it saw, so the UI and CI can show why."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from ml_data_platform.core.contract import Contract, Violation, evaluate, invalid_rows
from ml_data_platform.core.splitting import allocate, hash_tolerance, min_rows_per_class

ERROR = "ERROR"
WARN = "WARN"


@dataclass(frozen=True)
class Outcome:
    passed: bool
    summary: str
    observed: dict[str, Any] = field(default_factory=dict)
    threshold: dict[str, Any] = field(default_factory=dict)
    severity: str = ERROR  # how bad a failure is: ERROR blocks, WARN is for a human to look at
    metric: str | None = None  # the main observed number, e.g. "max_psi": plotted per run in the UI
    value: float | None = None
    limit: float | None = None  # the threshold it is held to, plotted beside it


def _join(problems: list[str], ok: str) -> str:
    return "; ".join(problems) if problems else ok


def check_raw(
    raw: pd.DataFrame,
    required_columns: list[str],
    expected_rows: int | None,
    min_rows: int,
    positional_index: bool = True,
    max_rows: int | None = None,
) -> Outcome:
    """Raw keeps the declared columns, a unique `sample_index` (0..n-1 unless it comes from an
    id column) and a row count within [min_rows, max_rows]."""
    index_ok = None
    if "sample_index" in raw:
        index = raw["sample_index"].to_numpy()
        if positional_index:
            index_ok = np.array_equal(index, np.arange(len(raw)))
        else:
            index_ok = not (np.diff(index) <= 0).any()
    shape = RawShape(list(map(str, raw.columns)), len(raw), index_ok)
    return raw_outcome(shape, required_columns, expected_rows, min_rows, positional_index, max_rows)


@dataclass(frozen=True)
class RawShape:
    columns: list[str]
    rows: int
    index_ok: bool | None  # sample_index 0..n-1 (positional) or strictly increasing; None: absent


def raw_outcome(
    raw: RawShape,
    required_columns: list[str],
    expected_rows: int | None,
    min_rows: int,
    positional_index: bool = True,
    max_rows: int | None = None,
) -> Outcome:
    problems = []
    missing = [c for c in ["sample_index", *required_columns, "ingested_at"] if c not in raw.columns]
    if missing:
        problems.append(f"missing column(s) {missing}")
    rows = raw.rows
    if expected_rows is not None and rows != expected_rows:
        problems.append(f"{rows} rows, expected exactly {expected_rows}")
    if rows < min_rows:
        problems.append(f"{rows} rows, fewer than min_rows={min_rows}")
    if max_rows is not None and rows > max_rows:
        problems.append(f"{rows} rows, more than max_rows={max_rows}")
    if raw.index_ok is False:
        problems.append(
            "sample_index is not 0..n-1 in order"
            if positional_index
            else "sample_index (from the id column) is not unique and ordered"
        )
    return Outcome(
        passed=not problems,
        summary=_join(problems, f"{rows} rows with the declared columns"),
        observed={"rows": rows, "columns": raw.columns},
        threshold={
            "expected_rows": expected_rows,
            "min_rows": min_rows,
            "max_rows": max_rows,
            "required_columns": required_columns,
        },
        metric="rows",
        value=rows,
        limit=expected_rows if expected_rows is not None else min_rows,
    )


def shape_and_contract(shape: Outcome, contract: Outcome) -> Outcome:
    """raw's schema check: its shape (rows, columns, sample_index) and its contract as one
    outcome, the shape's problems first."""
    return Outcome(
        passed=contract.passed and shape.passed,
        summary=shape.summary if not shape.passed else contract.summary,
        observed={**shape.observed, **contract.observed},
        threshold={**shape.threshold, **contract.threshold},
        metric=shape.metric,
        value=shape.value,
        limit=shape.limit,
    )


def check_contract(frame: pd.DataFrame, contract: Contract) -> Outcome:
    """Declared columns, dtypes and row rules; each violation names column, rule and rows."""
    return contract_outcome(len(frame), evaluate(frame, contract), contract)


def contract_outcome(rows: int, violations: list[Violation], contract: Contract) -> Outcome:
    return Outcome(
        passed=not violations,
        summary="; ".join(map(str, violations[:8])) + (" ..." if len(violations) > 8 else "")
        if violations
        else f"{rows} rows meet the {contract.stage} contract",
        observed={
            "rows": rows,
            "violations": [{"column": v.column, "rule": v.rule, "rows": v.rows} for v in violations],
        },
        threshold={"violations": 0, "columns": [c.name for c in contract.columns]},
        metric="violations",
        value=len(violations),
        limit=0,
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
    return completeness_outcome(shares, max_null_fraction)


def completeness_outcome(shares: Mapping[str, float], max_null_fraction: float) -> Outcome:
    """From each column's share of null or non-finite values."""
    worst = sorted(((v, k) for k, v in shares.items() if v > max_null_fraction), reverse=True)
    return Outcome(
        passed=not worst,
        summary=", ".join(f"{k}: {v:.1%} null/non-finite" for v, k in worst[:5])
        + f" (limit {max_null_fraction:.1%})"
        if worst
        else f"every column within {max_null_fraction:.1%} nulls",
        observed={"null_share": {k: round(v, 6) for k, v in shares.items() if v}},
        threshold={"max_null_fraction": max_null_fraction},
        metric="max_null_share",
        value=round(max(shares.values(), default=0.0), 6),
        limit=max_null_fraction,
    )


def quality_score(frame: pd.DataFrame, contract: Contract) -> tuple[float, int]:
    """DQS = valid rows / rows × 100, a row being valid when it breaks no row rule."""
    if not len(frame):
        return 0.0, 0
    bad = int(invalid_rows(frame, contract).sum())
    return 100.0 * (len(frame) - bad) / len(frame), bad


def check_quality_score(frame: pd.DataFrame, contract: Contract, threshold: float) -> Outcome:
    _, bad = quality_score(frame, contract)
    return quality_score_outcome(len(frame), bad, threshold)


def quality_score_outcome(rows: int, bad: int, threshold: float) -> Outcome:
    """From the rows and the rows breaking a row rule (DQS = valid / rows × 100)."""
    score = 100.0 * (rows - bad) / rows if rows else 0.0
    passed = score >= threshold
    return Outcome(
        passed=passed,
        summary=f"DQS {score:.2f} ({bad} of {rows} rows invalid) {'>=' if passed else 'below'} {threshold:g}",
        observed={"dqs": round(score, 4), "invalid_rows": bad, "rows": rows},
        threshold={"dqs": threshold},
        metric="dqs",
        value=round(score, 4),
        limit=threshold,
    )


def check_class_balance(
    frame: pd.DataFrame,
    target: str,
    expected: dict[int, float] | None,
    tolerance: float,
    ratios: Mapping[str, float] | None,
    previous: dict[int, float] | None = None,
) -> Outcome:
    """ERROR when a class cannot be stratified (exact splits pass `ratios`; a hash split
    needs no minimum); WARN when a share strays from the declared one, or (nothing declared)
    from the published version's; with neither, it says so."""
    counts = frame[target].value_counts().sort_index()
    found = {int(k): int(v) for k, v in counts.items()}
    return class_balance_outcome(found, expected, tolerance, ratios, previous)


def class_balance_outcome(
    counts: Mapping[int, int],
    expected: dict[int, float] | None,
    tolerance: float,
    ratios: Mapping[str, float] | None,
    previous: dict[int, float] | None = None,
) -> Outcome:
    """From the rows per class code."""
    counts = pd.Series(dict(counts), dtype=np.int64).sort_index()
    total = int(counts.sum())
    shares = {int(k): float(v) / total for k, v in counts.items()} if total else {}
    needed = min_rows_per_class(ratios) if ratios else 1
    too_few = {int(k): int(v) for k, v in counts.items() if v < needed}
    if expected is not None and ratios:
        too_few.update({c: 0 for c in expected if c not in shares})
    basis = "declared weights" if expected is not None else "published version's shares"
    reference = expected if expected is not None else previous
    observed: dict[str, Any] = {
        "class_counts": {int(k): int(v) for k, v in counts.items()},
        "class_shares": {k: round(v, 4) for k, v in shares.items()},
    }
    threshold = {
        "expected_shares": reference,
        "expected_from": basis if reference is not None else None,
        "tolerance": tolerance,
        "min_rows_per_class": needed,
    }
    if too_few:
        return Outcome(
            False,
            f"class(es) with too few rows to stratify (need {needed}): {too_few}",
            observed,
            threshold,
            metric="smallest_class_rows",
            value=min(too_few.values()),
            limit=needed,
        )
    if reference is None:
        return Outcome(
            True,
            f"no expected class shares: the catalog declares no classes or class_weights and there is no "
            f"published version; shares {observed['class_shares']} are recorded for the next run",
            observed,
            threshold,
            WARN,
        )
    gaps = {c: shares.get(c, 0.0) - reference.get(c, 0.0) for c in {*reference, *shares}}
    gap = observed["max_share_gap"] = round(max((abs(g) for g in gaps.values()), default=0.0), 4)
    off = {c: round(g, 4) for c, g in sorted(gaps.items()) if abs(g) > tolerance}
    summary = (
        f"class share(s) off the {basis} by more than {tolerance:.0%}: {off}"
        if off
        else f"class shares {observed['class_shares']} within {tolerance:.0%} of the {basis}"
    )
    return Outcome(not off, summary, observed, threshold, WARN, "max_share_gap", gap, tolerance)


@dataclass(frozen=True)
class SplitStats:
    """What the split check judges: sizes, overlaps, coverage, and rows per class."""

    sizes: dict[str, int]
    overlaps: dict[str, int]  # "a/b" -> ids in both
    missing: int  # feature rows in no split
    unknown: int  # split rows that are not feature rows
    feature_rows: int
    class_counts: dict[int, int]  # of the features
    split_class_counts: dict[str, dict[int, int]]


def split_stats(splits: Mapping[str, pd.DataFrame], features: pd.DataFrame, target: str) -> SplitStats:
    ids = {name: frame["sample_index"].to_numpy() for name, frame in splits.items()}
    # Sorting beats hashing for a million integer ids (np.unique hashes in numpy 2).
    combined = np.sort(np.concatenate(list(ids.values()))) if ids else np.array([], dtype=np.int64)
    repeated = np.diff(combined) == 0
    overlaps: dict[str, int] = {}
    if repeated.any():
        names = list(ids)
        for i, a in enumerate(names):
            for b in names[i + 1 :]:
                shared = np.intersect1d(ids[a], ids[b]).size  # ids, not rows: one may repeat
                if shared:
                    overlaps[f"{a}/{b}"] = int(shared)
    covered = combined[np.concatenate(([True], ~repeated))] if combined.size else combined
    expected = np.sort(features["sample_index"].to_numpy())
    missing = unknown = 0
    if not np.array_equal(covered, expected) or combined.size != len(features):
        missing = int(np.count_nonzero(~np.isin(expected, covered, kind="sort")))
        unknown = int(np.count_nonzero(~np.isin(covered, expected, kind="sort")))
    per_split = {}
    for name, frame in splits.items():
        counts = frame[target].value_counts()
        per_split[name] = {int(k): int(v) for k, v in counts.items()}
    return SplitStats(
        sizes={name: len(frame) for name, frame in splits.items()},
        overlaps=overlaps,
        missing=missing,
        unknown=unknown,
        feature_rows=len(features),
        class_counts={int(k): int(v) for k, v in features[target].value_counts().items()},
        split_class_counts=per_split,
    )


def check_splits(
    splits: Mapping[str, pd.DataFrame],
    features: pd.DataFrame,
    target: str,
    ratios: Mapping[str, float],
    hashed: bool = False,
) -> Outcome:
    """Splits are disjoint, their union is exactly `features`, and each class hits the
    ratios: to one row (exact splits), or within `hash_tolerance` (hash splits)."""
    return splits_outcome(split_stats(splits, features, target), ratios, hashed)


def splits_outcome(stats: SplitStats, ratios: Mapping[str, float], hashed: bool = False) -> Outcome:
    problems = []
    if stats.overlaps:
        problems.append(f"sample_index in two splits: {stats.overlaps}")
    total_rows = sum(stats.sizes.values())
    if stats.missing or stats.unknown or total_rows != stats.feature_rows:
        problems.append(
            f"union of splits != features: {stats.missing} missing, {stats.unknown} unknown, "
            f"{total_rows} split rows vs {stats.feature_rows}"
        )
    worst, worst_allowed = 0.0, 1.0
    off: list[str] = []
    for cls, count in sorted(stats.class_counts.items()):
        for name in stats.sizes:
            ideal, got = count * ratios[name], stats.split_class_counts[name].get(cls, 0)
            allowed = hash_tolerance(int(count), ratios[name]) if hashed else 1.0
            if abs(got - ideal) / allowed >= worst / worst_allowed:
                worst, worst_allowed = abs(got - ideal), allowed
            if abs(got - ideal) > allowed:
                off.append(f"class {cls} in {name}: {got} rows vs {ideal:.1f} expected (±{allowed:.1f})")
    if off:
        problems.append("class shares off the ratios: " + ", ".join(off[:5]))
    return Outcome(
        passed=not problems,
        summary=_join(problems, f"disjoint, cover all {stats.feature_rows} rows, sizes {stats.sizes}"),
        observed={
            "sizes": stats.sizes,
            "max_rows_off_per_class": round(worst, 3),
            "overlapping_rows": sum(stats.overlaps.values()),
        },
        threshold={
            "ratios": dict(ratios),
            "max_rows_off_per_class": round(worst_allowed, 3),
            "expected_sizes": allocate(stats.feature_rows, ratios),
            "method": "hash: within max(1, 5 binomial std) rows" if hashed else "exact: within one row",
        },
        metric="max_rows_off_per_class",
        value=round(worst, 3),
        limit=round(worst_allowed, 3),
    )


def _listed(names: list[str], limit: int) -> str:
    shown = ", ".join(names[:limit])
    return shown + (f", … {len(names) - limit} more" if len(names) > limit else "")


def check_schema_change(
    previous: Mapping[str, str] | None, current: Mapping[str, str], limit: int = 5
) -> Outcome:
    """Columns added, removed or retyped since the published version (WARN), summarized
    by counts and the first few names: a 2,000-column change stays one readable line."""
    if previous is None:
        return Outcome(True, "first materialization: no previous column schema", severity=WARN)
    added = [c for c in current if c not in previous]
    removed = [c for c in previous if c not in current]
    retyped = [
        f"{c}: {previous[c]} -> {current[c]}" for c in current if c in previous and previous[c] != current[c]
    ]
    parts = [
        f"{len(names)} {what} ({_listed(names, limit)})"
        for names, what in ((added, "added"), (removed, "removed"), (retyped, "changed type"))
        if names
    ]
    return Outcome(
        passed=not parts,
        summary="column schema changed: " + "; ".join(parts) if parts else f"same {len(current)} columns",
        observed={
            "added": len(added),
            "removed": len(removed),
            "changed_type": len(retyped),
            "first_changes": {"added": added[:50], "removed": removed[:50], "changed_type": retyped[:50]},
        },
        threshold={"changes": 0},
        severity=WARN,
        metric="schema_changes",
        value=len(added) + len(removed) + len(retyped),
        limit=0,
    )
