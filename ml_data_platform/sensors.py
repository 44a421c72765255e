"""Failed runs recorded where the README says: `<data_dir>/run_failures.jsonl`."""

from __future__ import annotations

from datetime import UTC, datetime

import dagster as dg

from ml_data_platform.lib.failures import record_failure
from ml_data_platform.settings import Settings


def failure_record(
    run: dg.DagsterRun, step_failures: list[dg.DagsterEvent], settings: Settings, message: str
) -> dict:
    steps = []
    for event in step_failures:
        error = event.step_failure_data.error if event.step_failure_data else None
        while error is not None and error.cause is not None:
            error = error.cause
        steps.append({"step": event.step_key, "error": error.message.strip() if error else None})
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
