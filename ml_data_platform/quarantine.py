"""`ml-data-platform quarantine`: the rejected versions, kept for inspection.

A table version lives as `quarantine__<table>__<run>` in the warehouse, an export version as
`exports/.<dataset>.quarantine-<run>`; both record the run, when, and the failed checks.
Releasing one publishes it on purpose, as a Dagster run of its own (so the run history and
the asset's events say who replaced the published data, and with what).
"""

import json
from dataclasses import dataclass
from datetime import timedelta

import dagster as dg
import pandas as pd
import pyarrow.parquet as pq

from ml_data_platform.dataset.publishing import PUBLISH_STATUS, PUBLISHED_RUN, QUARANTINE
from ml_data_platform.definitions import build_definitions, table_io_manager
from ml_data_platform.settings import Settings
from ml_data_platform.storage.artifacts import ARTIFACT, publish_artifact
from ml_data_platform.storage.export_versions import (
    drop_export,
    prune_quarantined_exports,
    publishing_lock,
    quarantined_exports,
    release_export,
)
from ml_data_platform.storage.object_exports import ObjectExports
from ml_data_platform.storage.versions import QUARANTINED, Version, VersionNotFoundError

RELEASE_JOB = "quarantine_release"
RELEASED_TAG = "ml_platform/released"


@dataclass(frozen=True)
class Rejected:
    """One quarantined version, table or export."""

    version: Version
    kind: str  # "table" | "export"

    @property
    def asset_key(self) -> dg.AssetKey:
        if self.kind == "export":
            return dg.AssetKey([self.version.base, "export"])
        return dg.AssetKey(self.version.base.split("__"))

    def why(self) -> str:
        failed = self.version.details.get("failed_checks", {})
        why = "; ".join(f"{name}: {reason}" for name, reason in failed.items()) or "(no reason recorded)"
        parts = self.version.details.get("partitions")
        return f"partition(s) {', '.join(parts)}: {why}" if parts else why


def rejected_versions(settings: Settings) -> list[Rejected]:
    """Every quarantined version, oldest first (past-retention ones are pruned first)."""
    tables = table_io_manager(settings)
    tables.clean_up()
    prune_quarantined_exports(settings.exports_dir, timedelta(days=settings.quarantine_days))
    found = [Rejected(v, "table") for v in tables.versions() if v.state == QUARANTINED]
    if settings.exports_dir.is_dir():
        found += [Rejected(v, "export") for v in quarantined_exports(settings.exports_dir)]
    return sorted(found, key=lambda r: r.version.created_at)


def find(settings: Settings, name: str, found: list[Rejected] | None = None) -> Rejected:
    for rejected in found if found is not None else rejected_versions(settings):
        if rejected.version.name == name:
            return rejected
    raise VersionNotFoundError(
        f"no quarantined version named {name!r} (storage {settings.storage.value}, data in "
        f"{settings.data_dir}); `ml-data-platform quarantine list` shows them"
    )


def list_text(settings: Settings, dataset: str | None = None) -> str:
    rows = [r for r in rejected_versions(settings) if dataset is None or r.asset_key.path[0] == dataset]
    if not rows:
        return f"no quarantined versions (storage {settings.storage.value}, data in {settings.data_dir})"
    lines = [f"{'name':<48} {'asset':<28} {'run':<12} {'quarantined at (UTC)':<20} why"]
    for r in rows:
        lines.append(
            f"{r.version.name:<48} {r.asset_key.to_user_string():<28} {r.version.run_id[:8]:<12} "
            f"{r.version.created_at.strftime('%Y-%m-%d %H:%M:%S'):<20} {r.why()}"
        )
    days = settings.quarantine_days
    lines.append(f"\nkept {days:g} days after quarantine (ML_PLATFORM_QUARANTINE_DAYS), then pruned")
    return "\n".join(lines)


def sample(settings: Settings, rejected: Rejected, rows: int) -> pd.DataFrame:
    if rejected.kind == "export":
        folder = settings.exports_dir / rejected.version.name
        return pq.ParquetFile(folder / "train.parquet").read().slice(0, rows).to_pandas()
    return table_io_manager(settings).read_head(rejected.version.name, rows)


def show_text(settings: Settings, name: str, rows: int) -> str:
    rejected = find(settings, name)
    head = sample(settings, rejected, rows)
    return "\n".join(
        [
            f"name:     {rejected.version.name} ({rejected.kind})",
            f"asset:    {rejected.asset_key.to_user_string()}",
            f"run:      {rejected.version.run_id}",
            f"when:     {rejected.version.created_at.isoformat()}",
            "why:      " + json.dumps(rejected.version.details.get("failed_checks", {}), indent=2),
            f"first {len(head)} rows" + (" of train" if rejected.kind == "export" else "") + ":",
            head.to_string(max_cols=12),
        ]
    )


def drop(settings: Settings, name: str) -> str:
    rejected = find(settings, name)
    if rejected.kind == "export":
        drop_export(settings.exports_dir, name)
    else:
        table_io_manager(settings).drop_version(name)
    return f"dropped {name}"


def together(settings: Settings, name: str) -> list[Rejected]:
    """The version `name` and what goes with it: a run's versions of a dataset were
    quarantined together and are audited and released together (the published tables and
    export stay one run's). The named version comes first."""
    found = rejected_versions(settings)
    rejected = find(settings, name, found)
    dataset, run_id = rejected.asset_key.path[0], rejected.version.run_id
    rest = [
        r
        for r in found
        if r is not rejected and r.version.run_id == run_id and r.asset_key.path[0] == dataset
    ]
    return [rejected, *rest]


def release(settings: Settings, name: str, instance: dg.DagsterInstance) -> str:
    """Publish a quarantined version on purpose, as a run that records it on the asset."""
    group = together(settings, name)

    @dg.op(name="release_quarantined_version")
    def release_op(context: dg.OpExecutionContext) -> None:
        tables = [r.version.name for r in group if r.kind == "table"]
        dataset = group[0].asset_key.path[0]
        manager = table_io_manager(settings)
        with manager.publishing_lock(dataset), publishing_lock(settings.exports_dir / dataset):
            if tables:
                manager.release(tables)
            artifact = settings.data_dir / "artifacts" / dataset / ARTIFACT  # the run's fit, if any
            publish_artifact(artifact, group[0].version.run_id, settings.quarantine_days * 86400)
            for export in (r for r in group if r.kind == "export"):
                release_export(settings.exports_dir, export.version.name, locked=True)
                if settings.export_url:  # the released folder is what the link names now
                    remote = ObjectExports(settings.export_url)
                    folder = (settings.exports_dir / dataset).resolve()
                    fit = {ARTIFACT: artifact} if artifact.is_file() else {}
                    remote.point(dataset, remote.upload(dataset, folder, fit))
        for rejected in group:
            context.log_event(
                dg.AssetObservation(
                    asset_key=rejected.asset_key,
                    metadata={
                        PUBLISH_STATUS: "released",
                        PUBLISHED_RUN: rejected.version.run_id,
                        QUARANTINE: rejected.version.name,
                        "released_despite": rejected.why(),
                    },
                )
            )

    job = dg.GraphDefinition(name=RELEASE_JOB, node_defs=[release_op]).to_job()
    result = job.execute_in_process(
        instance=instance,
        tags={RELEASED_TAG: name},
        raise_on_error=False,
        run_config={"loggers": {"console": {"config": {"log_level": "WARNING"}}}},
    )
    if not result.success:
        raise RuntimeError(f"releasing {name} failed; see run {result.run_id} in the Dagster UI")
    assets = ", ".join(r.asset_key.to_user_string() for r in group)
    return (
        f"released {', '.join(r.version.name for r in group)}: now the published {assets} "
        f"(recorded as run {result.run_id}).\n{downstream_hint(settings, group)}"
    )


def downstream_hint(settings: Settings, group: list[Rejected]) -> str:
    """How to rebuild the later stages from a released version: `ml-data-platform run` would
    read the source again (and quarantine the same rows again)."""
    graph = build_definitions(settings).resolve_asset_graph()
    keys = {r.asset_key for r in group}
    children = sorted({c for k in keys if graph.has(k) for c in graph.get(k).child_keys} - keys)
    if not children:
        return "Nothing downstream reads it."
    select = ",".join(f"{c.to_user_string()}*" for c in children)
    # the partitions as the run recorded them: in the definition's order, so first...last
    # is exactly the run's range (dynamic keys are ordered by when they were added)
    parts = next((r.version.partitions for r in group if r.version.partitions), [])
    partitioned = any(graph.get(c).partitions_def is not None for c in children)
    scope = ""
    if parts and partitioned:
        scope = (
            f" --partition '{parts[0]}'"
            if len(parts) == 1
            else f" --partition-range '{parts[0]}...{parts[-1]}'"
        )
    return (
        "Later stages still hold the previous version; to rebuild them from this one (a full run "
        f"would read the source again), from the project root: dg launch --assets '{select}'{scope}"
    )
