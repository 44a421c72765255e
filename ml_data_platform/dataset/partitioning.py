"""A partitioned dataset in Dagster's terms: its PartitionsDefinition (dynamic, one key per
landing file; or daily from the catalog's start), how a range runs (one run per range), and
keeping the landing folder's files registered as partitions."""

from __future__ import annotations

import warnings

import dagster as dg

from ml_data_platform.catalog import DatasetSpec
from ml_data_platform.catalog.incremental import PartitionBy
from ml_data_platform.sources.partitions import landing_keys, partition_days
from ml_data_platform.sources.sample import write_sample_files

# BackfillPolicy is beta in this Dagster release; we rely on single-run ranges, so its warning
# is silenced here, for that parameter only.
warnings.filterwarnings("ignore", message=".*backfill_policy.*", category=dg.BetaWarning)

# The run tags of a partition range run (one run for a range: BackfillPolicy.single_run).
RANGE_START = "dagster/asset_partition_range_start"
RANGE_END = "dagster/asset_partition_range_end"


def files_partitions_name(dataset: str) -> str:
    return f"{dataset}_files"


def partitions_def(spec: DatasetSpec) -> dg.PartitionsDefinition | None:
    parts = spec.partitions
    if parts is None:
        return None
    if parts.by is PartitionBy.file:
        return dg.DynamicPartitionsDefinition(name=files_partitions_name(spec.name))
    # Completed UTC days only: today's partition appears tomorrow, when its rows are in.
    return dg.DailyPartitionsDefinition(start_date=parts.start.isoformat(), timezone="UTC")


def backfill_policy(spec: DatasetSpec) -> dg.BackfillPolicy | None:
    """A range of partitions runs as one run (one read, one staged version, one publish)."""
    return dg.BackfillPolicy.single_run() if spec.partitions is not None else None


def register_landing_files(instance: dg.DagsterInstance, spec: DatasetSpec) -> list[str]:
    """Add the landing folder's new files as partitions (writing the declared sample files
    into an empty folder first); returns the keys that were new."""
    write_sample_files(spec)
    name = files_partitions_name(spec.name)
    known = set(instance.get_dynamic_partitions(name))
    new = [key for key in landing_keys(spec.source) if key not in known]
    if new:
        instance.add_dynamic_partitions(name, new)
    return new


def partitions_to_run(instance: dg.DagsterInstance, spec: DatasetSpec) -> tuple[list[str], list[str]]:
    """(every partition key in order, the ones that hold source data): the registered landing
    files (new ones registered here) and those whose file is still there; or every day of the
    daily definition and the days with events."""
    if spec.partitions.by is PartitionBy.file:
        register_landing_files(instance, spec)
        keys = list(instance.get_dynamic_partitions(files_partitions_name(spec.name)))
        present = set(landing_keys(spec.source))
        return keys, [k for k in keys if k in present]
    keys = partitions_def(spec).get_partition_keys()
    days = set(partition_days(spec))
    return keys, [day for day in keys if day in days]


def contiguous_blocks(keys: list[str], wanted: list[str], gaps_ok: bool) -> list[list[str]]:
    """`wanted` as ranges of `keys` (a run covers one range). With `gaps_ok` (days: a day
    without events is just empty) one range spans them all; else a key not wanted (a file
    gone from the landing folder) splits the ranges, so no run reads a missing file."""
    chosen = set(wanted)
    if gaps_ok and chosen:
        positions = [i for i, k in enumerate(keys) if k in chosen]
        return [keys[positions[0] : positions[-1] + 1]]
    blocks: list[list[str]] = []
    previous = None
    for index, key in enumerate(keys):
        if key not in chosen:
            continue
        if previous is not None and previous == index - 1:
            blocks[-1].append(key)
        else:
            blocks.append([key])
        previous = index
    return blocks
