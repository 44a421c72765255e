"""raw in the database: the source's rows streamed or scanned into a staged table, and raw's
checks computed by the engine (the same outcomes as dataset/raw.py's)."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, datetime

import dagster as dg
import duckdb
import pandas as pd

from ml_data_platform.catalog import SyntheticSource
from ml_data_platform.core.contract import quality_contract, raw_contract
from ml_data_platform.core.engine import contract as engine_contract
from ml_data_platform.core.engine.profile import bad_shares
from ml_data_platform.core.engine.sql import column_types, quote
from ml_data_platform.core.engine.validation import features_query
from ml_data_platform.core.quality import (
    Outcome,
    RawShape,
    completeness_outcome,
    contract_outcome,
    quality_score_outcome,
    raw_outcome,
    shape_and_contract,
)
from ml_data_platform.core.validation import ValidationError, validation_outcome
from ml_data_platform.dataset.in_database.metadata import quality_metadata
from ml_data_platform.dataset.in_database.progress import progress_log
from ml_data_platform.dataset.in_database.sources import file_select, synthetic_tables
from ml_data_platform.dataset.plan import DatasetPlan
from ml_data_platform.storage.engine_tables import CHUNK, EngineTable, TableQuery


@dataclass(frozen=True)
class EngineRawInputs:
    db: duckdb.DuckDBPyConnection
    raw: str  # the table audited


def raw_output(plan: DatasetPlan, context: dg.AssetExecutionContext) -> dg.Output:
    """The raw table as a query the IO manager stages in the engine."""
    spec = plan.spec
    ingested_at = pd.Timestamp(datetime.now(UTC)).floor("us").to_pydatetime()
    if isinstance(spec.source, SyntheticSource):
        progress = progress_log(context.log, f"{plan.name}/raw: generating")
        query = TableQuery(
            f"SELECT * FROM {CHUNK}", chunks=lambda: synthetic_tables(spec, ingested_at, progress)
        )
    else:
        # A text value past the rows DuckDB sniffs types from fails the scan; scanned again
        # with every row sniffed, its column reads as text and the raw check names it.
        query = TableQuery(
            lambda db: file_select(db, spec, ingested_at),
            retyped=lambda db: file_select(db, spec, ingested_at, sniff_every_row=True),
        )

    def describe(table: EngineTable) -> dict:
        with table.connect() as db:
            names = plan.rules.features_in(list(column_types(db, table.name)))
            return quality_metadata(plan.rules, db, table.name, names, "raw")

    source = {"source": dg.MetadataValue.json(spec.source.model_dump(mode="json"))}
    return dg.Output(replace(query, describe=describe), metadata=source)


def _schema(plan: DatasetPlan, i: EngineRawInputs) -> Outcome:
    spec, db = plan.spec, i.db
    found = list(column_types(db, i.raw))
    declared = raw_contract(plan.rules, plan.rules.features_in(found))
    rows, violations = engine_contract.evaluate(db, i.raw, declared)
    contract = contract_outcome(rows, violations, declared)
    positional = spec.identity_column() is None
    index_ok = _index_ok(db, i.raw, positional) if "sample_index" in found else None
    expected = spec.source.n_samples if isinstance(spec.source, SyntheticSource) else None
    shape = raw_outcome(
        RawShape(found, rows, index_ok),
        [*(spec.feature_columns or []), spec.target],
        expected,
        spec.min_rows,
        positional_index=positional,
        max_rows=spec.quality.max_rows,
    )
    return shape_and_contract(shape, contract)


def _index_ok(db: duckdb.DuckDBPyConnection, table: str, positional: bool) -> bool:
    """sample_index is 0..n-1 in order (positional), or strictly increasing (ids)."""
    if not positional:
        return engine_contract.strictly_increasing(db, table, "sample_index")
    return not db.execute(f"SELECT count(*) FROM {quote(table)} WHERE sample_index <> rowid").fetchall()[0][0]


def _validates(plan: DatasetPlan, i: EngineRawInputs) -> Outcome:
    try:
        _, _, report = features_query(i.db, plan.rules, i.raw)
    except ValidationError as error:
        rows = int(i.db.execute(f"SELECT count(*) FROM {quote(i.raw)}").fetchall()[0][0])
        return validation_outcome(rows, error, plan.spec.min_rows)
    return validation_outcome(report.rows_in, report, plan.spec.min_rows)


def _completeness(plan: DatasetPlan, i: EngineRawInputs) -> Outcome:
    names = plan.rules.features_in(list(column_types(i.db, i.raw)))
    shares = bad_shares(i.db, i.raw, [*names, plan.spec.target])
    return completeness_outcome(shares, plan.spec.quality.max_null_fraction)


def _quality_score(plan: DatasetPlan, i: EngineRawInputs) -> Outcome:
    names = plan.rules.features_in(list(column_types(i.db, i.raw)))
    rows, bad = engine_contract.invalid_rows(i.db, i.raw, quality_contract(plan.rules, names, stage="raw"))
    return quality_score_outcome(rows, bad, plan.spec.quality.dqs_threshold)


IN_DATABASE = {
    "raw_schema_and_row_count": _schema,
    "raw_validates": _validates,
    "raw_completeness": _completeness,
    "raw_quality_score": _quality_score,
}
