"""The column types a table may hold, mapped to each engine and back to exact pandas dtypes."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa


class UnsupportedColumnError(TypeError):
    """A frame holds a column whose dtype the table IO managers cannot store exactly."""


@dataclass(frozen=True)
class LogicalType:
    name: str
    sqlite: str
    duckdb: str
    postgres: str


FLOAT = LogicalType("float64", "REAL", "DOUBLE", "DOUBLE PRECISION")
INT = LogicalType("int64", "INTEGER", "BIGINT", "BIGINT")
BOOL = LogicalType("bool", "BOOLEAN", "BOOLEAN", "BOOLEAN")
TIMESTAMP = LogicalType(
    "datetime64[ns, UTC]", "TIMESTAMP", "TIMESTAMP WITH TIME ZONE", "TIMESTAMP WITH TIME ZONE"
)
TEXT = LogicalType("string", "TEXT", "VARCHAR", "TEXT")
ALL = (FLOAT, INT, BOOL, TIMESTAMP, TEXT)


def logical_type(name: str, series: pd.Series) -> LogicalType:
    dtype = series.dtype
    if pd.api.types.is_bool_dtype(dtype):
        return BOOL
    if pd.api.types.is_integer_dtype(dtype):
        return INT
    if pd.api.types.is_float_dtype(dtype):
        return FLOAT
    if isinstance(dtype, pd.DatetimeTZDtype) or pd.api.types.is_datetime64_dtype(dtype):
        return TIMESTAMP
    if pd.api.types.is_string_dtype(dtype) or pd.api.types.is_object_dtype(dtype):
        inferred = pd.api.types.infer_dtype(series, skipna=True)
        if inferred not in ("string", "empty"):
            raise UnsupportedColumnError(
                f"column {name!r} holds {inferred} values, not only strings; engines would store "
                "them differently, so convert the column to one type first"
            )
        return TEXT
    raise UnsupportedColumnError(
        f"column {name!r} has dtype {dtype}, which the table IO managers do not store; "
        "convert it to float64, int64, bool, a UTC timestamp or string first"
    )


def column_definitions(frame: pd.DataFrame, engine: str, quote) -> str:
    """`"name" TYPE, …` for a CREATE TABLE of the frame's columns on `engine` (sqlite, postgres)."""
    return ", ".join(
        f"{quote(str(c))} {getattr(logical_type(str(c), frame[c]), engine)}" for c in frame.columns
    )


def from_engine(engine_type: str, column: str) -> LogicalType:
    upper = engine_type.upper()
    for candidate in ALL:
        if upper in (candidate.sqlite, candidate.duckdb, candidate.postgres):
            return candidate
    raise UnsupportedColumnError(f"column {column!r} has engine type {engine_type}, not one of ours")


def restore(series: pd.Series, kind: LogicalType) -> pd.Series:
    """Cast a column read from an engine back to the dtype it was written with."""
    if kind is FLOAT:
        return series if series.dtype == np.float64 else series.astype(np.float64)
    if kind is INT:
        if series.dtype == np.int64:
            return series
        return series.astype("Int64" if series.isna().any() else np.int64)
    if kind is BOOL:
        return series.astype("boolean" if series.isna().any() else bool)
    if kind is TIMESTAMP:
        if isinstance(series.dtype, pd.DatetimeTZDtype):
            return series.dt.tz_convert("UTC").astype("datetime64[ns, UTC]")
        return pd.to_datetime(series, utc=True, format="ISO8601").astype("datetime64[ns, UTC]")
    return series.astype(object)


def restore_frame(frame: pd.DataFrame, engine_types: list[tuple[str, str]]) -> pd.DataFrame:
    """Restore every column of a frame read from an engine; columns already right are kept."""
    for name, engine_type in engine_types:
        column = frame[name]
        restored = restore(column, from_engine(engine_type, name))
        if restored is not column:
            frame[name] = restored
    return frame


def arrow_columns(frame: pd.DataFrame) -> pa.Table:
    """The frame as Arrow columns an engine with typed columns stores exactly: a text column
    holding only nulls stays text, and timestamps keep microseconds (the engines' precision;
    Arrow's nanoseconds would need a TIMESTAMP_NS type SQLite has no counterpart for)."""
    table = pa.Table.from_pandas(frame, preserve_index=False)
    for i, field in enumerate(table.schema):
        if pa.types.is_null(field.type):
            table = table.set_column(i, field.name, table.column(i).cast(pa.string()))
        elif pa.types.is_timestamp(field.type) and field.type.unit == "ns":
            micro = pa.timestamp("us", tz=field.type.tz)
            table = table.set_column(i, field.name, table.column(i).cast(micro, safe=False))
    return table
