"""Which rows belong to which partition: a landing file's rows are its partition (keyed by
the file's name); by day, a row's partition is the UTC date of its event-time column."""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from ml_data_platform.catalog import DatasetSpec, FileSource
from ml_data_platform.catalog.incremental import PartitionBy
from ml_data_platform.core.rules import PARTITION_COLUMN
from ml_data_platform.sources.files import SourceError, read_files
from ml_data_platform.sources.readers import file_reading, select_columns, source_files

DAY_FORMAT = "%Y-%m-%d"  # Dagster's daily partition keys


def landing_keys(source: FileSource) -> list[str]:
    """The partition keys of a by-file source: its files' names, in name order."""
    return [path.name for path in source_files(source)]


def _by_file(spec: DatasetSpec, keys: Sequence[str]) -> pd.DataFrame:
    source: FileSource = spec.source
    present = {path.name: path for path in source_files(source)}
    missing = [k for k in keys if k not in present]
    if missing:
        raise SourceError(
            f"dataset {spec.name!r}: partition(s) {missing[:5]} name file(s) no longer in {source.path}; "
            "restore them, or delete those partitions in the Dagster UI (the asset's Partitions "
            "tab); a deleted partition's rows leave the splits at the next run"
        )
    frames = []
    for key in keys:
        frame = select_columns(spec, read_files(file_reading(spec), [present[key]]))
        frames.append(frame.assign(**{PARTITION_COLUMN: key}))
    return frames[0] if len(frames) == 1 else pd.concat(frames, ignore_index=True)


def event_days(spec: DatasetSpec, frame: pd.DataFrame) -> pd.Series:
    """The UTC day (a partition key) of each row's event time, which becomes a UTC time
    column in place; refuses values that are not times, naming them."""
    column = spec.partitions.column
    values = frame[column]
    parsed = pd.to_datetime(values, utc=True, errors="coerce", format="mixed")
    bad = values[parsed.isna()]
    if len(bad):
        raise SourceError(
            f"dataset {spec.name!r}: partition column {column!r} holds {len(bad)} value(s) that are not "
            f"times (e.g. {bad.astype(str).head(3).tolist()}); fix the source or partitions.column"
        )
    frame[column] = parsed  # stored as UTC times, whatever form the source gave them in
    return parsed.dt.strftime(DAY_FORMAT)


def _by_day(spec: DatasetSpec, keys: Sequence[str]) -> pd.DataFrame:
    source: FileSource = spec.source
    files = source_files(source)
    if not files:
        raise SourceError(f"dataset {spec.name!r}: no .{source.format.value} files at {source.path}")
    frame = select_columns(spec, read_files(file_reading(spec), files))
    days = event_days(spec, frame)
    wanted = days.isin(keys).to_numpy()
    if not wanted.any():
        raise SourceError(
            f"dataset {spec.name!r}: no rows with {spec.partitions.column} on {list(keys)[:5]} in "
            f"{source.path}; pick partitions that hold data (days present: {sorted(days.unique())[-5:]})"
        )
    return frame[wanted].assign(**{PARTITION_COLUMN: days[wanted].to_numpy()}).reset_index(drop=True)


def read_partitions(spec: DatasetSpec, keys: Sequence[str]) -> pd.DataFrame:
    """The source rows of the partitions `keys`, each tagged with its partition key."""
    if spec.partitions.by is PartitionBy.file:
        return _by_file(spec, keys)
    return _by_day(spec, keys)


def partition_days(spec: DatasetSpec) -> list[str]:
    """The days the source holds rows for (by-day datasets), for a run of what exists."""
    source: FileSource = spec.source
    files = source_files(source)
    if not files:
        return []
    frame = select_columns(spec, read_files(file_reading(spec), files))
    return sorted(event_days(spec, frame).unique())
