"""DuckDB table storage: Arrow out of the engine, replace-in-a-transaction in."""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pandas as pd
from pydantic import Field

from ml_data_platform.core.engine.sql import text
from ml_data_platform.storage.base import TableIOManager
from ml_data_platform.storage.columns import arrow_columns, restore_frame
from ml_data_platform.storage.duckdb_queries import DESCRIBE as _DESCRIBE
from ml_data_platform.storage.duckdb_queries import DuckDBQueries
from ml_data_platform.storage.errors import TableNotFoundError
from ml_data_platform.storage.versions import Statement
from ml_data_platform.storage.versions import quote_identifier as _quote

_VIEW = "_ml_platform_incoming"
# Writable connections this process holds open, per database file (see _connect).
_WRITERS: dict[str, int] = {}
_WRITERS_LOCK = threading.Lock()


class DuckDBTableIOManager(DuckDBQueries, TableIOManager):
    """Why not the stock `DuckDBPandasIOManager`: it deletes then inserts in separate commits (a
    failed insert leaves an empty table), inserts by position, and fails fast when another
    process holds the file; this one swaps in one transaction, writes the frame's own
    columns, and waits for the file lock with jittered retries. A commit is durable through
    DuckDB's WAL, which DuckDB checkpoints into the file on its own."""

    lock_timeout_s: float = Field(
        120.0,
        gt=0,
        description="DuckDB lets one process open the file at a time: how long to keep retrying "
        "(with jittered backoff) while another process holds it.",
    )

    memory_limit: str = Field(
        "",
        description="DuckDB's memory limit for this process (e.g. '1GB'); beyond it DuckDB spills to "
        "a temporary folder beside the database file. Empty: DuckDB's default, 80% of RAM.",
    )

    def _open(self, read_only: bool) -> duckdb.DuckDBPyConnection:
        deadline = time.monotonic() + self.lock_timeout_s
        delay = 0.02
        while True:
            try:
                return duckdb.connect(self.database, read_only=read_only)
            except duckdb.IOException as error:
                if "lock" not in str(error).lower() or time.monotonic() > deadline:
                    raise
            time.sleep(delay * random.uniform(0.5, 1.5))
            delay = min(delay * 2, 0.5)

    @contextmanager
    def _connect(self, read_only: bool = False) -> Iterator[duckdb.DuckDBPyConnection]:
        """A connection of its own. DuckDB shares one database instance per file within a
        process and refuses a read-only connection beside a read-write one, so a read while
        this process holds a writable connection (an in-database stage) is opened writable."""
        Path(self.database).parent.mkdir(parents=True, exist_ok=True)
        key = str(Path(self.database).resolve())
        with _WRITERS_LOCK:
            read_only = read_only and not _WRITERS.get(key)
            connection = self._open(read_only)
            if not read_only:
                _WRITERS[key] = _WRITERS.get(key, 0) + 1
        try:
            connection.execute("SET TimeZone = 'UTC'")
            if self.memory_limit and not read_only:
                connection.execute(f"SET memory_limit = {text(self.memory_limit)}")
            yield connection
        finally:
            with _WRITERS_LOCK:
                connection.close()
                if not read_only:
                    _WRITERS[key] -= 1

    def engine_errors(self) -> tuple[type[Exception], ...]:
        return (duckdb.Error,)

    def write_table(self, table_name: str, frame: pd.DataFrame, before: Sequence[Statement] = ()) -> None:
        with self._connect() as connection:
            connection.begin()
            try:
                self._apply(connection, before)
                self._replace(connection, table_name, frame)
                connection.commit()
            except BaseException:
                connection.rollback()
                raise

    def _replace(self, connection: duckdb.DuckDBPyConnection, table_name: str, frame: pd.DataFrame) -> None:
        """Swap in the new table; only ever called inside write_table's transaction.

        The frame goes in as Arrow: DuckDB ingests Arrow about 1.6x faster than it scans a
        DataFrame, and pyarrow wraps contiguous numpy columns without copying them."""
        connection.register(_VIEW, arrow_columns(frame))
        try:
            connection.execute(f"CREATE OR REPLACE TABLE {_quote(table_name)} AS SELECT * FROM {_VIEW}")
        finally:
            connection.unregister(_VIEW)

    def execute(self, statements: Sequence[Statement]) -> None:
        with self._connect() as connection:
            connection.begin()
            try:
                self._apply(connection, statements)
                connection.commit()
            except BaseException:
                connection.rollback()
                raise

    @staticmethod
    def _apply(connection: duckdb.DuckDBPyConnection, statements: Sequence[Statement]) -> None:
        """The statements, inside execute's transaction."""
        for sql, params in statements:
            connection.execute(sql, list(params) or None)

    def query(self, sql: str, params: Sequence[Any] = (), requires: str | None = None) -> list[tuple]:
        with self._connect(read_only=True) as connection:
            if (
                requires is not None
                and not connection.execute(
                    "SELECT 1 FROM information_schema.tables WHERE table_schema = 'main' AND table_name = ?",
                    [requires],
                ).fetchall()
            ):
                return []
            return connection.execute(sql, list(params) or None).fetchall()

    def table_columns(self, table_name: str) -> list[tuple[str, str]]:
        if not Path(self.database).is_file():
            return []
        return [tuple(row) for row in self.query(_DESCRIBE, (table_name,))]

    def read_column(self, table_name: str, column: str) -> np.ndarray | None:
        if not self.table_columns(table_name):
            return None
        with self._connect(read_only=True) as connection:
            table = connection.sql(f"SELECT {_quote(column)} FROM {_quote(table_name)}").arrow().read_all()
        return table.column(0).to_numpy()

    def read_table(self, table_name: str, where: str = "", params: Sequence[Any] = ()) -> pd.DataFrame:
        if not Path(self.database).is_file():
            raise TableNotFoundError(table_name)
        with self._connect(read_only=True) as connection:
            described = connection.execute(_DESCRIBE, [table_name]).fetchall()
            if not described:
                raise TableNotFoundError(table_name)
            condition = f" WHERE {where}" if where else ""
            sql = f"SELECT * FROM {_quote(table_name)}{condition}"
            if params:
                frame = connection.execute(sql, list(params)).to_arrow_table()
            else:  # the relation API streams Arrow batches (the path the benchmarks measure)
                frame = connection.sql(sql).arrow().read_all()
        return restore_frame(frame.to_pandas(), described)
