"""column_schema_change on every stored table of a dataset: the last two recorded column
schemas compared and summarized (Dagster's own builder lists every column, unreadable for
wide tables). One step for all tables: the check reads metadata only."""

import dagster as dg

from ml_data_platform.core.quality import Outcome, check_schema_change
from ml_data_platform.dataset.checking import to_result
from ml_data_platform.dataset.plan import COLUMN_SCHEMA, TABLE_STAGES, DatasetPlan

SCHEMA_CHANGE = "column_schema_change"


def column_schema(record: dg.EventLogRecord) -> dict[str, str] | None:
    entry = record.asset_materialization.metadata.get(COLUMN_SCHEMA)
    return {c.name: c.type for c in entry.value.columns} if entry is not None else None


def build(plan: DatasetPlan) -> tuple[list[dg.AssetsDefinition], list[dg.AssetChecksDefinition]]:
    specs = [
        dg.AssetCheckSpec(
            SCHEMA_CHANGE,
            asset=plan.key(stage),
            blocking=False,
            description="Columns added, removed or retyped since the previous materialization (WARN).",
        )
        for stage in TABLE_STAGES
    ]

    @dg.multi_asset_check(specs=specs, can_subset=True, name=f"{plan.name}__column_schema_checks")
    def schema_step(context: dg.AssetCheckExecutionContext):
        for spec in specs:
            if spec.key not in context.selected_asset_check_keys:
                continue
            records = context.instance.fetch_materializations(spec.asset_key, limit=2).records
            if not records:
                outcome = Outcome(False, f"{spec.asset_key.to_user_string()} was never materialized")
            else:
                previous = column_schema(records[1]) if len(records) > 1 else None
                outcome = check_schema_change(previous, column_schema(records[0]) or {})
            yield to_result(spec.key, outcome)

    return [], [schema_step]
