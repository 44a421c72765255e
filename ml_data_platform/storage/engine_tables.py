"""In-database datasets: what the table IO manager hands a stage instead of rows, and what the
stage hands back instead of a DataFrame (Dagster's "assets that run SQL in the warehouse").

A stage reads an `EngineTable` (a stored table's name and a way to open the database) and
returns a `TableQuery` (SELECT text, plus any Arrow streams it scans); the IO manager runs
`CREATE TABLE <staged version> AS <query>` inside the engine, in the same transaction that
records the version, so the rows never pass through Python and write-audit-publish holds.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from typing import Any

import duckdb
import pyarrow as pa

from ml_data_platform.core.engine.sql import quote

# What a stage's input is annotated with: a pandas DataFrame, or an EngineTable for datasets
# that run in the database. (Dagster checks annotated input types; this one it leaves alone.)
Rows = Any


@dataclass(frozen=True)
class EngineTable:
    """A stored table (published, this run's staged version, or a quarantined one under
    audit) on the engine that holds it."""

    name: str
    connect: Callable[[], AbstractContextManager[duckdb.DuckDBPyConnection]] = field(repr=False)
    location: str = ""


@dataclass(frozen=True)
class TableQuery:
    """A stage's output computed by the engine.

    `sql` is a SELECT over stored tables (by the names the stage was handed) and the Arrow
    `streams` registered under their keys (or a function making it on the writing
    connection, for a SELECT that must look at its sources first); `describe` (optional)
    gets the written table and returns the output's metadata, computed in the engine too.
    """

    sql: str | Callable[[duckdb.DuckDBPyConnection], str]  # or made on the writing connection
    streams: Mapping[str, Callable[[], Any]] = field(default_factory=dict)  # Arrow readers or tables
    describe: Callable[[EngineTable], dict[str, Any]] | None = None
    # Rows made in Python (a generator's chunks): each Arrow table is registered as CHUNK
    # and `sql` (over CHUNK) run on it, the first creating the table, the rest appending,
    # in order, each in a commit of its own (one transaction would hold every uncommitted
    # row in memory). A whole table ingests in parallel; a stream of batches on one thread.
    chunks: Callable[[], Iterator[pa.Table]] | None = None
    # The SELECT to run instead (same form as `sql`) when `sql` fails converting a value to
    # the type the engine guessed for its column: a CSV whose later rows break the types
    # sniffed from its first ones, scanned again with every row sniffed.
    retyped: Callable[[duckdb.DuckDBPyConnection], str] | None = None


CHUNK = "_ml_chunk"


def preview_markdown(db: duckdb.DuckDBPyConnection, table: str, rows: int) -> str:
    frame = db.execute(f"SELECT * FROM {quote(table)} LIMIT {rows}").df()
    return frame.to_markdown(index=False, floatfmt=".4g")


@contextmanager
def registered(db: duckdb.DuckDBPyConnection, streams: Mapping[str, Callable[[], Any]]) -> Iterator[None]:
    """Each stream (an Arrow reader or table, made on demand) registered under its name for
    the statement inside; unregistered after."""
    for name, make in streams.items():
        db.register(name, make())
    try:
        yield
    finally:
        for name in streams:
            db.unregister(name)
