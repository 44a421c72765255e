"""Sensors: failed runs recorded in `<data_dir>/run_failures.jsonl`; landing files start runs."""

from __future__ import annotations

from datetime import UTC, datetime

import dagster as dg

from ml_data_platform.catalog import DatasetSpec, FileSource
from ml_data_platform.run_report import user_error
from ml_data_platform.settings import Settings
from ml_data_platform.sources.readers import file_set_fingerprint
from ml_data_platform.storage.failures import record_failure


def failure_record(
    run: dg.DagsterRun, step_failures: list[dg.DagsterEvent], settings: Settings, message: str
) -> dict:
    steps = []
    for event in step_failures:
        steps.append({"step": event.step_key, "error": user_error(event)})
    return {
        "recorded_at": datetime.now(UTC).isoformat(),
        "run_id": run.run_id,
        "job": run.job_name,
        "assets": sorted(k.to_user_string() for k in (run.asset_selection or [])),
        "failed_steps": steps,
        "message": message,
        "storage": settings.storage.value,
        "database": str(settings.database_path),
    }


def build_failure_sensor(settings: Settings) -> dg.SensorDefinition:
    @dg.run_failure_sensor(
        name="record_run_failures",
        default_status=dg.DefaultSensorStatus.RUNNING,
        description=f"Appends every failed run to {settings.data_dir}/run_failures.jsonl.",
    )
    def record_run_failures(context: dg.RunFailureSensorContext) -> None:
        record = failure_record(
            context.dagster_run,
            context.get_step_failure_events(),
            settings,
            context.failure_event.message or "",
        )
        record_failure(settings.data_dir, record)

    return record_run_failures


def build_landing_sensor(spec: DatasetSpec, job_name: str) -> dg.SensorDefinition | None:
    """New or changed files in a file source's path start one run of that dataset's graph."""
    if not isinstance(spec.source, FileSource):
        return None
    source = spec.source

    @dg.sensor(
        name=f"{spec.name}_landing",
        job_name=job_name,
        minimum_interval_seconds=30,
        default_status=dg.DefaultSensorStatus.RUNNING,
        description=f"Runs {job_name} when the files under {source.path} change.",
    )
    def landing(context: dg.SensorEvaluationContext):
        fingerprint = file_set_fingerprint(source)
        if fingerprint is None:
            return dg.SkipReason(f"no {source.format.value} files at {source.path}")
        if fingerprint == context.cursor:
            return dg.SkipReason("no new or changed files since the last run request")
        context.update_cursor(fingerprint)
        return dg.RunRequest(run_key=f"{spec.name}-{fingerprint}", tags={"landing": fingerprint})

    return landing
