"""features in the database: raw validated by the engine into a staged table, and the
features checks computed by the engine (the same outcomes as dataset/features.py's)."""

from __future__ import annotations

from dataclasses import dataclass

import dagster as dg
import duckdb

from ml_data_platform.core.contract import features_contract, quality_contract
from ml_data_platform.core.drift import check_drift, check_learned_bounds
from ml_data_platform.core.engine import contract as engine_contract
from ml_data_platform.core.engine.profile import TableColumns, class_counts
from ml_data_platform.core.engine.sql import column_types
from ml_data_platform.core.engine.validation import features_query
from ml_data_platform.core.quality import (
    Outcome,
    contract_outcome,
    quality_score_outcome,
)
from ml_data_platform.dataset.in_database.metadata import class_count_metadata, quality_metadata
from ml_data_platform.dataset.metadata import label_metadata
from ml_data_platform.dataset.plan import DatasetPlan
from ml_data_platform.storage.engine_tables import EngineTable, TableQuery


def features_output(plan: DatasetPlan, raw: EngineTable) -> dg.Output:
    """The features table as a query over raw (refusals raised here, before anything is
    written, with the in-memory path's messages)."""
    with raw.connect() as db:
        sql, tables, report = features_query(db, plan.rules, raw.name)
        names = plan.rules.features_in(list(column_types(db, raw.name)))

    def describe(table: EngineTable) -> dict:
        with table.connect() as db:
            return {
                **quality_metadata(plan.rules, db, table.name, names, "features"),
                **class_count_metadata(db, table.name, plan.spec.target),
            }

    streams = {name: (lambda t=t: t) for name, t in tables.items()}
    metadata = {
        **{k: dg.MetadataValue.int(v) for k, v in report.as_dict().items()},
        **label_metadata(report.label_codes),
    }
    return dg.Output(TableQuery(sql, streams, describe), metadata=metadata)


@dataclass(frozen=True)
class EngineFeatures:
    """A stored features table as the features checks read it."""

    db: duckdb.DuckDBPyConnection
    table: str

    def names(self, plan: DatasetPlan) -> list[str]:
        return plan.features_of(column_types(self.db, self.table))

    def class_counts(self, target: str) -> dict[int, int]:
        return class_counts(self.db, self.table, target)


def _schema(plan: DatasetPlan, i) -> Outcome:
    f: EngineFeatures = i.features
    declared = features_contract(plan.rules, f.names(plan))
    rows, violations = engine_contract.evaluate(f.db, f.table, declared)
    return contract_outcome(rows, violations, declared)


def _quality_score(plan: DatasetPlan, i) -> Outcome:
    f: EngineFeatures = i.features
    rows, bad = engine_contract.invalid_rows(f.db, f.table, quality_contract(plan.rules, f.names(plan)))
    return quality_score_outcome(rows, bad, plan.spec.quality.dqs_threshold)


def _drift(plan: DatasetPlan, i) -> Outcome:
    f: EngineFeatures = i.features
    columns = TableColumns(f.db, f.table)
    return check_drift(columns, f.names(plan), i.previous_profile, plan.spec.quality.drift_psi_threshold)


def _learned_bounds(plan: DatasetPlan, i) -> Outcome:
    f: EngineFeatures = i.features
    columns = TableColumns(f.db, f.table)
    return check_learned_bounds(
        columns, f.names(plan), i.previous_profile, plan.spec.quality.learned_bounds_margin
    )


IN_DATABASE = {
    "features_schema": _schema,
    "features_quality_score": _quality_score,
    "features_drift": _drift,
    "features_learned_bounds": _learned_bounds,
}
