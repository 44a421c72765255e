"""export in the database: each split's files streamed from the engine (untouched, and
model-ready as SQL over the fitted statistics) into the same version folder and manifest."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import dagster as dg
import pyarrow as pa

from ml_data_platform.core.engine.preprocessing import model_ready_select
from ml_data_platform.core.engine.sql import column_types, columns, quote
from ml_data_platform.dataset.in_database.metadata import content_version
from ml_data_platform.dataset.in_database.progress import progress_log
from ml_data_platform.dataset.plan import DatasetPlan
from ml_data_platform.storage.engine_tables import EngineTable

BATCH_ROWS = 122_880  # DuckDB's row group: batches arrive whole
NANOSECONDS = pa.timestamp("ns", tz="UTC")  # what the in-memory exports hold


def as_exported(schema: pa.Schema) -> pa.Schema:
    """Timestamps as the in-memory exports have them (nanoseconds, UTC)."""
    return pa.schema([pa.field(f.name, NANOSECONDS) if pa.types.is_timestamp(f.type) else f for f in schema])


def stream(table: EngineTable, sql: str, progress: Callable[[int, int], None]) -> pa.RecordBatchReader:
    """The query's rows as Arrow batches, read while the file is written (its connection
    stays open until the last batch)."""
    with table.connect() as db:
        schema = as_exported(db.sql(f"SELECT * FROM ({sql}) LIMIT 0").to_arrow_table().schema)
        total = int(db.execute(f"SELECT count(*) FROM {quote(table.name)}").fetchall()[0][0])

    def batches() -> Iterator[pa.RecordBatch]:
        done = 0
        with table.connect() as db:
            for batch in db.sql(sql).to_arrow_reader(BATCH_ROWS):
                done += batch.num_rows
                yield batch.cast(schema)
                progress(done, total)

    return pa.RecordBatchReader.from_batches(schema, batches())


def untouched_select(table: str, names: list[str], target: str) -> str:
    """export_frame's columns: id, features, label, event time and ingestion time."""
    return (
        f"SELECT sample_index, {columns(names)}, {quote(target)}, ingested_at AS event_timestamp, "
        f"ingested_at FROM {quote(table)}"
    )


def export_streams(
    plan: DatasetPlan,
    context: dg.AssetExecutionContext,
    artifact: dict[str, Any],
    tables: dict[str, EngineTable],
) -> tuple[list[str], dict, dict, dict[str, str]]:
    """(feature names, untouched and model-ready streams per split, each split's content
    version), for stage_exports."""
    target = plan.spec.target
    with tables["train"].connect() as db:
        names = plan.features_of(column_types(db, tables["train"].name))
        versions = {plan.key(n).to_user_string(): content_version(db, t.name) for n, t in tables.items()}

    def lazily(name: str, table: EngineTable, sql: str, what: str) -> Callable[[], pa.RecordBatchReader]:
        return lambda: stream(table, sql, progress_log(context.log, f"{plan.name}/export {name}{what}"))

    frames = {n: lazily(n, t, untouched_select(t.name, names, target), "") for n, t in tables.items()}
    ready = {
        n: lazily(n, t, model_ready_select(artifact, t.name, target), " (model-ready)")
        for n, t in tables.items()
    }
    return names, frames, ready, versions
