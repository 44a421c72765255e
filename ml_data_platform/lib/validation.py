"""Turn raw rows into the validated feature table: typed, cleaned per policy, stable order."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd

from ml_data_platform.catalog import RESERVED_COLUMNS, DatasetSpec, Policy
from ml_data_platform.lib.blocks import float_block, take_rows


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


def feature_columns(spec: DatasetSpec, columns: list[str]) -> list[str]:
    if spec.feature_columns is not None:
        return list(spec.feature_columns)
    return [c for c in columns if c != spec.target and c not in RESERVED_COLUMNS]


def _numeric_features(spec: DatasetSpec, raw: pd.DataFrame, names: list[str]) -> np.ndarray:
    bad = [c for c in names if not pd.api.types.is_numeric_dtype(raw[c]) or raw[c].dtype == bool]
    if bad:
        examples = {c: _non_numeric_examples(raw[c]) for c in bad}
        raise ValidationError(
            f"dataset {spec.name!r}: feature column(s) {bad} are not numeric (e.g. {examples}); "
            "fix the source values, list the columns under categorical_columns if they hold "
            "categories, or leave them out via feature_columns"
        )
    # Only read here; when every row stays, the features frame shares it with the raw frame.
    return float_block(raw, names, copy=False)


def _non_numeric_examples(series: pd.Series) -> list[str]:
    """The first values that do not parse as numbers (or any values, for booleans)."""
    values = series.dropna()
    if series.dtype != bool:
        values = values[pd.to_numeric(values, errors="coerce").isna()]
    return values.astype(str).head(2).tolist()


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


def label_codes(spec: DatasetSpec, target: pd.Series) -> dict[str, int]:
    """The declared string classes in order, else the labels present sorted: stable codes."""
    declared = spec.label_mapping()
    if declared is not None:
        unknown = sorted(set(target.dropna().astype(str)) - set(declared))
        if unknown:
            raise ValidationError(
                f"dataset {spec.name!r}: target {spec.target!r} has label(s) {unknown[:5]} not in "
                f"the declared classes {list(declared)}; fix the source or add them to classes"
            )
        return declared
    return {label: code for code, label in enumerate(sorted(target.dropna().astype(str).unique()))}


def _integer_target(spec: DatasetSpec, raw: pd.DataFrame) -> tuple[pd.Series, dict[str, int] | None]:
    """Target as float64 codes (NaN where missing) and the label mapping, if labels are text."""
    target = raw[spec.target]
    if target.dtype == bool:
        raise ValidationError(
            f"dataset {spec.name!r}: target column {spec.target!r} is boolean; use integer or "
            "string class labels"
        )
    if not pd.api.types.is_numeric_dtype(target):
        mapping = label_codes(spec, target)
        return target.astype(object).map(lambda v: mapping.get(str(v)) if pd.notna(v) else None).astype(
            np.float64
        ), mapping
    if spec.label_mapping() is not None:
        raise ValidationError(
            f"dataset {spec.name!r}: target {spec.target!r} holds numbers but classes declares "
            "string labels; make them agree"
        )
    values = target.astype(np.float64)
    finite = np.isfinite(values)
    fractional = finite & (values != np.round(values))
    if fractional.any():
        raise ValidationError(
            f"dataset {spec.name!r}: target {spec.target!r} has {int(fractional.sum())} "
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


def validate_features(spec: DatasetSpec, raw: pd.DataFrame) -> tuple[pd.DataFrame, CleaningReport]:
    """Typed features (float64, categorical ones as text) and target (int64), rows cleaned
    per the spec's policies.

    Output columns: sample_index, the features in declared order, the target, ingested_at.
    """
    missing = [c for c in ("sample_index", "ingested_at", spec.target) if c not in raw.columns]
    names = feature_columns(spec, list(raw.columns))
    missing += [c for c in names if c not in raw.columns]
    if missing:
        raise ValidationError(
            f"dataset {spec.name!r}: raw table lacks column(s) {missing}; it has "
            f"{list(raw.columns)}. Fix the source or the catalog's target/feature_columns"
        )
    if not names:
        raise ValidationError(f"dataset {spec.name!r}: no feature columns besides the target")

    categorical = [n for n in names if n in spec.categorical_columns]
    numeric = [n for n in names if n not in spec.categorical_columns]
    values = _numeric_features(spec, raw, numeric)  # rows x numeric features, column-major
    text = {n: categorical_values(raw[n]) for n in categorical}
    target_codes, mapping = _integer_target(spec, raw)
    target = target_codes.to_numpy()

    finite_cells = np.isfinite(values)
    finite = finite_cells.all(axis=1) & np.isfinite(target)
    missing_text = {n: pd.isna(column) for n, column in text.items()}
    for mask in missing_text.values():
        finite &= ~mask
    bad_rows = int((~finite).sum())
    if bad_rows and spec.on_non_finite is Policy.fail:
        per_column = {n: int(c) for n, c in zip(numeric, (~finite_cells).sum(axis=0), strict=True) if c}
        per_column.update({n: int(m.sum()) for n, m in missing_text.items() if m.any()})
        if not np.isfinite(target).all():
            per_column[spec.target] = int((~np.isfinite(target)).sum())
        raise ValidationError(
            f"dataset {spec.name!r}: {bad_rows} row(s) hold NaN, ±inf or a missing category "
            f"(per column: {per_column}); "
            "fix the source, or set on_non_finite: drop in the catalog to drop those rows"
        )

    kept = np.flatnonzero(finite)
    finite_values = take_rows(values, kept)  # `values` itself when every row is finite
    duplicated = duplicated_rows(finite_values, target[kept], [c[kept] for c in text.values()])
    duplicates = int(duplicated.sum())
    sample_index = raw["sample_index"].to_numpy(dtype=np.int64)
    if duplicates and spec.on_duplicates is Policy.fail:
        first = sample_index[kept[duplicated]][:5].tolist()
        raise ValidationError(
            f"dataset {spec.name!r}: {duplicates} row(s) repeat an earlier row's features and "
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
    table[spec.target] = target[kept].astype(np.int64)
    table["ingested_at"] = raw["ingested_at"].array.take(kept)  # keeps the UTC dtype

    report = CleaningReport(
        rows_in=len(raw),
        rows_out=len(table),
        non_finite_rows_dropped=bad_rows,
        duplicate_rows_dropped=duplicates,
        label_codes=mapping,
    )
    if table.empty:
        raise ValidationError(f"dataset {spec.name!r}: no rows left after cleaning ({report.as_dict()})")
    labels = np.unique(table[spec.target].to_numpy())
    if labels.size < 2:
        raise ValidationError(
            f"dataset {spec.name!r}: target {spec.target!r} has a single class ({labels.tolist()}); "
            "a classifier needs at least two, so check the source or the target column"
        )
    return table, report
