"""How a dataset grows: partitions (one per landing file, or one per day of an event-time
column), how its splits are assigned, and how fresh it must stay."""

from __future__ import annotations

import re
from datetime import date, timedelta
from enum import StrEnum

from pydantic import Field, field_validator, model_validator

from ml_data_platform.catalog.names import Strict, check_safe_name
from ml_data_platform.core.rules import RESERVED_COLUMNS


class PartitionBy(StrEnum):
    file = "file"  # each file in the source folder is one partition (a dynamic partition)
    day = "day"  # each UTC day of an event-time column is one partition


class PartitionSpec(Strict):
    """raw and features are stored, audited and published per partition; splits and
    everything after them read every published partition."""

    by: PartitionBy = Field(description="file: one partition per landing file; day: per UTC day.")
    column: str | None = Field(
        None, description="by: day only: the event-time column whose UTC date picks the partition."
    )
    start: date | None = Field(None, description="by: day only: the first day (YYYY-MM-DD).")

    @model_validator(mode="after")
    def _fields_fit(self) -> PartitionSpec:
        if self.by is PartitionBy.day:
            if self.column is None or self.start is None:
                raise ValueError("partitions by day need `column` (the event-time column) and `start`")
            check_safe_name(self.column, "partition column")
            if self.column in RESERVED_COLUMNS:
                raise ValueError(f"partition column {self.column!r} is reserved by the platform")
        elif self.column is not None or self.start is not None:
            raise ValueError("`column` and `start` apply to partitions by day, not by file")
        return self


class SplitMethod(StrEnum):
    auto = "auto"  # hash when rows have an identity (id column, seed database, partitions)
    hash = "hash"  # keyed hash of sample_index and seed: a row's split never moves
    exact = "exact"  # seeded per-class shuffle: class shares exact to a row, re-dealt on change


_PART = re.compile(r"(\d+(?:\.\d+)?)\s*([dhm])")
_DURATION = re.compile(r"(?:\d+(?:\.\d+)?\s*[dhm]\s*)+")


class FreshnessSpec(Strict):
    """How old the newest published data may get: a WARN past warn_after, an ERROR past
    fail_after (ml-data-platform check, and the asset's freshness in the Dagster UI)."""

    warn_after: timedelta | None = Field(
        None, description="Age of the last publish after which the dataset is stale (WARN), e.g. 26h."
    )
    fail_after: timedelta = Field(
        description="Age of the last publish after which the dataset has failed freshness, e.g. 3d."
    )

    @field_validator("warn_after", "fail_after", mode="before")
    @classmethod
    def _duration(cls, value: object) -> object:
        """`26h`, `3d`, `1d12h`, `90m` (and anything pydantic reads: ISO 8601, seconds)."""
        if isinstance(value, str) and (match := _DURATION.fullmatch(value.strip())):
            parts = {unit: float(n) for n, unit in _PART.findall(match.group(0))}
            return timedelta(days=parts.get("d", 0), hours=parts.get("h", 0), minutes=parts.get("m", 0))
        return value

    @model_validator(mode="after")
    def _ordered(self) -> FreshnessSpec:
        if self.fail_after <= timedelta(0):
            raise ValueError("freshness.fail_after must be positive (e.g. 2d or 36h)")
        if self.warn_after is not None and not timedelta(0) < self.warn_after < self.fail_after:
            raise ValueError("freshness.warn_after must be positive and shorter than fail_after")
        return self
