"""TableRules: what validation and the contracts need to know about a dataset, as plain
values, so the pure core depends on no catalog (the catalog derives them: DatasetSpec.rules)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

# Columns the platform adds to every table; a source may not bring its own.
RESERVED_COLUMNS: frozenset[str] = frozenset(
    {"sample_index", "ingested_at", "event_timestamp", "partition_key"}
)
# Which partition a row belongs to, in partitioned datasets' raw and features tables.
PARTITION_COLUMN = "partition_key"


@dataclass(frozen=True)
class TableRules:
    dataset: str
    target: str
    feature_columns: tuple[str, ...] | None = None  # declared order; None: every source column
    categorical_columns: tuple[str, ...] = ()
    label_mapping: Mapping[str, int] | None = None  # declared text labels -> codes
    target_codes: tuple[int, ...] | None = None  # codes the feature table's target may hold
    declared_labels: tuple[int | str, ...] | None = None  # labels the raw target may hold
    feature_bounds: Mapping[str, tuple[float, float]] = field(default_factory=dict)
    drop_duplicates: bool = True  # else a repeated row is an error
    drop_non_finite: bool = False  # else a NaN/inf/missing value is an error
    partitioned: bool = False  # stored per partition: whole-table rules (>= 2 classes) wait for the union
    extra_columns: tuple[str, ...] = ()  # source columns that are neither features nor target (event time)

    def features_in(self, columns: list[str]) -> list[str]:
        """The feature columns: the declared ones, else every column but target and platform ones."""
        if self.feature_columns is not None:
            return list(self.feature_columns)
        return [
            c
            for c in columns
            if c != self.target and c not in RESERVED_COLUMNS and c not in self.extra_columns
        ]
