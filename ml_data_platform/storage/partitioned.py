"""The table IO manager's partitioned side (mixed into TableIOManager): what a partitioned
write must satisfy before anything is written, and what each reader of a partitioned table
gets (see partitions.py for how a partition is published)."""

from __future__ import annotations

import dagster as dg
import pandas as pd

from ml_data_platform.core.rules import PARTITION_COLUMN
from ml_data_platform.storage.errors import TableNotFoundError
from ml_data_platform.storage.partitions import (
    PartitionError,
    check_partition_rows,
    key_filter,
    schema_change,
)


class PartitionedTables:
    """Uses the manager's table_columns, stored_partitions, read_table, staged_in_run, its
    in-run cache and its readers' maps."""

    def _refuse_partitions(self, asset: str, table_name: str, frame: pd.DataFrame, keys: list[str]) -> None:
        """Before writing: every row belongs to a partition being written, and the columns fit
        the published table's unless every partition it holds is being rewritten."""
        check_partition_rows(asset, frame, keys)
        columns = self.table_columns(table_name)
        if columns:
            others = sorted(set(self.stored_partitions(table_name, columns)) - set(keys))
            published = [(name, "") for name, _ in columns]  # names here; types at publish
            problem = schema_change(asset, published, [(str(c), "") for c in frame.columns], others)
            if problem:
                raise PartitionError(problem)

    def _load_partitions(
        self, context: dg.InputContext, table_name: str, upstream: dg.OutputContext | None
    ) -> pd.DataFrame:
        """The partitions the reader asks for: this run's staged rows for the partitions it
        wrote, published rows for the rest. The asset's own check step (`audit_readers`)
        reads just the run's rows, whatever partitions Dagster hands it."""
        keys = list(context.asset_partition_keys)
        staged = self.staged_in_run(upstream.run_id).get(table_name) if upstream is not None else None
        if staged is None:
            return self._published_rows(context.asset_key, table_name, keys)
        own = staged.partitions or []
        mine = self._recent.get(self.database, table_name, staged.run_id)
        if mine is None:
            mine = self.read_table(staged.name)
        elif self.last_readers.get(table_name) == context.op_def.name:
            self._recent.forget(self.database, table_name)
        if self.audit_readers.get(table_name) == context.op_def.name:
            return mine
        if not set(own) <= set(keys):
            mine = mine[mine[PARTITION_COLUMN].isin(keys)].reset_index(drop=True)
        written = set(own)
        rest = [k for k in keys if k not in written]
        stored = self.stored_partitions(table_name) if rest else []
        if not stored:
            return mine
        published = self._published_rows(context.asset_key, table_name, rest, stored)
        return pd.concat([published, mine], ignore_index=True)

    def _published_rows(
        self, key: dg.AssetKey, table_name: str, keys: list[str], stored: list[str] | None = None
    ) -> pd.DataFrame:
        """Published rows of `keys` (`stored`: the table's partitions, when already listed)."""
        stored = self.stored_partitions(table_name) if stored is None else stored
        if not stored:
            raise TableNotFoundError(self._missing(key, table_name))
        if set(stored) <= set(keys):
            return self.read_table(table_name)
        where, params = key_filter(keys, self.quote)
        return self.read_table(table_name, where, params)
