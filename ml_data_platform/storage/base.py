"""Shared behaviour of the table IO managers: names from asset keys, metadata on every write,
and write-audit-publish (every write is staged; a check step publishes or quarantines it)."""

from __future__ import annotations

import re
from abc import abstractmethod
from collections.abc import Sequence
from contextlib import AbstractContextManager, nullcontext
from typing import Any

import dagster as dg
import numpy as np
import pandas as pd
from pydantic import Field, PrivateAttr

from ml_data_platform.storage import versions as v
from ml_data_platform.storage.columns import logical_type
from ml_data_platform.storage.engine_tables import EngineTable, TableQuery
from ml_data_platform.storage.errors import EmptyResultError, StorageError, TableNotFoundError, engine_reason
from ml_data_platform.storage.partitioned import PartitionedTables
from ml_data_platform.storage.recent import RecentWrites
from ml_data_platform.storage.versioned import VersionedTables

_SAFE_PART = re.compile(r"^[a-z][a-z0-9_]*$")
PREVIEW_ROWS = 5


def table_name_for(asset_key: dg.AssetKey) -> str:
    """`classification_data/raw` -> `classification_data__raw`; refuses anything unsafe for SQL."""
    for part in asset_key.path:
        if not _SAFE_PART.fullmatch(part) or "__" in part:
            raise ValueError(
                f"asset key {asset_key.to_user_string()!r} has part {part!r}, which is not a safe "
                "table-name identifier ([a-z][a-z0-9_]*, no double underscore)"
            )
    return "__".join(asset_key.path)


def table_metadata(frame: pd.DataFrame, table_name: str) -> dict[str, object]:
    """The same keys on every backend, so Dagster's schema-change and bounds checks work on both."""
    columns = [
        dg.TableColumn(name=str(name), type=logical_type(str(name), frame[name]).name)
        for name in frame.columns
    ]
    preview = frame.head(PREVIEW_ROWS).to_markdown(index=False, floatfmt=".4g")
    return {
        "dagster/row_count": dg.MetadataValue.int(len(frame)),
        "dagster/column_schema": dg.TableSchema(columns=columns),
        "dagster/table_name": dg.MetadataValue.text(table_name),
        "preview": dg.MetadataValue.md(preview),
    }


def _compile_schema_records() -> None:
    """Dagster compiles a record type's checked constructor on its first call and keeps the
    caller's local variables in it for the rest of the process. Left to table_metadata, the
    first TableColumn and TableSchema would pin the first table written (a whole raw frame)
    until the process exits; built here first, they pin nothing."""
    dg.TableSchema(columns=[dg.TableColumn(name="column", type="float")])


_compile_schema_records()


class TableIOManager(PartitionedTables, VersionedTables, dg.ConfigurableIOManager):
    """Stores each asset's DataFrame as one table; a new materialization replaces the old one."""

    database: str = Field(
        description="Where the tables live: a database file (its folder is created on demand), or "
        "a PostgreSQL URL."
    )
    allow_empty: bool = Field(
        False,
        description="Store an empty DataFrame as an empty table. Off: an empty result is an error "
        "and the previous table is kept.",
    )
    last_readers: dict[str, str] = Field(
        default_factory=dict,
        description="Table -> the op that reads it last in a run: its in-run copy is dropped once "
        "that op has it, so a run does not carry every stage in memory (a later reader, e.g. a "
        "check run on its own, reads the table from storage).",
    )
    # The run's own writes, kept for its later steps: state of this instance, which Dagster
    # builds afresh for every run it initializes (so no module-wide cache outlives a run).
    _recent: RecentWrites = PrivateAttr(default_factory=RecentWrites)
    _cleaned: bool = PrivateAttr(False)  # stale versions are cleaned up once per run
    # run id -> table -> the version this instance staged, so its own run's check steps find
    # it without a query (another process, e.g. a multiprocess run's step, asks the database)
    _staged_here: dict[str, dict[str, v.Version]] = PrivateAttr(default_factory=dict)
    memory_cache_mb: int = Field(
        1024,
        ge=0,
        description="Frames written in this run that later steps of the same run read from memory "
        "instead of the database (0 turns it off).",
    )

    quarantine_days: float = Field(
        14.0,
        ge=0,
        description="How long a rejected (quarantined) table version is kept for inspection "
        "before a later write prunes it.",
    )
    staging_ttl_hours: float = Field(
        24.0,
        gt=0,
        description="A staged version whose writer is on another host (or whose pid was reused) "
        "is cleaned up after this long; one whose process died on this host, at the next write.",
    )
    audit_readers: dict[str, str] = Field(
        default_factory=dict,
        description="Partitioned table -> the op that audits it: it reads just the partitions its "
        "run wrote (every other reader of an unpartitioned asset gets every partition).",
    )
    read_versions: dict[str, str] = Field(
        default_factory=dict,
        description="Table -> a quarantined version to read in its place, to audit it before "
        "releasing it (ml-data-platform check --quarantined); empty: the published tables.",
    )

    engine_tables: list[str] = Field(
        default_factory=list,
        description="Tables of datasets that run in the database: their stages read an EngineTable "
        "and return a TableQuery the engine runs (storage/engine_tables.py; DuckDB only).",
    )

    def publishing_lock(self, dataset: str) -> AbstractContextManager[None]:
        """Held, with the export's file lock, while a run publishes a dataset's versions: a
        backend that hosts on several machines share serializes them here (none by default:
        the file lock sits beside the database file)."""
        return nullcontext()

    def refuse_shape(self, asset: str, table_name: str, frame: pd.DataFrame) -> None:
        """Raise before writing when the engine cannot hold a table of this shape (a backend's
        own limits); the base engine has none."""

    @abstractmethod
    def write_table(self, table_name: str, frame: pd.DataFrame, before: Sequence[v.Statement] = ()) -> None:
        """Replace `table_name` with `frame` in one transaction (old rows stay on any error),
        after the `before` statements in the same transaction."""

    @abstractmethod
    def read_column(self, table_name: str, column: str) -> np.ndarray | None:
        """One column of a table as a numpy array (None when the table does not exist)."""

    @abstractmethod
    def engine_errors(self) -> tuple[type[Exception], ...]:
        """The engine's own exception types, reported as StorageError with a short reason."""

    @abstractmethod
    def read_table(self, table_name: str, where: str = "", params: Sequence[Any] = ()) -> pd.DataFrame:
        """The table's rows (those matching `where`, its values bound from `params`) with the
        dtypes they were written with; TableNotFoundError when absent."""

    def engine_table(self, name: str) -> EngineTable:
        """A stored table for a stage to query in the engine (in-database datasets)."""
        raise TypeError(
            f"{type(self).__name__} cannot run datasets in the database; use DuckDB storage "
            "(ML_PLATFORM_STORAGE=duckdb) or set execution: memory in the catalog"
        )

    def write_query(self, context: dg.OutputContext, query: TableQuery) -> None:
        """Stage the table a TableQuery computes (in-database datasets)."""
        self.engine_table(table_name_for(context.asset_key))

    def read_head(self, table_name: str, rows: int) -> pd.DataFrame:
        """The first `rows` rows by sample_index, read alone (a quarantined table may be far
        bigger than memory)."""
        first = f"SELECT sample_index FROM {self.quote(table_name)} ORDER BY sample_index LIMIT {int(rows)}"
        return self.read_table(table_name, where=f"sample_index IN ({first})")

    def handle_output(self, context: dg.OutputContext, obj: pd.DataFrame) -> None:
        if isinstance(obj, TableQuery):
            return self.write_query(context, obj)
        if not isinstance(obj, pd.DataFrame):
            raise TypeError(
                f"{type(self).__name__} stores pandas DataFrames; asset "
                f"{context.asset_key.to_user_string()} returned {type(obj).__name__}"
            )
        table_name = table_name_for(context.asset_key)
        if obj.empty and not self.allow_empty:
            raise EmptyResultError(
                f"asset {context.asset_key.to_user_string()} produced no rows; table {table_name} "
                "keeps its previous contents. Fix the upstream data, or set allow_empty=True on the "
                "IO manager to store empty tables on purpose"
            )
        for name in obj.columns:  # fail on an unstorable column before touching the old table
            logical_type(str(name), obj[name])
        asset = context.asset_key.to_user_string()
        self.refuse_shape(asset, table_name, obj)
        keys = list(context.asset_partition_keys) if context.has_asset_partitions else None
        if keys is not None:
            self._refuse_partitions(asset, table_name, obj, keys)
        self._recent.forget(self.database, table_name)
        audited = bool((context.definition_metadata or {}).get(v.PUBLISH_AFTER_AUDIT))
        # a partition is always staged first: publishing it replaces just its rows
        written = self._write(asset, table_name, context.run_id, obj, audited or keys is not None, keys)
        if keys is not None and not audited:
            self.publish([self._staged_here[context.run_id][table_name]])
        self._recent.put(self.database, table_name, context.run_id, obj, self.memory_cache_mb << 20)
        status = "awaiting audit: published if its blocking checks pass" if audited else "published"
        context.add_output_metadata(
            {
                **table_metadata(obj, table_name),
                **({"staged_as": dg.MetadataValue.text(written)} if audited else {}),
                "publish_status": dg.MetadataValue.text(status),
            }
        )

    def _write(
        self,
        asset: str,
        table_name: str,
        run_id: str,
        frame: pd.DataFrame,
        staged: bool,
        partitions: list[str] | None = None,
    ) -> str:
        """Write the frame as this run's staged version (the published table stays untouched
        until the check step publishes it), or straight over the table. Returns where."""
        try:
            if not self._cleaned:
                self.clean_up()
                self._cleaned = True
            target, register = (
                v.register_staged(table_name, run_id, partitions) if staged else (table_name, [])
            )
            self.write_table(target, frame, before=register)  # recorded and written together
            if staged:
                self._staged_here.setdefault(run_id, {})[table_name] = v.Version.from_row(register[-1][1])
        except self.engine_errors() as error:
            raise StorageError(
                f"asset {asset}: writing table {table_name} to {self.location} failed, the previous "
                f"table is kept: {engine_reason(error)}"
            ) from None
        return target

    def teardown_after_execution(self, context: dg.InitResourceContext) -> None:
        """The run is over: its frames leave memory (a long-lived process keeps none)."""
        if context.run_id is not None:
            self._recent.forget_run(context.run_id)
            self._staged_here.pop(context.run_id, None)

    def load_input(self, context: dg.InputContext) -> pd.DataFrame:
        table_name = table_name_for(context.asset_key)
        upstream = context.upstream_output
        if table_name in self.engine_tables:
            name = self.read_versions.get(table_name) or self._visible(table_name, upstream)
            if not self.table_columns(name):
                raise TableNotFoundError(self._missing(context.asset_key, table_name))
            return self.engine_table(name)
        if context.has_asset_partitions and table_name not in self.read_versions:
            return self._load_partitions(context, table_name, upstream)
        cached = upstream and self._recent.get(self.database, table_name, upstream.run_id)
        if cached is not None:
            if self.last_readers.get(table_name) == context.op_def.name:
                self._recent.forget(self.database, table_name)
            return cached
        name = self.read_versions.get(table_name) or self._visible(table_name, upstream)
        try:
            return self.read_table(name)
        except TableNotFoundError:
            raise TableNotFoundError(self._missing(context.asset_key, table_name)) from None

    def _visible(self, table_name: str, upstream: dg.OutputContext | None) -> str:
        """This run's staged version while it awaits audit (its check step reads it), else the
        published table."""
        staged = self.staged_in_run(upstream.run_id) if upstream is not None else {}
        return staged[table_name].name if table_name in staged else table_name

    def _missing(self, key: dg.AssetKey, table_name: str) -> str:
        rejected = [x.name for x in self.versions("base = ? AND state = ?", (table_name, v.QUARANTINED))]
        why = (
            f"its latest version was rejected and is kept as {rejected[-1]} (see ml-data-platform "
            "quarantine list); fix the data and re-run, or release it on purpose"
            if rejected
            else f"materialize {key.to_user_string()} first (e.g. from the project root: dg launch "
            f"--assets '{key.to_user_string()}')"
        )
        return f"table {table_name} has no published version in {self.location}: {why}"
