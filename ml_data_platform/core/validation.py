"""Turn raw rows into the validated feature table: typed, cleaned per policy, stable order."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd

from ml_data_platform.core.blocks import float_block, take_rows
from ml_data_platform.core.contract import non_numeric_examples
from ml_data_platform.core.quality import Outcome
from ml_data_platform.core.rules import PARTITION_COLUMN, TableRules


class ValidationError(ValueError):
    """Raw rows break the dataset's declared contract."""


@dataclass(frozen=True)
class CleaningReport:
    rows_in: int
    rows_out: int
    non_finite_rows_dropped: int
    duplicate_rows_dropped: int
    label_codes: dict[str, int] | None = None

    def as_dict(self) -> dict[str, int]:
        """The row counts (label_codes aside)."""
        return {k: v for k, v in asdict(self).items() if k != "label_codes"}


def _numeric_features(rules: TableRules, raw: pd.DataFrame, names: list[str]) -> np.ndarray:
    bad = [c for c in names if not pd.api.types.is_numeric_dtype(raw[c]) or raw[c].dtype == bool]
    if bad:
        examples = "; ".join(
            f"{c} holds {non_numeric_examples(raw[c], raw['sample_index'])}" for c in bad[:5]
        )
        raise ValidationError(
            f"dataset {rules.dataset!r}: feature column(s) {bad} are not numeric: {examples}; "
            "fix the source values, list the columns under categorical_columns if they hold "
            "categories, or leave them out via feature_columns"
        )
    # Only read here; when every row stays, the features frame shares it with the raw frame.
    return float_block(raw, names, copy=False)


def categorical_values(series: pd.Series) -> np.ndarray:
    """A categorical column as an object array of str (None where missing).

    Numbers become their text ("3", not "3.0", for whole floats), so a column of codes read
    as int from one file and as float from another (a NaN forces float) gives equal labels.
    """
    missing = series.isna().to_numpy()
    if pd.api.types.is_float_dtype(series):
        present = series.to_numpy(dtype=np.float64, na_value=np.nan)[~missing]
        if np.isfinite(present).all() and np.array_equal(present, np.round(present)):
            series = series.astype("Int64")
    result = series.astype(str).to_numpy(dtype=object)
    result[missing] = None
    return result


def label_codes(rules: TableRules, target: pd.Series) -> dict[str, int]:
    """The declared string classes in order, else the labels present sorted: stable codes."""
    declared = rules.label_mapping
    if declared is not None:
        unknown = sorted(set(target.dropna().astype(str)) - set(declared))
        if unknown:
            raise ValidationError(
                f"dataset {rules.dataset!r}: target {rules.target!r} has label(s) {unknown[:5]} not in "
                f"the declared classes {list(declared)}; fix the source or add them to classes"
            )
        return declared
    return {label: code for code, label in enumerate(sorted(target.dropna().astype(str).unique()))}


def _refuse_mixed_labels(rules: TableRules, target: pd.Series) -> None:
    """Numbers and words in one label column (0, 1, benign, malignant) are most often two
    spellings of the same classes; coding them as four classes would be silently wrong."""
    counts = target.dropna().astype(str).value_counts()
    numeric = pd.to_numeric(pd.Series(counts.index), errors="coerce").notna().to_numpy()
    if numeric.all() or not numeric.any():
        return
    found = ", ".join(f"{label!r} ({count} rows)" for label, count in list(counts.sort_index().items())[:10])
    raise ValidationError(
        f"dataset {rules.dataset!r}: target {rules.target!r} mixes numbers and text: {found}. Fix the "
        "source so each class has one spelling, or, if every label really is its own class, declare "
        'them all under classes (as text, e.g. classes: ["0", "1", benign, malignant])'
    )


def _integer_target(rules: TableRules, raw: pd.DataFrame) -> tuple[pd.Series, dict[str, int] | None]:
    """Target as float64 codes (NaN where missing) and the label mapping, if labels are text."""
    target = raw[rules.target]
    if target.dtype == bool:
        raise ValidationError(
            f"dataset {rules.dataset!r}: target column {rules.target!r} is boolean; use integer or "
            "string class labels"
        )
    if not pd.api.types.is_numeric_dtype(target):
        if rules.label_mapping is None:
            _refuse_mixed_labels(rules, target)
        mapping = label_codes(rules, target)
        return target.astype(object).map(lambda v: mapping.get(str(v)) if pd.notna(v) else None).astype(
            np.float64
        ), mapping
    if rules.label_mapping is not None:
        raise ValidationError(
            f"dataset {rules.dataset!r}: target {rules.target!r} holds numbers but classes declares "
            "string labels; make them agree"
        )
    values = target.astype(np.float64)
    finite = np.isfinite(values)
    fractional = finite & (values != np.round(values))
    if fractional.any():
        raise ValidationError(
            f"dataset {rules.dataset!r}: target {rules.target!r} has {int(fractional.sum())} "
            f"non-integer value(s) (e.g. {values[fractional].iloc[0]}); class labels must be integers"
        )
    return values, None


def _word(column: np.ndarray) -> np.ndarray:
    """64-bit words standing for a column's values: float bits as they are (+0.0 folds -0.0
    into 0.0, which compare equal), text through pandas' value hash."""
    if column.dtype == np.float64:
        return (column + 0.0).view(np.uint64)
    return pd.util.hash_array(column)


def duplicated_rows(values: np.ndarray, target: np.ndarray, text: Sequence[np.ndarray] = ()) -> np.ndarray:
    """Rows whose features (2-D float `values` plus `text` columns) and target equal an
    earlier row's, exactly.

    A multiply-xor hash of each row's 64-bit words narrows the search first (DataFrame.duplicated
    over many float columns is slow, and hashing every float through pandas costs more than
    the rest of validation); only rows sharing a hash are compared value by value, so a
    collision cannot drop a distinct row.
    """
    columns = [values[:, j] for j in range(values.shape[1])] + list(text)
    hashes = target.astype(np.float64).view(np.uint64).copy()
    for column in columns:
        hashes *= np.uint64(0x100000001B3)
        hashes ^= _word(column)
    candidates = pd.Series(hashes).duplicated(keep=False).to_numpy()
    result = np.zeros(len(target), dtype=bool)
    if candidates.any():
        exact = pd.DataFrame({i: c[candidates] for i, c in enumerate(columns)}).assign(
            _target=target[candidates]
        )
        result[candidates] = exact.duplicated(keep="first").to_numpy()
    return result


def _feature_names(rules: TableRules, raw: pd.DataFrame) -> list[str]:
    """The feature columns, refused when raw lacks them or the platform's own columns."""
    missing = [c for c in ("sample_index", "ingested_at", rules.target) if c not in raw.columns]
    names = rules.features_in(list(raw.columns))
    missing += [c for c in names if c not in raw.columns]
    if missing:
        raise ValidationError(
            f"dataset {rules.dataset!r}: raw table lacks column(s) {missing}; it has "
            f"{list(raw.columns)}. Fix the source or the catalog's target/feature_columns"
        )
    if not names:
        raise ValidationError(f"dataset {rules.dataset!r}: no feature columns besides the target")
    return names


def _finite_rows(
    rules: TableRules, values: np.ndarray, numeric: list[str], text: dict[str, np.ndarray], target: np.ndarray
) -> np.ndarray:
    """Rows whose numbers are finite and categories present; the others fail unless dropped."""
    finite_cells = np.isfinite(values)
    finite = finite_cells.all(axis=1) & np.isfinite(target)
    missing_text = {n: pd.isna(column) for n, column in text.items()}
    for mask in missing_text.values():
        finite &= ~mask
    bad_rows = int((~finite).sum())
    if bad_rows and not rules.drop_non_finite:
        per_column = {n: int(c) for n, c in zip(numeric, (~finite_cells).sum(axis=0), strict=True) if c}
        per_column.update({n: int(m.sum()) for n, m in missing_text.items() if m.any()})
        if not np.isfinite(target).all():
            per_column[rules.target] = int((~np.isfinite(target)).sum())
        raise ValidationError(
            f"dataset {rules.dataset!r}: {bad_rows} row(s) hold NaN, ±inf or a missing category "
            f"(per column: {per_column}); "
            "fix the source, or set on_non_finite: drop in the catalog to drop those rows"
        )
    return finite


def _refuse_unusable(rules: TableRules, table: pd.DataFrame, report: CleaningReport) -> None:
    if table.empty:
        raise ValidationError(f"dataset {rules.dataset!r}: no rows left after cleaning ({report.as_dict()})")
    labels = np.unique(table[rules.target].to_numpy())
    if labels.size < 2 and not rules.partitioned:  # one day may hold one class; the union may not
        raise ValidationError(
            f"dataset {rules.dataset!r}: target {rules.target!r} has a single class ({labels.tolist()}); "
            "a classifier needs at least two, so check the source or the target column"
        )


def validate_features(rules: TableRules, raw: pd.DataFrame) -> tuple[pd.DataFrame, CleaningReport]:
    """Typed features (float64, categorical ones as text) and target (int64), rows cleaned
    per the dataset's policies.

    Output columns: sample_index, the features in declared order, the target, ingested_at
    (and partition_key in a partitioned dataset).
    """
    names = _feature_names(rules, raw)
    categorical = [n for n in names if n in rules.categorical_columns]
    numeric = [n for n in names if n not in rules.categorical_columns]
    values = _numeric_features(rules, raw, numeric)  # rows x numeric features, column-major
    text = {n: categorical_values(raw[n]) for n in categorical}
    target_codes, mapping = _integer_target(rules, raw)
    target = target_codes.to_numpy()
    finite = _finite_rows(rules, values, numeric, text, target)

    kept = np.flatnonzero(finite)
    finite_values = take_rows(values, kept)  # `values` itself when every row is finite
    duplicated = duplicated_rows(finite_values, target[kept], [c[kept] for c in text.values()])
    duplicates = int(duplicated.sum())
    sample_index = raw["sample_index"].to_numpy(dtype=np.int64)
    if duplicates and not rules.drop_duplicates:
        first = sample_index[kept[duplicated]][:5].tolist()
        raise ValidationError(
            f"dataset {rules.dataset!r}: {duplicates} row(s) repeat an earlier row's features and "
            f"target (sample_index {first}...); deduplicate the source or set on_duplicates: drop"
        )
    unique = np.flatnonzero(~duplicated)
    kept = kept[unique]

    # One float block whose columns are contiguous: every later per-column pass (checks,
    # profiles, hashing, splits) then reads memory in order. At most one copy of the values
    # (none when every row stays): the duplicates come out of the finite rows' block.
    table = pd.DataFrame(take_rows(finite_values, unique), columns=numeric)
    for name in categorical:  # back into declared order
        table.insert(names.index(name), name, text[name][kept])
    table.insert(0, "sample_index", sample_index[kept])
    table[rules.target] = target[kept].astype(np.int64)
    table["ingested_at"] = raw["ingested_at"].array.take(kept)  # keeps the UTC dtype
    if rules.partitioned:
        table[PARTITION_COLUMN] = raw[PARTITION_COLUMN].to_numpy(dtype=object)[kept]

    report = CleaningReport(
        rows_in=len(raw),
        rows_out=len(table),
        non_finite_rows_dropped=int((~finite).sum()),
        duplicate_rows_dropped=duplicates,
        label_codes=mapping,
    )
    _refuse_unusable(rules, table, report)
    return table, report


def validation_outcome(rows_in: int, found: CleaningReport | ValidationError, min_rows: int) -> Outcome:
    """raw_validates' verdict: how many rows become features, or the refusal (then none do:
    the stage would refuse the whole table)."""
    if isinstance(found, ValidationError):
        return Outcome(
            False, str(found), {"rows_in": rows_in}, {}, metric="rows_out", value=0, limit=min_rows
        )
    counts = found.as_dict()
    return Outcome(
        True,
        f"{counts['rows_out']} of {counts['rows_in']} rows become features",
        observed=counts,
        metric="rows_out",
        value=counts["rows_out"],
        limit=min_rows,
    )
