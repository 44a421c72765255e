"""The one `defs`: every catalog dataset's graph, with the storage the environment chooses."""

from __future__ import annotations

import os

import dagster as dg

from ml_data_platform.catalog import load_catalog
from ml_data_platform.catalog.execution import runs_in_database
from ml_data_platform.dataset import DatasetPlan, build_dataset
from ml_data_platform.dataset.plan import TABLE_STAGES
from ml_data_platform.resources import ExportStore
from ml_data_platform.sensors import build_failure_sensor, build_landing_sensor
from ml_data_platform.settings import STORAGE_ENV, Executor, Settings, Storage
from ml_data_platform.storage.base import TableIOManager
from ml_data_platform.storage.duckdb import DuckDBTableIOManager
from ml_data_platform.storage.postgres import PostgresTableIOManager
from ml_data_platform.storage.sqlite import SQLiteTableIOManager

ALL_DATASETS_JOB = "all_datasets"
# workspace.yaml's location_name and [tool.dagster] code_location_name; a Definitions object
# is served as the repository "__repository__".
CODE_LOCATION = "ml_data_platform"
REPOSITORY_LABEL = f"__repository__@{CODE_LOCATION}"
CHECKS_ONLY_JOB = "checks_only"


# Step workers fork from a server that has imported the platform once: a spawned worker would
# import dagster, pandas and scikit-learn again for every step (seconds each).
MULTIPROCESS = dg.multiprocess_executor.configured(
    {"start_method": {"forkserver": {"preload_modules": [__name__]}}}
)


def checks_job_name(dataset: str) -> str:
    return f"{dataset}_checks"


def dataset_job_name(dataset: str) -> str:
    return f"{dataset}_job"


def table_io_manager(
    settings: Settings, plans: list[DatasetPlan] = (), read_versions: dict[str, str] | None = None
) -> TableIOManager:
    managers = {
        Storage.sqlite: SQLiteTableIOManager,
        Storage.duckdb: DuckDBTableIOManager,
        Storage.postgres: PostgresTableIOManager,
    }
    readers = {table: op for plan in plans for table, op in plan.last_readers().items()}
    auditors = {table: op for plan in plans for table, op in plan.audit_readers().items()}
    in_database = [plan.table(stage) for plan in plans if plan.in_database for stage in TABLE_STAGES]
    engine = {"memory_limit": settings.duckdb_memory_limit} if settings.storage is Storage.duckdb else {}
    return managers[settings.storage](
        database=settings.database,
        last_readers=readers,
        audit_readers=auditors,
        quarantine_days=settings.quarantine_days,
        read_versions=read_versions or {},
        engine_tables=in_database,
        **engine,
    )


def export_store(settings: Settings) -> ExportStore:
    return ExportStore(
        data_dir=str(settings.data_dir),
        quarantine_days=settings.quarantine_days,
        export_url=settings.export_url or "",
        retention_days=settings.export_retention_days,
    )


def build_definitions(
    settings: Settings | None = None, read_versions: dict[str, str] | None = None
) -> dg.Definitions:
    """`read_versions` (table -> quarantined version) audits rejected versions in place of the
    published tables (ml-data-platform check --quarantined)."""
    settings = settings or Settings.from_env()
    catalog = load_catalog(settings.catalog_path)
    plans = [DatasetPlan(spec, runs_in_database(spec, settings.storage.value)) for spec in catalog.datasets]
    assets: list[dg.AssetsDefinition] = []
    checks: list[dg.AssetChecksDefinition] = []
    for plan in plans:
        plan_assets, plan_checks = build_dataset(plan)
        assets += plan_assets
        checks += plan_checks
    asset_keys = [key for a in assets for key in a.keys]
    whole = [plan.name for plan in plans if not plan.partitioned]
    jobs = [
        dg.define_asset_job(
            ALL_DATASETS_JOB,
            selection=dg.AssetSelection.groups(*whole),
            description="Every unpartitioned dataset's graph, raw to export (a partitioned dataset "
            "runs as its own <dataset>_job, one run per partition range).",
        ),
        dg.define_asset_job(
            CHECKS_ONLY_JOB,
            selection=dg.AssetSelection.all_asset_checks(),
            description="Every asset check against what is stored now; materializes nothing.",
        ),
    ]
    for plan in plans:
        name = plan.name
        group = dg.AssetSelection.groups(name)
        jobs += [
            dg.define_asset_job(
                dataset_job_name(name),
                selection=group,
                partitions_def=plan.partitions,
                description=f"The {name} graph, raw to export"
                + (
                    " (raw and features for the run's partitions; the rest from every partition)."
                    if plan.partitioned
                    else "."
                ),
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
        if (sensor := build_landing_sensor(spec, dataset_job_name(spec.name))) is not None
    ]
    return dg.Definitions(
        assets=assets,
        asset_checks=checks,
        jobs=jobs,
        sensors=[build_failure_sensor(settings), *landing],
        resources={
            "io_manager": table_io_manager(settings, plans, read_versions),
            "exports": export_store(settings),
        },
        # In-process by default: for small graphs a process per step costs more than the work
        # (and DuckDB lets one process at a time open its file). Multiprocess suits PostgreSQL.
        executor=MULTIPROCESS if settings.executor is Executor.multiprocess else dg.in_process_executor,
    )


@dg.definitions
def defs() -> dg.Definitions:
    return build_definitions()


def all_datasets_job(storage: str | None = None) -> dg.JobDefinition:
    """The all_datasets job from the environment's settings (and `storage`, when given, in
    place of ML_PLATFORM_STORAGE), for `dg.build_reconstructable_job`.

    `dg.execute_job` runs it without keeping every step's output in memory, which
    `execute_in_process` does (for its result object): at a million rows that is a copy of
    every stage held until the run ends."""
    settings = Settings.from_env({**os.environ, **({STORAGE_ENV: storage} if storage else {})})
    return build_definitions(settings).resolve_job_def(ALL_DATASETS_JOB)


def dataset_job(dataset: str, storage: str | None = None) -> dg.JobDefinition:
    """One dataset's job (a partitioned dataset's runs take a partition range), for
    `dg.build_reconstructable_job`, like `all_datasets_job`."""
    settings = Settings.from_env({**os.environ, **({STORAGE_ENV: storage} if storage else {})})
    return build_definitions(settings).resolve_job_def(dataset_job_name(dataset))
