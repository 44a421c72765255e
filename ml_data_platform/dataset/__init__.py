"""The Dagster layer: one module per stage, each building that stage's asset(s) and the
checks that guard them; `build_dataset` puts one catalog entry's graph together."""

from __future__ import annotations

import dagster as dg

from ml_data_platform.dataset import export, features, model, raw, schema, splits
from ml_data_platform.dataset.plan import DatasetPlan, check_op_name

STAGE_MODULES = (raw, features, splits, model, export, schema)

__all__ = ["DatasetPlan", "build_dataset", "check_op_name"]


def build_dataset(plan: DatasetPlan) -> tuple[list[dg.AssetsDefinition], list[dg.AssetChecksDefinition]]:
    """Every asset and check of one dataset, stage by stage."""
    assets: list[dg.AssetsDefinition] = []
    checks: list[dg.AssetChecksDefinition] = []
    for module in STAGE_MODULES:
        stage_assets, stage_checks = module.build(plan)
        assets += stage_assets
        checks += stage_checks
    return assets, checks
