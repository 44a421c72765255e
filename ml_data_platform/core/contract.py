"""Declarative table contracts: one rule set per stage, evaluated the same on any backend.

Why not pandera: these contracts are derived from the catalog at run time, must report
(column, rule, rows) for the UI and CI table, and feed the data quality score row by row;
a few typed rules do that directly, without another dependency's error model to translate.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ml_data_platform.core.rules import PARTITION_COLUMN, TableRules


@dataclass(frozen=True)
class Column:
    name: str
    # "float64", "int64", "datetime64[ns, UTC]", "numeric" (any number type), "text" (strings),
    # or "label" (numbers or strings, as raw class labels and categories arrive)
    dtype: str
    nullable: bool = True
    finite: bool = False
    unique: bool = False
    isin: tuple[int | str, ...] | None = None
    bounds: tuple[float, float] | None = None


@dataclass(frozen=True)
class Contract:
    stage: str
    columns: tuple[Column, ...]
    exact_columns: bool  # no other columns, and in this order


@dataclass(frozen=True)
class Violation:
    column: str
    rule: str
    rows: int

    def __str__(self) -> str:
        return f"{self.column}: {self.rule} ({self.rows} rows)"


def non_numeric_examples(series: pd.Series, sample_index: pd.Series) -> str:
    """The first values that do not parse as numbers (any values, for booleans), with the
    rows they are in and how many there are."""
    values = series.dropna()
    if series.dtype != bool:
        values = values[pd.to_numeric(values, errors="coerce").isna()]
    shown = ", ".join(f"{v!r} (sample_index {sample_index[i]})" for i, v in values.head(2).items())
    return shown + (f" and {len(values) - 2} more such values" if len(values) > 2 else "")


def _dtype_ok(series: pd.Series, dtype: str) -> bool:
    if dtype == "label":  # raw class labels: integers or text
        return series.dtype != bool and (
            pd.api.types.is_integer_dtype(series)
            or pd.api.types.is_float_dtype(series)
            or pd.api.types.is_object_dtype(series)
            or pd.api.types.is_string_dtype(series)
        )
    if dtype == "numeric":
        return pd.api.types.is_numeric_dtype(series) and series.dtype != bool
    if dtype == "text":
        return (pd.api.types.is_object_dtype(series) or pd.api.types.is_string_dtype(series)) and (
            pd.api.types.infer_dtype(series, skipna=True) in ("string", "empty")
        )
    return str(series.dtype) == dtype


def _row_failures(series: pd.Series, column: Column) -> dict[str, np.ndarray]:
    """Boolean masks of the rows breaking each row-level rule of `column`."""
    failures: dict[str, np.ndarray] = {}
    numeric = pd.api.types.is_numeric_dtype(series) and series.dtype != bool
    missing = series.isna().to_numpy()
    if not column.nullable:
        failures["not null"] = missing
    if column.finite and numeric:
        as_float = series.to_numpy(dtype=np.float64, na_value=np.nan)
        failures["finite"] = ~np.isfinite(as_float) & ~missing
    if column.isin is not None:
        failures[f"in {list(column.isin)}"] = ~series.isin(column.isin).to_numpy() & ~missing
    if column.bounds is not None and numeric:
        low, high = column.bounds
        as_float = series.to_numpy(dtype=np.float64, na_value=np.nan)
        with np.errstate(invalid="ignore"):
            failures[f"within [{low:g}, {high:g}]"] = (as_float < low) | (as_float > high)
    if column.unique:
        failures["unique"] = series.duplicated(keep=False).to_numpy()
    return failures


def _dtype_violation(frame: pd.DataFrame, column: Column) -> Violation:
    """A numeric column holding text names the values that are not numbers, and their rows."""
    series = frame[column.name]
    if column.dtype == "numeric" and series.dtype != bool and "sample_index" in frame:
        bad = int(pd.to_numeric(series.dropna(), errors="coerce").isna().sum())
        if bad:
            examples = non_numeric_examples(series, frame["sample_index"])
            rule = f"not a number: {examples} (list it under categorical_columns if it holds categories)"
            return Violation(column.name, rule, bad)
    return Violation(column.name, f"dtype {column.dtype} (is {series.dtype})", len(frame))


def evaluate(frame: pd.DataFrame, contract: Contract) -> list[Violation]:
    """Every broken rule with the column it is about and how many rows break it."""
    found: list[Violation] = []
    names = [c.name for c in contract.columns]
    missing = [n for n in names if n not in frame.columns]
    found += [Violation(n, "present", len(frame)) for n in missing]
    if contract.exact_columns:
        extra = [c for c in frame.columns if c not in names]
        found += [Violation(str(c), "not declared", len(frame)) for c in extra]
        if not missing and not extra and list(frame.columns) != names:
            found.append(Violation("(table)", f"column order {names}", len(frame)))
    for column in contract.columns:
        if column.name not in frame.columns:
            continue
        series = frame[column.name]
        if not _dtype_ok(series, column.dtype):
            found.append(_dtype_violation(frame, column))
        for rule, mask in _row_failures(series, column).items():
            if mask.any():
                found.append(Violation(column.name, rule, int(mask.sum())))
    return found


def invalid_rows(frame: pd.DataFrame, contract: Contract) -> np.ndarray:
    """Rows breaking any row-level rule (the complement of the quality score's valid rows)."""
    bad = np.zeros(len(frame), dtype=bool)
    for column in contract.columns:
        if column.name in frame.columns:
            for mask in _row_failures(frame[column.name], column).values():
                bad |= mask
        else:
            bad[:] = True
    return bad


def _feature_column(rules: TableRules, name: str) -> Column:
    if name in rules.categorical_columns:
        return Column(name, "text", nullable=False)
    return Column(name, "float64", nullable=False, finite=True, bounds=rules.feature_bounds.get(name))


def features_contract(rules: TableRules, feature_names: Sequence[str]) -> Contract:
    classes = rules.target_codes
    return Contract(
        stage="features",
        columns=(
            Column("sample_index", "int64", nullable=False, unique=True),
            *(_feature_column(rules, n) for n in feature_names),
            Column(rules.target, "int64", nullable=False, isin=tuple(classes) if classes else None),
            Column("ingested_at", "datetime64[ns, UTC]", nullable=False),
            *([Column(PARTITION_COLUMN, "text", nullable=False)] if rules.partitioned else []),
        ),
        exact_columns=True,
    )


def quality_contract(rules: TableRules, feature_names: Sequence[str], stage: str = "features") -> Contract:
    """What makes a row valid: the features contract's rules on any numeric dtype; on raw, the target is
    judged by its declared labels (which may be text) rather than its codes."""
    strict = features_contract(rules, feature_names)
    labels = rules.declared_labels
    relaxed = []
    for c in strict.columns:
        if stage == "raw" and c.name == rules.target:
            relaxed.append(Column(c.name, "label", nullable=False, isin=tuple(labels) if labels else None))
        elif stage == "raw" and c.name in rules.categorical_columns:
            relaxed.append(Column(c.name, "label", nullable=False))
        else:
            dtype = "numeric" if c.dtype in ("float64", "int64") else c.dtype
            relaxed.append(Column(c.name, dtype, c.nullable, c.finite, c.unique, c.isin, c.bounds))
    return Contract(stage="quality", columns=tuple(relaxed), exact_columns=False)


def raw_contract(rules: TableRules, feature_names: Sequence[str]) -> Contract:
    """Raw is as it arrived: declared columns present, numeric unless categorical; nulls are
    judged elsewhere."""
    return Contract(
        stage="raw",
        columns=(
            Column("sample_index", "int64", nullable=False, unique=True),
            *(Column(n, "label" if n in rules.categorical_columns else "numeric") for n in feature_names),
            Column(rules.target, "label"),
            Column("ingested_at", "datetime64[ns, UTC]", nullable=False),
        ),
        exact_columns=False,
    )
