"""What changed since the last run: assets whose code version (derived from their catalog
entry and the platform's version) differs from the one their last materialization recorded,
assets never materialized, and partitions whose files were never processed; plus everything
downstream of those. `ml-data-platform run --changed` runs just that."""

from __future__ import annotations

from collections.abc import Sequence

import dagster as dg


def changed_selection(
    instance: dg.DagsterInstance,
    defs: dg.Definitions,
    keys: Sequence[dg.AssetKey],
    partitions: Sequence[str],
) -> tuple[list[dg.AssetKey], list[str]]:
    """The assets (and partitions) of one dataset that need a run, and the partitions the run
    covers: every partition when a partitioned asset's code changed, else the new ones."""
    graph = defs.resolve_asset_graph()
    recorded = instance.get_latest_materialization_code_versions(list(keys))
    changed = {k for k in keys if recorded.get(k) is None or recorded[k] != graph.get(k).code_version}
    parted = [k for k in keys if graph.get(k).partitions_def is not None]
    run_parts: list[str] = []
    if any(k in changed for k in parted):
        run_parts = list(partitions)
    elif parted:
        done = set.intersection(*(set(instance.get_materialized_partitions(k)) for k in parted))
        run_parts = [p for p in partitions if p not in done]
        if run_parts:
            changed |= set(parted)
    selection = dg.AssetSelection.assets(*changed).downstream().resolve(graph) if changed else set()
    return sorted(selection & set(keys), key=lambda k: k.to_user_string()), run_parts
