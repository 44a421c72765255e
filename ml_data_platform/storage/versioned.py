"""The table IO managers' versions: staged, published, quarantined (see versions.py for the
names and the statements). A backend supplies three primitives: one transaction, one query,
and identifier quoting; everything here is shared."""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Sequence
from datetime import timedelta
from pathlib import Path
from typing import Any, ClassVar

from ml_data_platform.core.rules import PARTITION_COLUMN
from ml_data_platform.storage import versions as v
from ml_data_platform.storage.partitions import (
    PartitionError,
    merge_statements,
    partition_index_statements,
    schema_change,
)


class VersionedTables:
    """Mixed into TableIOManager (which holds `database`, retention settings and the cache)."""

    @abstractmethod
    def execute(self, statements: Sequence[v.Statement]) -> None:
        """Run the statements in one transaction (all or nothing)."""

    @abstractmethod
    def query(self, sql: str, params: Sequence[Any] = (), requires: str | None = None) -> list[tuple]:
        """Rows of one read-only query; none when the table `requires` does not exist."""

    quote = staticmethod(v.quote_identifier)
    # whether published partitioned tables get an index on partition_key: replacing one
    # partition deletes by it and every write lists the stored partitions (DuckDB: no, it
    # cannot rename an indexed table, and its zone maps serve the delete)
    INDEX_PARTITIONS: ClassVar[bool] = False

    @abstractmethod
    def table_columns(self, table_name: str) -> list[tuple[str, str]]:
        """(name, engine type) of each column in order; empty when the table does not exist."""

    def has_database(self) -> bool:
        """Whether the database exists yet (a file engine creates its file on first write)."""
        return Path(self.database).is_file()

    @property
    def location(self) -> str:
        """Where the tables live, as messages show it."""
        return self.database

    def stored_partitions(
        self, table_name: str, columns: Sequence[tuple[str, str]] | None = None
    ) -> list[str]:
        """The partition keys a partitioned table holds rows of (none when it does not exist,
        or was written before its dataset was partitioned); `columns`: its table_columns, when
        the caller has them already."""
        columns = self.table_columns(table_name) if columns is None else columns
        if PARTITION_COLUMN not in {name for name, _ in columns}:
            return []
        sql = f"SELECT DISTINCT {self.quote(PARTITION_COLUMN)} FROM {self.quote(table_name)} ORDER BY 1"
        return [row[0] for row in self.query(sql)]

    def versions(self, where: str = "", params: Sequence[Any] = ()) -> list[v.Version]:
        """Staged and quarantined versions (matching an optional SQL condition), oldest first."""
        if not self.has_database():
            return []
        sql = f"SELECT {v.COLUMNS} FROM {v.LOG}{' WHERE ' + where if where else ''} ORDER BY created_at"
        return [v.Version.from_row(row) for row in self.query(sql, params, requires=v.LOG)]

    def version(self, name: str) -> v.Version:
        found = self.versions("name = ?", (name,))
        if not found:
            raise v.VersionNotFoundError(
                f"no staged or quarantined version named {name!r} in {self.location} "
                "(ml-data-platform quarantine list shows them)"
            )
        return found[0]

    def staged_in_run(self, run_id: str) -> dict[str, v.Version]:
        """Published table -> the version run `run_id` staged for it and nobody settled yet."""
        if run_id in self._staged_here:
            return dict(self._staged_here[run_id])
        return {x.base: x for x in self.versions("run_id = ? AND state = ?", (run_id, v.STAGED))}

    def _settled(self, versions: Sequence[v.Version]) -> None:
        for version in versions:
            self._staged_here.get(version.run_id, {}).pop(version.base, None)

    def publish(self, staged: Sequence[v.Version]) -> None:
        """Rename staged versions over their published tables (a partitioned version replaces
        just its partitions' rows), together, in one transaction."""
        self.execute([s for x in staged for s in self._publish_statements(x)])
        self._settled(staged)

    def _publish_statements(self, version: v.Version) -> list[v.Statement]:
        if version.partitions is None:
            return v.publish_statements(version, self.quote)
        published, written = self.table_columns(version.base), self.table_columns(version.name)
        index = self.partition_index(version.base)
        if published and published == written:
            return [*merge_statements(version, [name for name, _ in written], self.quote), *index]
        others = sorted(set(self.stored_partitions(version.base, published)) - set(version.partitions))
        problem = schema_change(version.base, published, written, others)
        if problem:
            raise PartitionError(problem)
        return [*v.publish_statements(version, self.quote), *index]  # new table, or all partitions anew

    def partition_index(self, table_name: str) -> list[v.Statement]:
        """Statements that index a published partitioned table by partition_key, if the engine
        gains by it."""
        return partition_index_statements(table_name, self.quote) if self.INDEX_PARTITIONS else []

    def quarantine(self, staged: Sequence[v.Version], details: dict[str, Any]) -> list[str]:
        """Move staged versions into quarantine, with why; returns their new names."""
        names, statements = [], []
        for version in staged:
            name, moves = v.quarantine_statements(version, details, self.quote)
            names.append(name)
            statements += moves
            self._recent.forget(self.database, version.base)
        self.execute(statements)
        self._settled(staged)
        return names

    def release(self, names: Sequence[str]) -> list[v.Version]:
        """Publish quarantined versions on purpose, together (their rows replace the
        published tables)."""
        versions = [self.version(name) for name in names]
        self.publish(versions)
        return versions

    def drop_version(self, name: str) -> v.Version:
        version = self.version(name)
        self.execute(v.drop_statements(version, self.quote))
        return version

    def clean_up(self) -> list[str]:
        """Drop staged versions nobody will publish and quarantined ones past retention."""
        expired = v.expired(
            self.versions(),
            v.now_utc(),
            timedelta(hours=self.staging_ttl_hours),
            timedelta(days=self.quarantine_days),
        )
        if expired:
            self.execute([s for x in expired for s in v.drop_statements(x, self.quote)])
        return [x.name for x in expired]
