"""The one `defs`: every catalog dataset's graph, with the storage the environment chooses."""

from __future__ import annotations

import dagster as dg

from ml_data_platform.assets import build_dataset_assets
from ml_data_platform.catalog import load_catalog
from ml_data_platform.checks import build_dataset_checks, check_op_name
from ml_data_platform.io_managers import DuckDBTableIOManager, SQLiteTableIOManager, TableIOManager
from ml_data_platform.resources import ExportStore
from ml_data_platform.sensors import build_failure_sensor, build_landing_sensor
from ml_data_platform.settings import Settings, Storage

ALL_DATASETS_JOB = "all_datasets"
CHECKS_ONLY_JOB = "checks_only"


def checks_job_name(dataset: str) -> str:
    return f"{dataset}_checks"


def last_readers(datasets: list[str]) -> dict[str, str]:
    """Where each stage's in-run copy can go: raw's checks gate features, so features is the
    last to read raw; the split checks gate train, so they read features after everyone else."""
    readers = {}
    for name in datasets:
        readers[f"{name}__raw"] = f"{name}__features"
        readers[f"{name}__features"] = check_op_name(name, "train")
    return readers


def table_io_manager(settings: Settings, datasets: list[str] = ()) -> TableIOManager:
    managers = {Storage.sqlite: SQLiteTableIOManager, Storage.duckdb: DuckDBTableIOManager}
    return managers[settings.storage](
        database=str(settings.database_path), last_readers=last_readers(list(datasets))
    )


def build_definitions(settings: Settings | None = None) -> dg.Definitions:
    settings = settings or Settings.from_env()
    catalog = load_catalog(settings.catalog_path)
    assets = [a for spec in catalog.datasets for a in build_dataset_assets(spec)]
    checks = [c for spec in catalog.datasets for c in build_dataset_checks(spec)]
    asset_keys = [key for a in assets for key in a.keys]
    jobs = [
        dg.define_asset_job(
            ALL_DATASETS_JOB,
            selection=dg.AssetSelection.all(),
            description="Every dataset's graph, raw to export.",
        ),
        dg.define_asset_job(
            CHECKS_ONLY_JOB,
            selection=dg.AssetSelection.all_asset_checks(),
            description="Every asset check against what is stored now; materializes nothing.",
        ),
    ]
    for name in catalog.names():
        group = dg.AssetSelection.groups(name)
        jobs += [
            dg.define_asset_job(
                f"{name}_job", selection=group, description=f"The {name} graph, raw to export."
            ),
            dg.define_asset_job(
                checks_job_name(name),
                selection=dg.AssetSelection.checks_for_assets(*(k for k in asset_keys if k.path[0] == name)),
                description=f"The {name} checks against what is stored now; materializes nothing.",
            ),
        ]
    landing = [
        sensor
        for spec in catalog.datasets
        if (sensor := build_landing_sensor(spec, f"{spec.name}_job")) is not None
    ]
    return dg.Definitions(
        assets=assets,
        asset_checks=checks,
        jobs=jobs,
        sensors=[build_failure_sensor(settings), *landing],
        resources={
            "io_manager": table_io_manager(settings, catalog.names()),
            "exports": ExportStore(data_dir=str(settings.data_dir)),
        },
        # Small graphs: a process per step would cost more than the work (and fight DuckDB's lock).
        executor=dg.in_process_executor,
    )


@dg.definitions
def defs() -> dg.Definitions:
    return build_definitions()


def all_datasets_job() -> dg.JobDefinition:
    """The all_datasets job from the environment's settings, for `dg.reconstructable`.

    `dg.execute_job` runs it without keeping every step's output in memory, which
    `execute_in_process` does (for its result object): at a million rows that is a copy of
    every stage held until the run ends."""
    return build_definitions().resolve_job_def(ALL_DATASETS_JOB)
