"""Sensors: failed runs recorded in `<data_dir>/run_failures.jsonl`; landing files start runs
(and become partitions, for a dataset partitioned by file)."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import dagster as dg

from ml_data_platform.catalog import DatasetSpec, FileSource
from ml_data_platform.catalog.incremental import PartitionBy
from ml_data_platform.dataset.partitioning import (
    RANGE_END,
    RANGE_START,
    files_partitions_name,
    partitions_to_run,
)
from ml_data_platform.run_report import user_error
from ml_data_platform.settings import Settings
from ml_data_platform.sources.readers import file_set_fingerprint, source_files
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
        "database": settings.database_label,
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
    """New or changed files in a file source's path start a run of that dataset's graph: of
    just the new or changed files' partitions (by file), of the days the files hold (by day),
    or of the whole graph (unpartitioned)."""
    if not isinstance(spec.source, FileSource):
        return None
    source = spec.source
    evaluate = _file_partitions if spec.partitions and spec.partitions.by is PartitionBy.file else _whole

    @dg.sensor(
        name=f"{spec.name}_landing",
        job_name=job_name,
        minimum_interval_seconds=30,
        default_status=dg.DefaultSensorStatus.RUNNING,
        description=f"Runs {job_name} when the files under {source.path} change.",
    )
    def landing(context: dg.SensorEvaluationContext):
        return evaluate(spec, context)

    return landing


def _whole(spec: DatasetSpec, context: dg.SensorEvaluationContext):
    """One run of the dataset per change of its file set (by day: over the days it holds)."""
    source: FileSource = spec.source
    fingerprint = file_set_fingerprint(source)
    if fingerprint is None:
        return dg.SkipReason(f"no {source.format.value} files at {source.path}")
    if fingerprint == context.cursor:
        return dg.SkipReason("no new or changed files since the last run request")
    context.update_cursor(fingerprint)
    tags = {"landing": fingerprint}
    if spec.partitions is not None:  # by day: one run over the days the files hold
        _, days = partitions_to_run(context.instance, spec)
        if not days:
            return dg.SkipReason(f"no rows on a completed day since {spec.partitions.start}")
        tags |= {RANGE_START: days[0], RANGE_END: days[-1]}
    return dg.RunRequest(run_key=f"{spec.name}-{fingerprint}", tags=tags)


def _file_partitions(spec: DatasetSpec, context: dg.SensorEvaluationContext):
    """Each new file becomes a partition, and each new or rewritten file's partition runs on
    its own: a bad file is quarantined without holding the others back."""
    source: FileSource = spec.source
    seen = json.loads(context.cursor) if context.cursor else {}
    current = {p.name: f"{p.stat().st_size}:{p.stat().st_mtime_ns}" for p in source_files(source)}
    changed = [name for name, stamp in current.items() if seen.get(name) != stamp]
    if not changed:
        return dg.SkipReason(f"no new or changed files at {source.path}")
    known = set(context.instance.get_dynamic_partitions(files_partitions_name(spec.name)))
    new = [name for name in changed if name not in known]
    context.update_cursor(json.dumps(current, sort_keys=True))
    return dg.SensorResult(
        run_requests=[
            dg.RunRequest(partition_key=name, run_key=f"{spec.name}-{name}-{current[name]}")
            for name in changed
        ],
        dynamic_partitions_requests=(
            [dg.AddDynamicPartitionsRequest(files_partitions_name(spec.name), new)] if new else []
        ),
    )
