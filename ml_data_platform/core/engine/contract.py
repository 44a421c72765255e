"""core/contract.py's rules counted by the engine: the same violations (column, rule, rows)
and invalid rows for a stored table as `evaluate` and `invalid_rows` give for a frame."""

from __future__ import annotations

from collections.abc import Collection

import duckdb

from ml_data_platform.core.contract import Column, Contract, Violation
from ml_data_platform.core.engine.bins import finite
from ml_data_platform.core.engine.sql import column_types, is_numeric, number, quote, text

# How pandas names the dtype an engine type reads back as (for the same messages).
PANDAS_DTYPES = {
    "DOUBLE": "float64",
    "BIGINT": "int64",
    "VARCHAR": "object",
    "BOOLEAN": "bool",
    "TIMESTAMP WITH TIME ZONE": "datetime64[ns, UTC]",
}


def dtype_ok(engine_type: str, dtype: str) -> bool:
    upper = engine_type.upper()
    if dtype == "label":
        return upper != "BOOLEAN" and (is_numeric(upper) or upper == "VARCHAR")
    if dtype == "numeric":
        return is_numeric(upper)
    if dtype == "text":
        return upper == "VARCHAR"
    return PANDAS_DTYPES.get(upper) == dtype


def _missing(name: str, engine_type: str) -> str:
    """pandas' isna: NULL, and NaN in a float column."""
    if engine_type.upper() in ("DOUBLE", "FLOAT", "REAL"):
        return f"({quote(name)} IS NULL OR isnan({quote(name)}))"
    return f"({quote(name)} IS NULL)"


def _in(name: str, engine_type: str, allowed: tuple) -> str:
    """pandas' isin: numbers match numbers, text matches text (never each other)."""
    if is_numeric(engine_type):
        values = [number(v) for v in allowed if not isinstance(v, str)]
    else:
        values = [text(v) for v in allowed if isinstance(v, str)]
    return f"{quote(name)} IN ({', '.join(values)})" if values else "false"


def clean_columns(db: duckdb.DuckDBPyConnection, table: str, found: dict[str, str]) -> set[str]:
    """Numeric columns with no missing or non-finite value (a range test the engine answers
    from its stored statistics): their not-null and finite rules cannot fail."""
    numeric = [n for n, t in found.items() if is_numeric(t)]
    if not numeric:
        return set()
    terms = ", ".join(f"count_if({finite(n)})" for n in numeric)
    rows, *counts = db.execute(f"SELECT count(*), {terms} FROM {quote(table)}").fetchall()[0]
    return {n for n, c in zip(numeric, counts, strict=True) if c == rows}


def strictly_increasing(db: duckdb.DuckDBPyConnection, table: str, name: str) -> bool:
    """Each value above the one stored before it. `OVER ()` streams the scan in table order
    (DuckDB keeps insertion order unless preserve_insertion_order is turned off, which the
    platform never does); `ORDER BY rowid` would sort every row first (14 x slower)."""
    steps = f"SELECT {quote(name)} - lag({quote(name)}) OVER () AS step FROM {quote(table)}"
    return not db.execute(f"SELECT count(*) FROM ({steps}) WHERE step <= 0").fetchall()[0][0]


def row_rules(column: Column, engine_type: str, table: str, clean: Collection[str] = ()) -> dict[str, str]:
    """SQL conditions true on the rows breaking each row-level rule of `column` ("false"
    where `clean` says the rule cannot fail; see clean_columns)."""
    name, missing = quote(column.name), _missing(column.name, engine_type)
    numeric = is_numeric(engine_type)
    spotless = column.name in clean
    rules: dict[str, str] = {}
    if not column.nullable:
        rules["not null"] = "false" if spotless else missing
    if column.finite and numeric:
        rules["finite"] = "false" if spotless else f"(NOT isfinite({name}::DOUBLE) AND NOT {missing})"
    if column.isin is not None:
        rules[f"in {list(column.isin)}"] = (
            f"(NOT ({_in(column.name, engine_type, column.isin)}) AND NOT {missing})"
        )
    if column.bounds is not None and numeric:
        low, high = column.bounds
        outside = f"({name} < {number(low)} OR {name} > {number(high)})"
        rules[f"within [{low:g}, {high:g}]"] = (
            outside if spotless else f"(NOT {missing} AND NOT isnan({name}::DOUBLE) AND {outside})"
        )
    if column.unique:
        repeated = f"SELECT {name} FROM {quote(table)} GROUP BY 1 HAVING count(*) > 1"
        rules["unique"] = (
            "false" if f"{column.name}:increasing" in clean else f"coalesce({name} IN ({repeated}), false)"
        )
    return rules


def facts(db: duckdb.DuckDBPyConnection, table: str, found: dict[str, str], contract: Contract) -> set[str]:
    """clean_columns, plus `<name>:increasing` for each unique integer column whose values
    rise row by row (unique without a hash aggregate over it)."""
    clean = clean_columns(db, table, found)
    for column in contract.columns:
        integer = found.get(column.name, "").upper() in ("BIGINT", "INTEGER")
        if column.unique and column.name in clean and integer and strictly_increasing(db, table, column.name):
            clean.add(f"{column.name}:increasing")
    return clean


def _structure(found: dict[str, str], contract: Contract, rows: int) -> list[Violation]:
    names = [c.name for c in contract.columns]
    missing = [n for n in names if n not in found]
    violations = [Violation(n, "present", rows) for n in missing]
    if contract.exact_columns:
        extra = [c for c in found if c not in names]
        violations += [Violation(c, "not declared", rows) for c in extra]
        if not missing and not extra and list(found) != names:
            violations.append(Violation("(table)", f"column order {names}", rows))
    return violations


def evaluate(db: duckdb.DuckDBPyConnection, table: str, contract: Contract) -> tuple[int, list[Violation]]:
    """(rows, every broken rule with its column and rows), as core.contract.evaluate."""
    found = column_types(db, table)
    rows = int(db.execute(f"SELECT count(*) FROM {quote(table)}").fetchall()[0][0])
    violations = _structure(found, contract, rows)
    present = [c for c in contract.columns if c.name in found]
    clean = facts(db, table, found, contract)
    counted: list[tuple[str, str]] = []
    for column in present:
        if not dtype_ok(found[column.name], column.dtype):
            violations.append(_dtype_violation(db, table, column, found[column.name], rows))
        counted += [(column.name, rule) for rule in row_rules(column, found[column.name], table, clean)]
    conditions = [row_rules(c, found[c.name], table, clean) for c in present]
    sums = [f"count(*) FILTER (WHERE {sql})" for rules in conditions for sql in rules.values()]
    counts = db.execute(f"SELECT {', '.join(sums)} FROM {quote(table)}").fetchall()[0] if sums else ()
    by_rule = dict(zip(counted, counts, strict=True))
    for column in present:  # row rules after the column's dtype, in the contract's order
        for rule in row_rules(column, found[column.name], table, clean):
            if by_rule[(column.name, rule)]:
                violations.append(Violation(column.name, rule, int(by_rule[(column.name, rule)])))
    return rows, _ordered(violations, contract)


def _ordered(violations: list[Violation], contract: Contract) -> list[Violation]:
    """Structure first, then per column: dtype, then its row rules (evaluate's order)."""
    order = {c.name: i for i, c in enumerate(contract.columns)}
    structural = [v for v in violations if v.rule in ("present", "not declared") or v.column == "(table)"]
    rest = [v for v in violations if v not in structural]
    return structural + sorted(
        rest, key=lambda v: (order[v.column], not v.rule.startswith(("dtype", "not a number")))
    )


def _dtype_violation(db, table: str, column: Column, engine_type: str, rows: int) -> Violation:
    """A numeric column holding text names the values that are not numbers, and their rows."""
    if column.dtype == "numeric" and engine_type.upper() == "VARCHAR":
        wrong = f"{quote(column.name)} IS NOT NULL AND TRY_CAST({quote(column.name)} AS DOUBLE) IS NULL"
        bad = int(db.execute(f"SELECT count(*) FROM {quote(table)} WHERE {wrong}").fetchall()[0][0])
        if bad:
            first = db.execute(
                f"SELECT {quote(column.name)}, sample_index FROM {quote(table)} WHERE {wrong} "
                "ORDER BY rowid LIMIT 2"
            ).fetchall()
            shown = ", ".join(f"{v!r} (sample_index {i})" for v, i in first)
            shown += f" and {bad - 2} more such values" if bad > 2 else ""
            rule = f"not a number: {shown} (list it under categorical_columns if it holds categories)"
            return Violation(column.name, rule, bad)
    return Violation(
        column.name, f"dtype {column.dtype} (is {PANDAS_DTYPES.get(engine_type.upper(), engine_type)})", rows
    )


def invalid_rows(db: duckdb.DuckDBPyConnection, table: str, contract: Contract) -> tuple[int, int]:
    """(rows, rows breaking any row-level rule), as core.contract.invalid_rows."""
    found = column_types(db, table)
    rows = int(db.execute(f"SELECT count(*) FROM {quote(table)}").fetchall()[0][0])
    if any(c.name not in found for c in contract.columns):
        return rows, rows
    clean = facts(db, table, found, contract)
    conditions = [
        sql
        for c in contract.columns
        for sql in row_rules(c, found[c.name], table, clean).values()
        if sql != "false"
    ]
    if not conditions:
        return rows, 0
    bad = db.execute(f"SELECT count(*) FROM {quote(table)} WHERE {' OR '.join(conditions)}").fetchall()[0][0]
    return rows, int(bad)
