"""column_schema_change on every stored table of a dataset: the audited version's recorded
column schema against the published one's, summarized (Dagster's own builder lists every
column, unreadable for wide tables). One step for all tables: the check reads metadata only."""

import dagster as dg

from ml_data_platform.core.quality import Outcome, check_schema_change
from ml_data_platform.dataset.checking import to_result
from ml_data_platform.dataset.plan import COLUMN_SCHEMA, TABLE_STAGES, DatasetPlan
from ml_data_platform.dataset.publishing import audited_metadata, reference_metadata

SCHEMA_CHANGE = "column_schema_change"


def column_schema(metadata: dict) -> dict[str, str] | None:
    entry = metadata.get(COLUMN_SCHEMA)
    return {c.name: c.type for c in entry.columns} if entry is not None else None


def build(plan: DatasetPlan) -> tuple[list[dg.AssetsDefinition], list[dg.AssetChecksDefinition]]:
    specs = [
        dg.AssetCheckSpec(
            SCHEMA_CHANGE,
            asset=plan.key(stage),
            blocking=False,
            description="Columns added, removed or retyped since the published version (WARN).",
        )
        for stage in TABLE_STAGES
    ]

    @dg.multi_asset_check(specs=specs, can_subset=True, name=f"{plan.name}__column_schema_checks")
    def schema_step(context: dg.AssetCheckExecutionContext):
        for spec in specs:
            if spec.key not in context.selected_asset_check_keys:
                continue
            audited = audited_metadata(context, spec.asset_key)
            if audited is None:
                outcome = Outcome(False, f"{spec.asset_key.to_user_string()} was never materialized")
            else:
                previous = column_schema(reference_metadata(context, spec.asset_key))
                outcome = check_schema_change(previous, column_schema(audited) or {})
            yield to_result(spec.key, outcome)

    return [], [schema_step]
