"""PostgreSQL table storage: one database server a team shares.

Rows move through ADBC's PostgreSQL driver as Arrow: it loads with binary `COPY … FROM STDIN`
and reads with `COPY … TO STDOUT`, so no row becomes a Python tuple on the way. DDL is
transactional in PostgreSQL, so a replace, a publish and a partition replace are each one
transaction here too; a reader blocked by a swap re-resolves the name once the lock is free
and sees the old table or the new one.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import adbc_driver_manager
import adbc_driver_postgresql.dbapi as adbc
import numpy as np
import pandas as pd
import pyarrow as pa
from pydantic import Field, PrivateAttr

from ml_data_platform.settings import mask_password
from ml_data_platform.storage import versions as v
from ml_data_platform.storage.base import TableIOManager
from ml_data_platform.storage.columns import arrow_columns, column_definitions, restore_frame
from ml_data_platform.storage.errors import TableNotFoundError, TableTooWideError
from ml_data_platform.storage.versions import quote_identifier as _quote

MAX_IDENTIFIER_BYTES = 63  # NAMEDATALEN - 1: PostgreSQL silently truncates longer names
MAX_COLUMNS = 1600
_LOG_LOCK = 0x6D6C_7066  # advisory lock key: one session at a time creates the versions log
_COLUMNS = (
    "SELECT column_name, data_type FROM information_schema.columns "
    "WHERE table_schema = current_schema() AND table_name = ? ORDER BY ordinal_position"
)
_EXISTS = "SELECT 1 FROM information_schema.tables WHERE table_schema = current_schema() AND table_name = ?"


def numbered_parameters(sql: str) -> str:
    """The shared statements' `?` placeholders as PostgreSQL's `$1, $2, …` (a `?` inside a
    quoted literal or identifier is text, and stays)."""
    out, count, quote = [], 0, None
    for char in sql:
        if quote is not None:
            quote = None if char == quote else quote
        elif char in "'\"":
            quote = char
        elif char == "?":
            count += 1
            out.append(f"${count}")
            continue
        out.append(char)
    return "".join(out)


def _shape_problem(table_name: str, columns: list[str]) -> str | None:
    """What PostgreSQL could not store as given (None: nothing): it holds at most 1,600
    columns and cuts names past 63 bytes silently, which could merge two columns or two
    versions' tables."""
    if len(columns) > MAX_COLUMNS:
        return (
            f"would have {len(columns)} columns, more than PostgreSQL's limit of {MAX_COLUMNS}; "
            "list fewer feature_columns in the catalog"
        )
    long_columns = [c for c in columns if len(c.encode()) > MAX_IDENTIFIER_BYTES]
    if long_columns:
        return (
            f"has column names longer than PostgreSQL's {MAX_IDENTIFIER_BYTES} bytes, which it "
            f"would silently cut: {long_columns[:3]}; rename them in the source or the catalog's columns"
        )
    longest = v.quarantine_name(table_name, "0" * v.RUN_DIGITS)
    if len(longest.encode()) > MAX_IDENTIFIER_BYTES:
        return (
            f"needs names up to {len(longest.encode())} bytes ({longest}), more than PostgreSQL's "
            f"{MAX_IDENTIFIER_BYTES}; use a shorter dataset name"
        )
    return None


class PostgresTableIOManager(TableIOManager):
    """Tables in the URL's database and current schema (`search_path`), quoted by name."""

    INDEX_PARTITIONS = True

    lock_timeout_s: float = Field(
        60.0,
        gt=0,
        description="How long a statement waits for another transaction's lock on a table (a "
        "publish swapping it, a run replacing it) before failing with the reason.",
    )
    _log_ready: bool = PrivateAttr(False)

    def has_database(self) -> bool:
        return True  # the server's database exists before we do; the log table may not

    @property
    def location(self) -> str:
        return mask_password(self.database)

    def engine_errors(self) -> tuple[type[Exception], ...]:
        return (adbc_driver_manager.Error,)

    @contextmanager
    def _connect(self) -> Iterator[adbc.Connection]:
        connection = adbc.connect(self.database)
        try:
            with connection.cursor() as cursor:
                cursor.execute(f"SET lock_timeout = {int(self.lock_timeout_s * 1000)}")
                cursor.execute("SET TimeZone = 'UTC'")
            connection.commit()  # session settings outlive the transactions that follow
            yield connection
        finally:
            connection.close()

    @contextmanager
    def _transaction(self) -> Iterator[adbc.Cursor]:
        with self._connect() as connection, connection.cursor() as cursor:
            try:
                yield cursor
                connection.commit()
            except BaseException:
                with contextlib.suppress(adbc_driver_manager.Error):
                    connection.rollback()
                raise

    @contextmanager
    def publishing_lock(self, dataset: str) -> Iterator[None]:
        """A session advisory lock per dataset on the server, held while a run publishes: runs
        on other hosts share the server, not the file lock. The server releases it if this
        process dies; waiting for it is bounded by lock_timeout_s."""
        with self._connect() as connection, connection.cursor() as cursor:
            key = f"ml_platform/publish/{dataset}"
            cursor.execute("SELECT pg_advisory_lock(hashtext($1))", (key,))
            cursor.fetchall()
            connection.commit()  # the session holds it; no transaction stays open meanwhile
            try:
                yield
            finally:
                cursor.execute("SELECT pg_advisory_unlock(hashtext($1))", (key,))
                cursor.fetchall()
                connection.commit()

    def refuse_shape(self, asset: str, table_name: str, frame: pd.DataFrame) -> None:
        problem = _shape_problem(table_name, [str(c) for c in frame.columns])
        if problem:
            raise TableTooWideError(f"asset {asset}: table {table_name} {problem}")

    def _ensure_log(self, statements: Sequence[v.Statement]) -> None:
        """Create the versions log once, under an advisory lock: concurrent `CREATE TABLE IF
        NOT EXISTS` of one name can fail in PostgreSQL (a unique violation in its catalog)."""
        if self._log_ready or not any(sql == v.LOG_DDL for sql, _ in statements):
            return
        with self._transaction() as cursor:
            cursor.execute(f"SELECT pg_advisory_xact_lock({_LOG_LOCK})")
            cursor.execute(v.LOG_DDL)
        self._log_ready = True

    @staticmethod
    def _apply(cursor: adbc.Cursor, statements: Sequence[v.Statement]) -> None:
        for sql, params in statements:
            if sql != v.LOG_DDL:  # created by _ensure_log
                cursor.execute(numbered_parameters(sql), tuple(params) or None)

    def write_table(self, table_name: str, frame: pd.DataFrame, before: Sequence[v.Statement] = ()) -> None:
        arrow = arrow_columns(frame)
        self._ensure_log(before)
        with self._transaction() as cursor:
            self._apply(cursor, before)
            self._replace(cursor, table_name, frame, arrow)

    def _replace(self, cursor: adbc.Cursor, table_name: str, frame: pd.DataFrame, arrow: pa.Table) -> None:
        """Drop, create and COPY in; only ever called inside write_table's transaction."""
        columns_sql = column_definitions(frame, "postgres", _quote)
        cursor.execute(f"DROP TABLE IF EXISTS {_quote(table_name)}")
        cursor.execute(f"CREATE TABLE {_quote(table_name)} ({columns_sql})")
        if arrow.num_rows:
            cursor.adbc_ingest(table_name, arrow, mode="append")

    def execute(self, statements: Sequence[v.Statement]) -> None:
        self._ensure_log(statements)
        with self._transaction() as cursor:
            self._apply(cursor, statements)

    def query(self, sql: str, params: Sequence[Any] = (), requires: str | None = None) -> list[tuple]:
        with self._connect() as connection, connection.cursor() as cursor:
            rows: list[tuple] = []
            if requires is not None:
                cursor.execute(numbered_parameters(_EXISTS), (requires,))
            if requires is None or cursor.fetchall():
                cursor.execute(numbered_parameters(sql), tuple(params) or None)
                rows = cursor.fetchall()
            connection.rollback()
        return rows

    def table_columns(self, table_name: str) -> list[tuple[str, str]]:
        return [tuple(row) for row in self.query(_COLUMNS, (table_name,))]

    def read_column(self, table_name: str, column: str) -> np.ndarray | None:
        table = self._fetch(table_name, f"SELECT {_quote(column)} FROM {_quote(table_name)}")
        return None if table is None else table.column(0).to_numpy()

    def read_table(self, table_name: str, where: str = "", params: Sequence[Any] = ()) -> pd.DataFrame:
        condition = f" WHERE {where}" if where else ""
        fetched = self._fetch(table_name, f"SELECT * FROM {_quote(table_name)}{condition}", params, True)
        if fetched is None:
            raise TableNotFoundError(table_name)
        table, info = fetched
        return restore_frame(table.to_pandas(), info)

    def _fetch(self, table_name: str, sql: str, params: Sequence[Any] = (), typed: bool = False):
        """The query's rows as Arrow (and the table's column types, if `typed`), read in one
        transaction; None when the table does not exist."""
        with self._connect() as connection, connection.cursor() as cursor:
            cursor.execute(numbered_parameters(_COLUMNS), (table_name,))
            info = [tuple(row) for row in cursor.fetchall()]
            if not info:
                return None
            cursor.execute(numbered_parameters(sql), tuple(params) or None)
            table = cursor.fetch_arrow_table()
            connection.rollback()
        return (table, info) if typed else table
