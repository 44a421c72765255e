"""SQLite table storage: the embedded default, one database file, WAL journal."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Literal

import pandas as pd
from pydantic import Field

from ml_data_platform.io_managers.base import TableIOManager, TableNotFoundError
from ml_data_platform.io_managers.columns import TIMESTAMP, from_engine, logical_type, restore
from ml_data_platform.lib.faults import pause_point


def _quote(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


def _column_values(series: pd.Series) -> list:
    """Python values sqlite3 binds exactly (NaN/NaT become NULL)."""
    if logical_type(str(series.name), series) is TIMESTAMP:
        text = series.dt.tz_convert("UTC").dt.strftime("%Y-%m-%dT%H:%M:%S.%f+00:00")
        return text.where(series.notna(), None).tolist()
    if series.dtype == object:
        return series.where(series.notna(), None).tolist()
    return series.tolist()


class SQLiteTableIOManager(TableIOManager):
    """Our own IO manager on the public API: replace-in-a-transaction, exact dtypes on read."""

    busy_timeout_ms: int = Field(
        60_000, description="How long a writer waits for another connection's lock before failing."
    )
    synchronous: Literal["FULL", "NORMAL"] = Field(
        "FULL",
        description="SQLite synchronous mode under WAL: FULL makes each committed write survive "
        "power loss; NORMAL may lose the last commits on power loss (never on a process crash).",
    )

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        Path(self.database).parent.mkdir(parents=True, exist_ok=True)
        connection = sqlite3.connect(self.database, timeout=self.busy_timeout_ms / 1000, isolation_level=None)
        try:
            connection.execute(f"PRAGMA busy_timeout = {int(self.busy_timeout_ms)}")
            connection.execute("PRAGMA journal_mode = WAL")
            connection.execute(f"PRAGMA synchronous = {self.synchronous}")
            yield connection
        finally:
            connection.close()

    def write_table(self, table_name: str, frame: pd.DataFrame) -> None:
        with self._connect() as connection:
            connection.execute("BEGIN IMMEDIATE")
            try:
                self._replace(connection, table_name, frame)
                pause_point("table_write", table_name)
                connection.execute("COMMIT")
            except BaseException:
                connection.execute("ROLLBACK")
                raise

    def _replace(self, connection: sqlite3.Connection, table_name: str, frame: pd.DataFrame) -> None:
        """Drop, create and fill the table; only ever called inside write_table's transaction."""
        names = [str(c) for c in frame.columns]
        kinds = [logical_type(n, frame[c]) for n, c in zip(names, frame.columns, strict=True)]
        columns_sql = ", ".join(f"{_quote(n)} {k.sqlite}" for n, k in zip(names, kinds, strict=True))
        insert_sql = (
            f"INSERT INTO {_quote(table_name)} ({', '.join(map(_quote, names))}) "
            f"VALUES ({', '.join('?' for _ in names)})"
        )
        columns = [_column_values(frame[c]) for c in frame.columns]
        connection.execute(f"DROP TABLE IF EXISTS {_quote(table_name)}")
        connection.execute(f"CREATE TABLE {_quote(table_name)} ({columns_sql})")
        connection.executemany(insert_sql, zip(*columns, strict=True))

    def read_table(self, table_name: str) -> pd.DataFrame:
        if not Path(self.database).is_file():
            raise TableNotFoundError(table_name)
        with self._connect() as connection:
            info = connection.execute(f"PRAGMA table_info({_quote(table_name)})").fetchall()
            if not info:
                raise TableNotFoundError(table_name)
            names = [row[1] for row in info]
            kinds = [from_engine(row[2], row[1]) for row in info]
            rows = connection.execute(f"SELECT * FROM {_quote(table_name)}").fetchall()
        frame = pd.DataFrame.from_records(rows, columns=names, coerce_float=False)
        for name, kind in zip(names, kinds, strict=True):
            frame[name] = restore(frame[name], kind)
        return frame
