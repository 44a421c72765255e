"""raw: the source's rows as they came, stamped with sample_index and ingested_at, and the
checks that gate them: declared shape, completeness, data quality score, row-count bounds."""

from dataclasses import dataclass
from datetime import UTC, datetime

import dagster as dg
import pandas as pd

from ml_data_platform.catalog import SyntheticSource
from ml_data_platform.core.contract import quality_contract, raw_contract
from ml_data_platform.core.quality import (
    Outcome,
    check_completeness,
    check_contract,
    check_quality_score,
    check_raw,
    shape_and_contract,
)
from ml_data_platform.core.validation import ValidationError, validate_features, validation_outcome
from ml_data_platform.dataset.checking import Check, check_group, run_checks, with_engine
from ml_data_platform.dataset.in_database import raw as in_database
from ml_data_platform.dataset.metadata import quality_metadata, versioned_output
from ml_data_platform.dataset.plan import DatasetPlan
from ml_data_platform.sources.partitions import read_partitions
from ml_data_platform.sources.readers import read_source, stamp_raw
from ml_data_platform.storage.engine_tables import Rows


@dataclass(frozen=True)
class RawInputs:
    raw: pd.DataFrame


def _schema(plan: DatasetPlan, raw: pd.DataFrame) -> Outcome:
    spec = plan.spec
    contract = check_contract(raw, raw_contract(plan.rules, plan.rules.features_in(list(raw.columns))))
    expected = spec.source.n_samples if isinstance(spec.source, SyntheticSource) else None
    shape = check_raw(
        raw,
        [*(spec.feature_columns or []), spec.target],
        expected,
        spec.min_rows,
        positional_index=spec.identity_column() is None,
        max_rows=spec.quality.max_rows,
    )
    return shape_and_contract(shape, contract)


def _validates(plan: DatasetPlan, raw: pd.DataFrame) -> Outcome:
    """The features stage's own validation, run here so that rows it would refuse never
    replace the published raw table (they are quarantined instead)."""
    try:
        _, report = validate_features(plan.rules, raw)
    except ValidationError as error:
        return validation_outcome(len(raw), error, plan.spec.min_rows)
    return validation_outcome(report.rows_in, report, plan.spec.min_rows)


def raw_checks(plan: DatasetPlan) -> list[Check]:
    spec, q = plan.spec, plan.spec.quality

    def names(raw: pd.DataFrame) -> list[str]:
        return plan.rules.features_in(list(raw.columns))

    return [
        Check(
            "raw_schema_and_row_count",
            "Declared columns present, numeric unless categorical, sample_index unique, rows within "
            "[min_rows, quality.max_rows] (and exactly n_samples for synthetic data).",
            lambda i: _schema(plan, i.raw),
        ),
        Check(
            "raw_validates",
            "The rows pass the validation the features stage applies (types, target, non-finite "
            "values, duplicates, classes, rows left): what it would refuse is never published.",
            lambda i: _validates(plan, i.raw),
        ),
        Check(
            "raw_completeness",
            "Share of null/non-finite values per column within the limit.",
            lambda i: check_completeness(i.raw, [*names(i.raw), spec.target], q.max_null_fraction),
        ),
        Check(
            "raw_quality_score",
            "Data quality score of the raw rows (valid rows / rows × 100).",
            lambda i: check_quality_score(
                i.raw, quality_contract(plan.rules, names(i.raw), stage="raw"), q.dqs_threshold
            ),
        ),
    ]


def build(plan: DatasetPlan) -> tuple[list[dg.AssetsDefinition], list[dg.AssetChecksDefinition]]:
    spec = plan.spec

    @dg.asset(
        **plan.table_asset("raw"),
        description=f"{spec.description} Rows as they came from the {spec.source.type} source, "
        "plus sample_index and ingested_at; never edited afterwards."
        + (f" One partition per {spec.partitions.by.value}." if plan.partitioned else ""),
    )
    def raw(context: dg.AssetExecutionContext) -> dg.Output:
        if plan.in_database:
            return in_database.raw_output(plan, context)
        rows = read_partitions(spec, context.partition_keys) if plan.partitioned else read_source(spec)
        frame = stamp_raw(rows, datetime.now(UTC), spec.identity_column(), plan.name)
        return versioned_output(
            frame,
            metadata={
                "source": dg.MetadataValue.json(spec.source.model_dump(mode="json")),
                **quality_metadata(plan.rules, frame, plan.rules.features_in(list(frame.columns)), "raw"),
            },
        )

    checks = with_engine(raw_checks(plan), plan, in_database.IN_DATABASE)

    @check_group(plan, "raw", checks, ins=plan.ins("raw"))
    def raw_step(context: dg.AssetCheckExecutionContext, raw: Rows):
        if not plan.in_database:
            yield from run_checks(context, plan, "raw", checks, RawInputs(raw))
            return
        with raw.connect() as db:
            yield from run_checks(context, plan, "raw", checks, in_database.EngineRawInputs(db, raw.name))

    return [raw], [raw_step]
