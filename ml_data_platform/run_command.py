"""`ml-data-platform run`: the unpartitioned datasets in one run, each partitioned dataset in
one run over its partition range, and (`--changed`) only what changed since the last run."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from contextlib import ExitStack
from dataclasses import dataclass

import dagster as dg

from ml_data_platform.catalog import CatalogError, DatasetSpec, load_catalog
from ml_data_platform.catalog.incremental import PartitionBy
from ml_data_platform.changes import changed_selection
from ml_data_platform.dataset.partitioning import (
    RANGE_END,
    RANGE_START,
    contiguous_blocks,
    partitions_to_run,
)
from ml_data_platform.definitions import REPOSITORY_LABEL, build_definitions
from ml_data_platform.project import project_instance, settings_for
from ml_data_platform.run_report import failure_block, summarize
from ml_data_platform.sensors import failure_record
from ml_data_platform.storage.failures import record_failure


@dataclass(frozen=True)
class Runs:
    """Several runs read as one by the run report (same protocol as one run's result)."""

    results: Sequence

    @property
    def success(self) -> bool:
        return all(r.success for r in self.results)

    @property
    def all_events(self) -> list[dg.DagsterEvent]:
        return [e for r in self.results for e in r.all_events]

    @property
    def dagster_run(self) -> dg.DagsterRun:
        return next((r for r in self.results if not r.success), self.results[0]).dagster_run

    def get_asset_check_evaluations(self) -> list[dg.AssetCheckEvaluation]:
        return [e for r in self.results for e in r.get_asset_check_evaluations()]


@dataclass(frozen=True)
class Planned:
    """One run to launch: which job, which assets, which partitions."""

    job: str  # a function of ml_data_platform.definitions that builds the job
    kwargs: dict
    selection: list[dg.AssetKey]
    partitions: list[str]


def plan_runs(
    instance: dg.DagsterInstance, defs: dg.Definitions, specs: list[DatasetSpec], changed: bool, storage: str
) -> tuple[list[Planned], list[str]]:
    """The runs that materialize `specs` (only what changed, with `changed`), and a note per
    dataset that needs none."""
    graph = defs.resolve_asset_graph()
    keys = {spec.name: [k for k in graph.get_all_asset_keys() if k.path[0] == spec.name] for spec in specs}
    runs, notes, whole = [], [], []
    for spec in specs:
        every, parts = partitions_to_run(instance, spec) if spec.partitions else ([], [])
        by_file = spec.partitions is not None and spec.partitions.by is PartitionBy.file
        if by_file and (gone := sorted(set(every) - set(parts))):
            notes.append(
                f"{spec.name}: partition(s) {gone[:5]} have no file in {spec.source.path} any more: not "
                "run; their published rows stay until the partitions are deleted (the asset's "
                "Partitions tab in the Dagster UI)"
            )
        selection = keys[spec.name]
        if changed:
            selection, parts = changed_selection(instance, defs, keys[spec.name], parts)
        if not selection:
            notes.append(f"{spec.name}: unchanged since its last materialization; nothing to run")
        elif spec.partitions is None:
            whole += selection
        elif not parts and any(graph.get(k).partitions_def for k in selection):
            notes.append(f"{spec.name}: no partitions hold data yet ({spec.source.path}); nothing to run")
        else:
            kwargs = {"dataset": spec.name, "storage": storage}
            blocks = contiguous_blocks(every, parts, gaps_ok=not by_file) or [[]]
            runs += [Planned("dataset_job", kwargs, selection, block) for block in blocks]
    if whole:
        runs.insert(0, Planned("all_datasets_job", {"storage": storage}, whole, []))
    return runs, notes


def _launch(stack: ExitStack, instance: dg.DagsterInstance, planned: Planned, level: str):
    tags = {".dagster/repository": REPOSITORY_LABEL}  # the tag the UI's job pages filter on
    if planned.partitions:
        tags |= {RANGE_START: planned.partitions[0], RANGE_END: planned.partitions[-1]}
    return stack.enter_context(
        dg.execute_job(
            dg.build_reconstructable_job(
                "ml_data_platform.definitions", planned.job, reconstructable_kwargs=planned.kwargs
            ),
            tags=tags,
            instance=instance,
            raise_on_error=False,
            asset_selection=planned.selection,
            run_config={"loggers": {"console": {"config": {"log_level": level}}}},
        )
    )


def run(args: argparse.Namespace) -> int:
    settings = settings_for(args)
    defs = build_definitions(settings)
    catalog = load_catalog(settings.catalog_path)
    names = catalog.names()
    if args.dataset:
        unknown = sorted(set(args.dataset) - set(names))
        if unknown:
            raise CatalogError(f"unknown dataset(s) {unknown}; the catalog has {names}")
        names = sorted(set(args.dataset))
    specs = [catalog.get(n) for n in sorted(names)]
    level = "DEBUG" if args.verbose else "WARNING"
    with project_instance() as instance, ExitStack() as stack:
        planned, notes = plan_runs(instance, defs, specs, args.changed, settings.storage.value)
        for note in notes:
            print(note, flush=True)
        if not planned:
            return 0
        result = Runs([_launch(stack, instance, p, level) for p in planned])
        ran = sorted({k.path[0] for p in planned for k in p.selection})
        print(summarize(settings, result, ran), flush=True)
        if result.success:
            return 0
        steps = [e for e in result.all_events if e.is_step_failure]
        log = record_failure(
            settings.data_dir, failure_record(result.dagster_run, steps, settings, "run failed")
        )
        print("\n" + failure_block(result, ran, str(log)), file=sys.stderr)
        return 1
