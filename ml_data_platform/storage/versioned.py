"""The table IO managers' versions: staged, published, quarantined (see versions.py for the
names and the statements). A backend supplies three primitives: one transaction, one query,
and identifier quoting; everything here is shared."""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Sequence
from datetime import timedelta
from pathlib import Path
from typing import Any

from ml_data_platform.storage import versions as v


class VersionedTables:
    """Mixed into TableIOManager (which holds `database`, retention settings and the cache)."""

    @abstractmethod
    def execute(self, statements: Sequence[v.Statement]) -> None:
        """Run the statements in one transaction (all or nothing)."""

    @abstractmethod
    def query(self, sql: str, params: Sequence[Any] = (), requires: str | None = None) -> list[tuple]:
        """Rows of one read-only query; none when the table `requires` does not exist."""

    @staticmethod
    @abstractmethod
    def quote(identifier: str) -> str: ...

    def versions(self, where: str = "", params: Sequence[Any] = ()) -> list[v.Version]:
        """Staged and quarantined versions (matching an optional SQL condition), oldest first."""
        if not Path(self.database).is_file():
            return []
        sql = f"SELECT {v.COLUMNS} FROM {v.LOG}{' WHERE ' + where if where else ''} ORDER BY created_at"
        return [v.Version.from_row(row) for row in self.query(sql, params, requires=v.LOG)]

    def version(self, name: str) -> v.Version:
        found = self.versions("name = ?", (name,))
        if not found:
            raise v.VersionNotFoundError(
                f"no staged or quarantined version named {name!r} in {self.database} "
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
        """Rename staged versions over their published tables, together, in one transaction."""
        self.execute([s for x in staged for s in v.publish_statements(x, self.quote)])
        self._settled(staged)

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
