"""validate_features in the engine: the SELECT that turns a stored raw table into the
features table, and the same report and refusals (same messages) as core/validation.py."""

from __future__ import annotations

import duckdb
import numpy as np
import pyarrow as pa

from ml_data_platform.core.engine.sql import column_types, is_numeric, quote, text
from ml_data_platform.core.rules import TableRules
from ml_data_platform.core.validation import CleaningReport, ValidationError

DROPPED = "_ml_dropped_rows"  # the stream of duplicate rows' positions the SELECT leaves out


def _feature_names(rules: TableRules, found: dict[str, str]) -> list[str]:
    missing = [c for c in ("sample_index", "ingested_at", rules.target) if c not in found]
    names = rules.features_in(list(found))
    missing += [c for c in names if c not in found]
    if missing:
        raise ValidationError(
            f"dataset {rules.dataset!r}: raw table lacks column(s) {missing}; it has "
            f"{list(found)}. Fix the source or the catalog's target/feature_columns"
        )
    if not names:
        raise ValidationError(f"dataset {rules.dataset!r}: no feature columns besides the target")
    return names


def _refuse_text_features(db, rules: TableRules, table: str, found: dict[str, str], names: list[str]) -> None:
    bad = [c for c in names if not is_numeric(found[c])]
    if not bad:
        return
    shown = []
    for c in bad[:5]:
        wrong = f"{quote(c)} IS NOT NULL AND TRY_CAST({quote(c)} AS DOUBLE) IS NULL"
        if found[c].upper() == "BOOLEAN":
            wrong = f"{quote(c)} IS NOT NULL"
        count = db.execute(f"SELECT count(*) FROM {quote(table)} WHERE {wrong}").fetchall()[0][0]
        first = db.execute(
            f"SELECT {quote(c)}::VARCHAR, sample_index FROM {quote(table)} "
            f"WHERE {wrong} ORDER BY rowid LIMIT 2"
        ).fetchall()
        examples = ", ".join(f"{v!r} (sample_index {i})" for v, i in first)
        more = f" and {count - 2} more such values" if count > 2 else ""
        shown.append(f"{c} holds {examples}{more}")
    raise ValidationError(
        f"dataset {rules.dataset!r}: feature column(s) {bad} are not numeric: {'; '.join(shown)}; "
        "fix the source values, list the columns under categorical_columns if they hold "
        "categories, or leave them out via feature_columns"
    )


def _label_codes(db, rules: TableRules, table: str) -> dict[str, int]:
    target = quote(rules.target)
    labels = [
        r[0]
        for r in db.execute(
            f"SELECT DISTINCT {target}::VARCHAR FROM {quote(table)} WHERE {target} IS NOT NULL"
        ).fetchall()
    ]
    declared = rules.label_mapping
    if declared is not None:
        unknown = sorted(set(labels) - set(declared))
        if unknown:
            raise ValidationError(
                f"dataset {rules.dataset!r}: target {rules.target!r} has label(s) {unknown[:5]} not in "
                f"the declared classes {list(declared)}; fix the source or add them to classes"
            )
        return dict(declared)
    numeric = [_is_number(label) for label in labels]
    if any(numeric) and not all(numeric):
        counts = dict(
            db.execute(
                f"SELECT {target}::VARCHAR, count(*) FROM {quote(table)} WHERE {target} IS NOT NULL "
                "GROUP BY 1 ORDER BY 1 LIMIT 10"
            ).fetchall()
        )
        found = ", ".join(f"{label!r} ({count} rows)" for label, count in counts.items())
        raise ValidationError(
            f"dataset {rules.dataset!r}: target {rules.target!r} mixes numbers and text: {found}. Fix the "
            "source so each class has one spelling, or, if every label really is its own class, declare "
            'them all under classes (as text, e.g. classes: ["0", "1", benign, malignant])'
        )
    return {label: code for code, label in enumerate(sorted(labels))}


def _is_number(label: str) -> bool:
    try:
        float(label)
    except ValueError:
        return False
    return True


def target_code(db, rules: TableRules, table: str, engine_type: str) -> tuple[str, dict[str, int] | None]:
    """The target as a DOUBLE code expression (NULL where missing), and the label mapping."""
    target = quote(rules.target)
    if engine_type.upper() == "BOOLEAN":
        raise ValidationError(
            f"dataset {rules.dataset!r}: target column {rules.target!r} is boolean; use integer or "
            "string class labels"
        )
    if not is_numeric(engine_type):
        mapping = _label_codes(db, rules, table)
        cases = " ".join(f"WHEN {text(label)} THEN {code}" for label, code in mapping.items())
        return f"(CASE {target}::VARCHAR {cases} END)::DOUBLE", mapping
    if rules.label_mapping is not None:
        raise ValidationError(
            f"dataset {rules.dataset!r}: target {rules.target!r} holds numbers but classes declares "
            "string labels; make them agree"
        )
    value = f"{target}::DOUBLE"
    fractional = f"isfinite({value}) AND {value} <> round({value})"
    count, example = db.execute(
        f"SELECT count(*), first({value} ORDER BY rowid) FROM {quote(table)} WHERE {fractional}"
    ).fetchall()[0]
    if count:
        raise ValidationError(
            f"dataset {rules.dataset!r}: target {rules.target!r} has {count} "
            f"non-integer value(s) (e.g. {example}); class labels must be integers"
        )
    return value, None


def _finite_condition(names: list[str], code: str) -> str:
    cells = [f"isfinite({quote(n)}::DOUBLE)" for n in names]  # NULL (missing) is not finite either
    return "coalesce(" + " AND ".join([*cells, f"isfinite({code})"]) + ", false)"


def _refuse_non_finite(db, rules: TableRules, table: str, names: list[str], code: str, bad_rows: int) -> None:
    sums = ", ".join(
        f"count(*) FILTER (WHERE NOT coalesce(isfinite({quote(n)}::DOUBLE), false))" for n in names
    )
    counts = db.execute(
        f"SELECT {sums}, count(*) FILTER (WHERE NOT coalesce(isfinite({code}), false)) FROM {quote(table)}"
    ).fetchall()[0]
    per_column = {n: int(c) for n, c in zip([*names, rules.target], counts, strict=True) if c}
    raise ValidationError(
        f"dataset {rules.dataset!r}: {bad_rows} row(s) hold NaN, ±inf or a missing category "
        f"(per column: {per_column}); "
        "fix the source, or set on_non_finite: drop in the catalog to drop those rows"
    )


def duplicate_positions(db, table: str, names: list[str], code: str, finite: str) -> np.ndarray:
    """Raw positions (rowid) of the rows whose features and target equal an earlier row's.
    A 64-bit hash of each row narrows the search (one aggregate over the table); only rows
    sharing a hash are compared value by value, so a collision drops nothing."""
    values = [f"{quote(n)}::DOUBLE + 0.0" for n in names] + [code]  # + 0.0 folds -0.0 into 0.0
    key = f"hash({', '.join(values)})"
    named = ", ".join(f"{v} AS _v{i}" for i, v in enumerate(values))
    rows = f"SELECT rowid AS _pos, {named} FROM {quote(table)} WHERE {finite}"
    partition = ", ".join(f"_v{i}" for i in range(len(values)))
    sql = f"""
        WITH shared AS (SELECT {key} AS _k FROM {quote(table)} WHERE {finite} GROUP BY 1 HAVING count(*) > 1),
        candidates AS (SELECT * FROM ({rows}) WHERE hash({partition}) IN (SELECT _k FROM shared))
        SELECT _pos FROM (
            SELECT _pos, row_number() OVER (PARTITION BY {partition} ORDER BY _pos) AS _r FROM candidates
        ) WHERE _r > 1 ORDER BY _pos"""
    return db.execute(sql).fetchnumpy()["_pos"].astype(np.int64)


def features_query(
    db: duckdb.DuckDBPyConnection, rules: TableRules, table: str
) -> tuple[str, dict[str, pa.Table], CleaningReport]:
    """(SELECT of the features table, the Arrow tables it scans by name, the report):
    float64 features in declared order, int64 target codes, rows cleaned per policy."""
    found = column_types(db, table)
    names = _feature_names(rules, found)
    _refuse_text_features(db, rules, table, found, names)
    code, mapping = target_code(db, rules, table, found[rules.target])
    finite = _finite_condition(names, code)
    rows_in, finite_rows = db.execute(
        f"SELECT count(*), count(*) FILTER (WHERE {finite}) FROM {quote(table)}"
    ).fetchall()[0]
    if finite_rows < rows_in and not rules.drop_non_finite:
        _refuse_non_finite(db, rules, table, names, code, rows_in - finite_rows)
    dropped = duplicate_positions(db, table, names, code, finite)
    if len(dropped) and not rules.drop_duplicates:
        first = [
            r[0]
            for r in db.execute(
                f"SELECT sample_index FROM {quote(table)} WHERE rowid IN (SELECT unnest(?)) "
                "ORDER BY rowid LIMIT 5",
                [dropped[:5].tolist()],
            ).fetchall()
        ]
        raise ValidationError(
            f"dataset {rules.dataset!r}: {len(dropped)} row(s) repeat an earlier row's features and "
            f"target (sample_index {first}...); deduplicate the source or set on_duplicates: drop"
        )
    kept = f"{finite} AND rowid NOT IN (SELECT _pos FROM {DROPPED})" if len(dropped) else finite
    select = (
        "SELECT sample_index::BIGINT AS sample_index, "
        + ", ".join(f"{quote(n)}::DOUBLE AS {quote(n)}" for n in names)
        + f", ({code})::BIGINT AS {quote(rules.target)}, ingested_at FROM {quote(table)} WHERE {kept}"
        # raw is in sample_index order; a filter keeps it, the anti-join may not
        + (" ORDER BY sample_index" if len(dropped) else "")
    )
    streams = {DROPPED: pa.table({"_pos": pa.array(dropped, pa.int64())})}
    report = CleaningReport(
        rows_in=int(rows_in),
        rows_out=int(finite_rows) - len(dropped),
        non_finite_rows_dropped=int(rows_in - finite_rows),
        duplicate_rows_dropped=len(dropped),
        label_codes=mapping,
    )
    _refuse_unusable(db, rules, table, code, kept, streams, report)
    return select, streams, report


def _refuse_unusable(db, rules: TableRules, table: str, code: str, kept: str, streams, report) -> None:
    if report.rows_out == 0:
        raise ValidationError(f"dataset {rules.dataset!r}: no rows left after cleaning ({report.as_dict()})")
    db.register(DROPPED, streams[DROPPED])
    try:
        labels = [
            r[0]
            for r in db.execute(
                f"SELECT DISTINCT ({code})::BIGINT FROM {quote(table)} WHERE {kept} LIMIT 2"
            ).fetchall()
        ]
    finally:
        db.unregister(DROPPED)
    if len(labels) < 2 and not rules.partitioned:
        raise ValidationError(
            f"dataset {rules.dataset!r}: target {rules.target!r} has a single class ({sorted(labels)}); "
            "a classifier needs at least two, so check the source or the target column"
        )
