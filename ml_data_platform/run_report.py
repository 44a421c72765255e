"""What a finished run tells its user: a summary per dataset and, last, why it failed.

Read from the run's events, so it serves `ml-data-platform run` and the failure sensor alike.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from typing import Protocol

import dagster as dg

from ml_data_platform.dataset.publishing import QUARANTINE
from ml_data_platform.settings import Settings
from ml_data_platform.storage.exports import ExportError, read_manifest

CHECK_FAILED = "DagsterAssetCheckFailedError"  # a step's error when its blocking check failed
DESCRIPTION_WIDTH = 240  # a check's description in the summary; the UI keeps the whole text


class RunResult(Protocol):
    """What the report reads from `execute_in_process` and `execute_job` results alike."""

    @property
    def success(self) -> bool: ...
    @property
    def all_events(self) -> Sequence[dg.DagsterEvent]: ...
    @property
    def dagster_run(self) -> dg.DagsterRun: ...
    def get_asset_check_evaluations(self) -> Sequence[dg.AssetCheckEvaluation]: ...


def shorten(text: str, width: int = DESCRIPTION_WIDTH) -> str:
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 1] + "…"


def user_error(event: dg.DagsterEvent) -> str:
    """The error a step failed with, as the user's code raised it: Dagster's wrappers are
    skipped, and so is what the user's error was raised from (its own message already
    explains it; Arrow's "magic bytes" behind 'is not a Parquet file' would not)."""
    error = event.step_failure_data.error if event.step_failure_data else None
    while error is not None and error.cls_name and error.cls_name.startswith("Dagster") and error.cause:
        error = error.cause
    if error is None:
        return "unknown error"
    message = error.message.strip()
    qualified, _, rest = message.partition(": ")
    if error.cls_name and qualified.endswith(error.cls_name):
        message = f"{error.cls_name}: {rest}"  # drop the module path
    return message


def dataset_of(step_key: str, datasets: Iterable[str]) -> str:
    prefix = step_key.split("__", 1)[0]
    return prefix if prefix in set(datasets) else "(run)"


def failures_by_dataset(result: RunResult, datasets: Sequence[str]) -> dict[str, list[str]]:
    """Per dataset: each failed step with its error, then each failed blocking ERROR check."""
    reasons: dict[str, list[str]] = defaultdict(list)
    for event in result.all_events:
        if event.is_step_failure and event.step_key:
            error = user_error(event)
            if not error.startswith(CHECK_FAILED):  # the failed checks themselves say why, below
                reasons[dataset_of(event.step_key, datasets)].append(f"step {event.step_key} failed: {error}")
    kept: dict[str, list[str]] = defaultdict(list)
    for evaluation in result.get_asset_check_evaluations():
        dataset = evaluation.asset_key.path[0]
        if not evaluation.passed and evaluation.severity is dg.AssetCheckSeverity.ERROR:
            reasons[dataset].append(
                f"check {evaluation.asset_key.to_user_string()}:{evaluation.check_name} failed: "
                f"{shorten(evaluation.description or '')}"
            )
        entry = evaluation.metadata.get(QUARANTINE)
        if entry is not None and entry.value not in kept[dataset]:
            kept[dataset].append(entry.value)
    for dataset, names in kept.items():
        first = names[0].split(", ")[0]
        reasons[dataset].append(
            f"the rejected version is quarantined as {', '.join(names)}; the published data is "
            f"unchanged (inspect: ml-data-platform quarantine show {first})"
        )
    return dict(reasons)


def exported_in(result: RunResult) -> set[str]:
    """Datasets whose export this run wrote and did not have quarantined."""
    rejected = {e.asset_key.path[0] for e in result.get_asset_check_evaluations() if QUARANTINE in e.metadata}
    return {
        event.asset_key.path[0]
        for event in result.all_events
        if event.is_step_materialization and event.asset_key and event.asset_key.path[-1] == "export"
    } - rejected


def summarize(settings: Settings, result: RunResult, datasets: list[str]) -> str:
    """One line per dataset: this run's split sizes and checks, and its failed checks below.
    A dataset this run did not export shows no row counts: an earlier export is not this run's."""
    checks: dict[str, list[dg.AssetCheckEvaluation]] = defaultdict(list)
    for evaluation in result.get_asset_check_evaluations():
        checks[evaluation.asset_key.path[0]].append(evaluation)
    exported = exported_in(result)
    header = f"{'dataset':<24} {'train':>8} {'val':>8} {'test':>8}  {'checks':<16} export"
    lines = [f"storage: {settings.storage.value} ({settings.database_label})", header, "-" * len(header)]
    for name in datasets:
        passed = sum(e.passed for e in checks[name])
        failed = [e for e in checks[name] if not e.passed]
        out_dir = settings.exports_dir / name
        rows: dict[str, int] = {}
        where = str(out_dir)
        if name in exported:
            rows = {k: v["rows"] for k, v in read_manifest(out_dir)["splits"].items()}
        else:
            try:
                read_manifest(out_dir)
                where = f"not updated by this run (the earlier export at {out_dir} is kept)"
            except ExportError:
                where = "(not exported)"
        counts = [str(rows.get(s, "-")) for s in ("train", "val", "test")]
        status = f"{passed} passed" + (f", {len(failed)} FAILED" if failed else "")
        lines.append(f"{name:<24} {counts[0]:>8} {counts[1]:>8} {counts[2]:>8}  {status:<16} {where}")
        for evaluation in failed:
            lines.append(
                f"  FAILED {evaluation.asset_key.to_user_string()}:{evaluation.check_name}: "
                f"{shorten(evaluation.description or '')}"
            )
    return "\n".join(lines)


def failure_block(result: RunResult, datasets: Sequence[str], log: str) -> str:
    """The last thing a failed run prints: per dataset, what failed and why."""
    reasons = failures_by_dataset(result, datasets)
    lines = [f"Run failed (recorded in {log}):"]
    for name in [*datasets, "(run)"]:
        if name in reasons:
            lines.append(f"  {name}:")
            lines += [f"    - {reason}" for reason in reasons[name]]
    if len(lines) == 1:
        lines.append("  see the run in the Dagster UI (make ui)")
    return "\n".join(lines)
