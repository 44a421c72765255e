"""The benchmark's graph as a job `dg.execute_job` can rebuild (it needs a module-level target).

The environment picks the catalog, backend and data dir (ML_PLATFORM_*) and whether the checks
run (BENCH_CHECKS=0 leaves them out). The baseline model is left out: the floor and seed
variants have no such stage.
"""

from __future__ import annotations

import os

import dagster as dg

from ml_data_platform.definitions import build_definitions


def wanted(definition) -> bool:
    keys = [*definition.keys, *(k.asset_key for k in getattr(definition, "check_keys", []))]
    return not any(key.path[-1] == "baseline_model" for key in keys)


def selected_definitions(defs: dg.Definitions) -> list:
    checks = os.environ.get("BENCH_CHECKS", "1") == "1"
    return [d for d in [*defs.assets, *(defs.asset_checks if checks else [])] if wanted(d)]


def bench_job() -> dg.JobDefinition:
    defs = build_definitions()
    assets = [d for d in defs.assets if wanted(d)]
    return dg.Definitions(
        assets=assets,
        asset_checks=[d for d in selected_definitions(defs) if d not in assets],
        resources=defs.resources,
        jobs=[dg.define_asset_job("bench", selection=dg.AssetSelection.all())],
        executor=dg.in_process_executor,
    ).resolve_job_def("bench")
