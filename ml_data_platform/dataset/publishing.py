"""The audit's verdict, in storage and in the UI: a check step publishes the versions its run
staged when no blocking check failed, else quarantines them; either way each asset gets an
observation saying so, and every check result carries the verdict.

The observations are also how later steps find the *published* version's metadata (its
profile, class counts, column schema): the latest materialization may be a rejected one.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import dagster as dg

from ml_data_platform.dataset.plan import DatasetPlan

PUBLISHED_RUN = "published_run_id"  # observation metadata: the run whose version is published
PUBLISH_STATUS = "publish_status"
QUARANTINE = "quarantine"
AUDIT_RUN_TAG = "ml_platform/audit_run"  # a checks-only run auditing a quarantined version
LOOKBACK = 100  # materializations / observations searched for the published one


def settle_tables(
    context: dg.AssetCheckExecutionContext,
    plan: DatasetPlan,
    stages: Sequence[str],
    rejected: Mapping[str, str],
) -> dict[str, Any]:
    """Publish or quarantine this run's staged versions of `stages` (all or none); nothing to
    do in a run that staged none of them (checks only)."""
    storage = context.resources.io_manager
    run_id = context.run.run_id
    tables = [plan.table(s) for s in stages]
    if not any(storage.staged(t, run_id) for t in tables):
        return {}
    quarantined = None
    if rejected:
        quarantined = storage.quarantine(tables, run_id, rejection(plan, rejected))
    else:
        storage.publish(tables, run_id)
    return announce(context, plan, stages, quarantined, rejected)


def rejection(plan: DatasetPlan, rejected: Mapping[str, str]) -> dict[str, Any]:
    """What a quarantined version records about why."""
    return {"dataset": plan.name, "failed_checks": dict(rejected)}


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
    for record in instance.fetch_materializations(key, limit=LOOKBACK).records:
        if record.run_id == run_id:
            return {n: e.value for n, e in record.asset_materialization.metadata.items()}
    return None


def audited_run(context: dg.AssetCheckExecutionContext, key: dg.AssetKey) -> str | None:
    """The run whose version of `key` this check step audits: its own (it just wrote one), a
    quarantined one (an audit run), else the published one."""
    records = context.instance.fetch_materializations(key, limit=1).records
    if records and records[0].run_id == context.run.run_id:
        return context.run.run_id
    if tag := context.run.tags.get(AUDIT_RUN_TAG):
        return tag
    published = published_runs(context.instance, key)
    return published[0] if published else None


def audited_metadata(context: dg.AssetCheckExecutionContext, key: dg.AssetKey) -> dict[str, Any] | None:
    """Every metadata value of the audited version's materialization (None: never written)."""
    run = audited_run(context, key)
    if run is not None:
        return _metadata_of(context.instance, key, run)
    records = context.instance.fetch_materializations(key, limit=1).records
    return {n: e.value for n, e in records[0].asset_materialization.metadata.items()} if records else None


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


def published_metadata(
    context: dg.AssetExecutionContext | dg.AssetCheckExecutionContext, key: dg.AssetKey, entry: str
) -> Any:
    """A metadata entry of the published version of `key` (None if absent); history from
    before publishing existed: the latest materialization's."""
    published = published_runs(context.instance, key)
    if published:
        metadata = _metadata_of(context.instance, key, published[0]) or {}
        return metadata.get(entry)
    event = context.instance.get_latest_materialization_event(key)
    metadata = event.asset_materialization.metadata if event else {}
    if PUBLISH_STATUS in metadata:  # written since publishing exists, and never published
        return None
    value = metadata.get(entry)
    return value.value if value is not None else None
