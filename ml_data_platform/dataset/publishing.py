"""The audit's verdict, in storage and in the UI. A run stages every table and export it
writes; a check step whose blocking checks fail quarantines all of the run's versions of the
dataset, and the run's last audit publishes them all together, so the published raw,
features, splits and exports always come from one run. Each asset gets an observation
saying what happened, and every check result carries the verdict.

The observations are also how later steps find the *published* version's metadata (its
profile, class counts, column schema): the latest materialization may be a rejected one.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import timedelta
from pathlib import Path
from typing import Any

import dagster as dg

from ml_data_platform.dataset.plan import TABLE_STAGES, DatasetPlan
from ml_data_platform.resources import ExportStore
from ml_data_platform.storage.artifacts import ARTIFACT, artifact_for_run, artifact_staged, publish_artifact
from ml_data_platform.storage.base import TableIOManager
from ml_data_platform.storage.export_versions import (
    prune_quarantined_exports,
    publish_export,
    publishing_lock,
    quarantine_export,
    staged_export,
)
from ml_data_platform.storage.object_exports import version_name
from ml_data_platform.storage.versions import Version

PUBLISHED_RUN = "published_run_id"  # observation metadata: the run whose version is published
PUBLISH_STATUS = "publish_status"
QUARANTINE = "quarantine"
AUDIT_RUN_TAG = "ml_platform/audit_run"  # a checks-only run auditing a quarantined version
LOOKBACK = 20  # recent materializations / observations searched for a run's version


# The stages whose check steps audit a run's versions, in the order a run reaches them. The
# last of them in a run publishes every version the run staged for the dataset, together.
AUDITORS = ("raw", "features", "train", "baseline_model", "export")


def final_auditor(
    context: dg.AssetExecutionContext | dg.AssetCheckExecutionContext, plan: DatasetPlan
) -> str | None:
    """The last auditing stage whose check step is part of this run (its job's nodes)."""
    nodes = {node.name for node in context.job_def.nodes}
    present = [stage for stage in AUDITORS if plan.check_op(stage) in nodes]
    return present[-1] if present else None


def settle(
    context: dg.AssetCheckExecutionContext, plan: DatasetPlan, stage: str, rejected: Mapping[str, str]
) -> dict[str, Any]:
    """The verdict on every version this run staged for the dataset, tables and export alike:
    all quarantined when this step's blocking checks failed; all published, together, by the
    run's last audit; else they wait for it. Nothing to do in a checks-only run."""
    tables = context.resources.io_manager
    exports = context.resources.exports
    run_id = context.run.run_id
    in_run = tables.staged_in_run(run_id)
    staged = {s: in_run[plan.table(s)] for s in TABLE_STAGES if plan.table(s) in in_run}
    out_dir = exports.dataset_dir(plan.name)
    folder = staged_export(out_dir, run_id)
    fitted = artifact_staged(plan.artifact_path(exports), run_id)
    # the baseline stores nothing but its scores: they are published with the run's versions
    scored = _metadata_of(context.instance, plan.key("baseline_model"), run_id) is not None
    stages = [
        *staged,
        *(["preprocessor"] if fitted else []),
        *(["baseline_model"] if scored else []),
        *(["export"] if folder else []),
    ]
    if not stages:
        return {}
    if rejected:
        details = rejection(plan, stage, rejected)
        names = tables.quarantine(list(staged.values()), details)
        if folder is not None:
            names.append(quarantine_export(out_dir, folder, details).name)
        return announce(context, plan, stages, names, rejected)
    later = final_auditor(context, plan)
    if later != stage:
        # not yet published: the run's last audit publishes it (its observation says so)
        return {PUBLISH_STATUS: f"passed; published with the run's versions when {plan.name}/{later} passes"}
    publish_together(tables, exports, plan, run_id, list(staged.values()), folder)
    return announce(context, plan, stages, None, rejected)


def publish_together(
    tables: TableIOManager,
    exports: ExportStore,
    plan: DatasetPlan,
    run_id: str,
    staged: list[Version],
    folder: Path | None,
) -> None:
    """Publish a run's tables, fitted preprocessor and export (and its object-storage copy)
    under the dataset's publishing locks, so no other run's versions land in between."""
    out_dir = exports.dataset_dir(plan.name)
    remote = exports.remote() if folder is not None else None
    if remote is not None:  # uploaded first: no reader sees it until the pointer names it
        fit = artifact_for_run(plan.artifact_path(exports), run_id)  # the one the manifest names
        remote.upload(plan.name, folder, {ARTIFACT: fit} if fit.is_file() else {})
    # on this host (the file lock) and, for a shared database, on its server
    with tables.publishing_lock(plan.name), publishing_lock(out_dir):
        tables.publish(staged)
        publish_artifact(plan.artifact_path(exports), run_id, exports.quarantine_days * 86400)
        if folder is not None:
            publish_export(out_dir, folder, locked=True)
        if remote is not None:
            remote.point(plan.name, version_name(folder))
    if folder is not None:
        prune_quarantined_exports(out_dir.parent, timedelta(days=exports.quarantine_days))
    if remote is not None:
        remote.prune(plan.name, timedelta(days=exports.retention_days))


def rejection(plan: DatasetPlan, stage: str, rejected: Mapping[str, str]) -> dict[str, Any]:
    """What a quarantined version records about why (the whole run's versions share it)."""
    return {"dataset": plan.name, "rejected_at": stage, "failed_checks": dict(rejected)}


def announce(
    context: dg.AssetCheckExecutionContext,
    plan: DatasetPlan,
    stages: Sequence[str],
    quarantined: Sequence[str] | None,
    rejected: Mapping[str, str],
) -> dict[str, Any]:
    """The verdict as an observation per asset, in the run's log, and for the check results."""
    run_id = context.run.run_id
    if quarantined is None:
        verdict: dict[str, Any] = {"published": True}
    else:
        verdict = {"published": False, QUARANTINE: ", ".join(quarantined)}
        context.log.error(
            f"{plan.name}: rejected by {', '.join(rejected)}; the published version is unchanged "
            f"and the rejected one is kept as {verdict[QUARANTINE]}"
        )
    for stage in stages:
        context.op_execution_context.log_event(
            dg.AssetObservation(
                asset_key=plan.key(stage),
                metadata={
                    PUBLISH_STATUS: "published" if verdict["published"] else "quarantined",
                    **({PUBLISHED_RUN: run_id} if verdict["published"] else {}),
                    **({QUARANTINE: verdict[QUARANTINE]} if not verdict["published"] else {}),
                },
            )
        )
    return verdict


def published_runs(instance: dg.DagsterInstance, key: dg.AssetKey) -> list[str]:
    """Runs whose version of `key` was published (or released), newest first."""
    runs: list[str] = []
    for record in instance.fetch_observations(key, limit=LOOKBACK).records:
        observation = record.event_log_entry.asset_observation
        entry = observation.metadata.get(PUBLISHED_RUN) if observation else None
        if entry is not None and entry.value not in runs:
            runs.append(entry.value)
    return runs


def _metadata_of(instance: dg.DagsterInstance, key: dg.AssetKey, run_id: str) -> dict[str, Any] | None:
    """The metadata of run `run_id`'s materialization of `key`, searched newest first two
    records a page: the run wanted is nearly always among the newest, and each record carries
    the whole profile (megabytes for a wide table), so fetching many at once is the cost."""
    cursor = None
    for _ in range(LOOKBACK // 2):
        page = instance.fetch_materializations(key, limit=2, cursor=cursor)
        for record in page.records:
            if record.run_id == run_id:
                return {n: e.value for n, e in record.asset_materialization.metadata.items()}
        if not page.has_more:
            return None
        cursor = page.cursor
    return None


def _other_run(
    context: dg.AssetExecutionContext | dg.AssetCheckExecutionContext, key: dg.AssetKey
) -> str | None:
    """The version a step reads when its own run wrote none: the quarantined one it audits
    (an audit run), else the published one."""
    if tag := context.run.tags.get(AUDIT_RUN_TAG):
        return tag
    published = published_runs(context.instance, key)
    return published[0] if published else None


def audited_run(
    context: dg.AssetExecutionContext | dg.AssetCheckExecutionContext, key: dg.AssetKey
) -> str | None:
    """The run whose version of `key` this step reads: its own (it wrote one), a quarantined
    one (an audit run), else the published one."""
    if _metadata_of(context.instance, key, context.run.run_id) is not None:
        return context.run.run_id
    return _other_run(context, key)


def audited_metadata(
    context: dg.AssetExecutionContext | dg.AssetCheckExecutionContext, key: dg.AssetKey
) -> dict[str, Any] | None:
    """Every metadata value of the materialization of the version this step reads: its own
    run's, the quarantined one it audits, else the published one (None: never written)."""
    own = _metadata_of(context.instance, key, context.run.run_id)
    if own is not None:
        return own
    run = _other_run(context, key)
    if run is not None:
        return _metadata_of(context.instance, key, run)
    records = context.instance.fetch_materializations(key, limit=1).records
    return {n: e.value for n, e in records[0].asset_materialization.metadata.items()} if records else None


def published_metadata(
    context: dg.AssetExecutionContext | dg.AssetCheckExecutionContext, key: dg.AssetKey
) -> dict[str, Any]:
    """Every metadata value of the newest published version of `key` from another run (empty
    when there is none)."""
    runs = [r for r in published_runs(context.instance, key) if r != context.run.run_id]
    return (_metadata_of(context.instance, key, runs[0]) or {}) if runs else {}


def reference_metadata(context: dg.AssetCheckExecutionContext, key: dg.AssetKey) -> dict[str, Any]:
    """Every metadata value of the published version the audited one is compared with (empty
    when there is none). History from before publishing existed: the previous materialization."""
    audited = audited_run(context, key)
    published = [r for r in published_runs(context.instance, key) if r != audited]
    if published:
        return _metadata_of(context.instance, key, published[0]) or {}
    records = context.instance.fetch_materializations(key, limit=2).records
    if len(records) < 2 or PUBLISH_STATUS in records[1].asset_materialization.metadata:
        return {}
    return {n: e.value for n, e in records[1].asset_materialization.metadata.items()}
