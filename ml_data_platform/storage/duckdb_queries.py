"""In-database stages on DuckDB: the tables a stage queries (EngineTable) and the staged
tables the engine computes for it (TableQuery), mixed into DuckDBTableIOManager."""

from __future__ import annotations

import dagster as dg
import duckdb

from ml_data_platform.storage import versions as v
from ml_data_platform.storage.base import PREVIEW_ROWS, table_name_for
from ml_data_platform.storage.columns import from_engine
from ml_data_platform.storage.engine_tables import (
    CHUNK,
    EngineTable,
    TableQuery,
    preview_markdown,
    registered,
)
from ml_data_platform.storage.errors import EmptyResultError, StorageError, engine_reason
from ml_data_platform.storage.versions import quote_identifier as quote

DESCRIBE = (
    "SELECT column_name, data_type FROM information_schema.columns "
    "WHERE table_schema = 'main' AND table_name = ? ORDER BY ordinal_position"
)


def _refuse_empty(asset: str, rows: int, allowed: bool) -> None:
    if not rows and not allowed:
        raise EmptyResultError(
            f"asset {asset} produced no rows; its table keeps its previous contents. Fix the "
            "upstream data, or set allow_empty=True on the IO manager to store empty tables"
        )


class DuckDBQueries:
    """Needs the manager's _connect, execute, clean_up, location and version bookkeeping."""

    def engine_table(self, name: str) -> EngineTable:
        return EngineTable(name, connect=self._connect, location=self.database)

    def write_query(self, context: dg.OutputContext, query: TableQuery) -> None:
        """CREATE TABLE <staged version> AS <query>, recorded in the same transaction (a
        table of Python chunks: recorded first); the output's metadata (row count, schema,
        preview, and the stage's own) from the engine."""
        table_name = table_name_for(context.asset_key)
        asset = context.asset_key.to_user_string()
        audited = bool((context.definition_metadata or {}).get(v.PUBLISH_AFTER_AUDIT))
        if not self._cleaned:
            self.clean_up()
            self._cleaned = True
        target, register = v.register_staged(table_name, context.run_id) if audited else (table_name, [])
        try:
            with self._connect() as db:
                rows = self._create_from_query(db, asset, target, query, register)
        except self.engine_errors() as error:
            raise StorageError(
                f"asset {asset}: computing table {table_name} in {self.location} failed, the previous "
                f"table is kept: {engine_reason(error)}"
            ) from None
        if audited:
            self._staged_here.setdefault(context.run_id, {})[table_name] = v.Version.from_row(register[-1][1])
        written = self.engine_table(target)
        with self._connect() as db:
            described = db.execute(DESCRIBE, [target]).fetchall()
            preview = preview_markdown(db, target, PREVIEW_ROWS)
        columns = [dg.TableColumn(name=n, type=from_engine(t, n).name) for n, t in described]
        status = "awaiting audit: published if its blocking checks pass" if audited else "published"
        context.add_output_metadata(
            {
                "dagster/row_count": dg.MetadataValue.int(rows),
                "dagster/column_schema": dg.TableSchema(columns=columns),
                "dagster/table_name": dg.MetadataValue.text(table_name),
                "preview": dg.MetadataValue.md(preview),
                **({"staged_as": dg.MetadataValue.text(target)} if audited else {}),
                "publish_status": dg.MetadataValue.text(status),
                **(query.describe(written) if query.describe else {}),
            }
        )

    def _append_chunks(
        self, db: duckdb.DuckDBPyConnection, asset: str, target: str, query: TableQuery, register
    ) -> int:
        """A table made of Python chunks, each appended in a commit of its own: one
        transaction would hold every uncommitted row in memory. The version is recorded
        first, so a crash midway leaves a record the next cleanup drops it by; a failure
        drops the partial table at once."""
        if register:
            self.execute(register)
        create = f"CREATE OR REPLACE TABLE {quote(target)} AS {query.sql}"
        try:
            for chunk in query.chunks():
                db.register(CHUNK, chunk)
                try:
                    db.execute(create)
                finally:
                    db.unregister(CHUNK)
                create = f"INSERT INTO {quote(target)} {query.sql}"
            created = db.execute(
                "SELECT count(*) FROM duckdb_tables() WHERE table_name = ?", [target]
            ).fetchall()[0][0]
            rows = int(db.execute(f"SELECT count(*) FROM {quote(target)}").fetchall()[0][0]) if created else 0
            _refuse_empty(asset, rows, self.allow_empty)
        except BaseException:
            forget = [(f"DELETE FROM {v.LOG} WHERE name = ?", (target,))] if register else []
            self.execute([(f"DROP TABLE IF EXISTS {quote(target)}", ()), *forget])
            raise
        return rows

    def _create_from_query(
        self, db: duckdb.DuckDBPyConnection, asset: str, target: str, query: TableQuery, register
    ) -> int:
        if query.chunks is not None:
            return self._append_chunks(db, asset, target, query, register)
        try:
            return self._create_in_transaction(db, asset, target, query.sql, query.streams, register)
        except duckdb.ConversionException:
            if query.retyped is None:
                raise
        return self._create_in_transaction(db, asset, target, query.retyped, query.streams, register)

    def _create_in_transaction(self, db, asset: str, target: str, sql, streams, register) -> int:
        db.begin()
        try:
            self._apply(db, register)
            with registered(db, streams):
                select = sql(db) if callable(sql) else sql
                db.execute(f"CREATE OR REPLACE TABLE {quote(target)} AS {select}")
            rows = int(db.execute(f"SELECT count(*) FROM {quote(target)}").fetchall()[0][0])
            _refuse_empty(asset, rows, self.allow_empty)
            db.commit()
        except BaseException:
            db.rollback()
            raise
        return rows
