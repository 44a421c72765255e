"""SQL text shared by the in-database modules: identifiers, exact literals, and the keyed hash
that decides a row's split (core/splitting.py's SplitMix64, bit for bit)."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import duckdb
import numpy as np

from ml_data_platform.core.splitting import _GOLDEN, _mix64

MASK64 = (1 << 64) - 1
NUMERIC = ("TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "UTINYINT", "USMALLINT", "UINTEGER")
NUMERIC += ("UBIGINT", "FLOAT", "DOUBLE", "REAL")


def is_numeric(engine_type: str) -> bool:
    return engine_type.upper() in NUMERIC or engine_type.upper().startswith("DECIMAL")


def column_types(db: duckdb.DuckDBPyConnection, table: str) -> dict[str, str]:
    """Column name -> DuckDB type, in the table's order."""
    return {r[0]: r[1] for r in db.execute(f"DESCRIBE {quote(table)}").fetchall()}


def quote(name: str) -> str:
    """A table or column name as SQL text: double quotes, inner ones doubled (the standard
    rule; storage.versions.quote_identifier is this function)."""
    return '"' + name.replace('"', '""') + '"'


def number(value: float | int) -> str:
    """An exact SQL literal: floats as their shortest round-trip repr, cast to DOUBLE."""
    if isinstance(value, bool | np.bool_):
        raise TypeError("booleans are not numbers here")
    if isinstance(value, int | np.integer):
        return str(int(value))
    value = float(value)
    if math.isnan(value):
        return "'NaN'::DOUBLE"
    if math.isinf(value):
        return "'Infinity'::DOUBLE" if value > 0 else "'-Infinity'::DOUBLE"
    return f"{value!r}::DOUBLE"


def text(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def columns(names: Sequence[str]) -> str:
    return ", ".join(quote(n) for n in names)


def _wrap_mul(expr: str, constant: int) -> str:
    """uint64 multiplication modulo 2^64 (DuckDB's UBIGINT refuses to overflow; UHUGEINT holds
    the full 128-bit product)."""
    return f"(({expr})::UHUGEINT * {constant}::UHUGEINT & {MASK64}::UHUGEINT)::UBIGINT"


def _xor_shift(expr: str, bits: int) -> str:
    return f"xor({expr}, {expr} >> {bits})"


def hash_unit_select(column: str, seed: int, alias: str = "_unit") -> str:
    """Select-list items computing `hash_unit(column, seed)` as `alias` through lateral aliases
    (each step named once, so the expression does not grow with nesting); the `_h0`…`_h5`
    steps come along, so select the columns wanted from around it."""
    key = int(_mix64(np.array([seed], dtype=np.uint64))[0])
    offset = (key * int(_GOLDEN)) & MASK64
    start = f"((({quote(column)})::HUGEINT & {MASK64}) + {offset} & {MASK64})::UBIGINT"
    steps = [
        f"{start} AS _h0",
        f"{_xor_shift('_h0', 30)} AS _h1",
        f"{_wrap_mul('_h1', 0xBF58476D1CE4E5B9)} AS _h2",
        f"{_xor_shift('_h2', 27)} AS _h3",
        f"{_wrap_mul('_h3', 0x94D049BB133111EB)} AS _h4",
        f"{_xor_shift('_h4', 31)} AS _h5",
        f"(_h5 >> 11)::DOUBLE * {number(1.0 / (1 << 53))} AS {alias}",
    ]
    return ", ".join(steps)


def split_position(unit: str, ratios: Mapping[str, float]) -> str:
    """The index (into `ratios`' order) of the split whose cumulative interval holds `unit`:
    `hash_assignment`'s searchsorted(side="right") over numpy's own cumulative sums."""
    edges = np.cumsum(list(ratios.values()))[:-1]
    if not len(edges):
        return "0"
    return " + ".join(f"({unit} >= {number(e)})::INTEGER" for e in edges)
