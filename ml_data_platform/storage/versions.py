"""Write, audit, publish: every table version is staged first, and only an audited one is
renamed into the published name (one transaction, so readers see the old table or the new
one). A rejected version is renamed into quarantine, never deleted on the spot.

Names (all in the same database, so publishing is a rename, not a copy):
  `<table>`                       the published version: what readers and SQL users see
  `staging__<table>__<run>`       written by run <run> (first 12 hex digits), awaiting audit
  `quarantine__<table>__<run>`    rejected by its blocking checks, kept for inspection
`_platform_versions` records each staged or quarantined version: run, when, which process,
and why it was rejected.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import socket
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from ml_data_platform.core.engine.sql import quote

# Definition metadata of an asset whose check step publishes it; any other asset's table is
# replaced as it is written (still in one transaction).
PUBLISH_AFTER_AUDIT = "ml_platform/publish_after_audit"
LOG = "_platform_versions"
STAGED, QUARANTINED = "staged", "quarantined"
RUN_DIGITS = 12

LOG_DDL = (
    f"CREATE TABLE IF NOT EXISTS {LOG} (name TEXT PRIMARY KEY, base TEXT NOT NULL, "
    "state TEXT NOT NULL, run_id TEXT NOT NULL, created_at TEXT NOT NULL, host TEXT NOT NULL, "
    "pid INTEGER NOT NULL, details TEXT NOT NULL)"
)
COLUMNS = "name, base, state, run_id, created_at, host, pid, details"

Statement = tuple[str, tuple[Any, ...]]


# A table or column name as SQL text: double quotes, inner ones doubled (the standard rule,
# which SQLite, DuckDB and PostgreSQL all follow); one rule for the stores and the engine SQL.
quote_identifier = quote


class VersionNotFoundError(LookupError):
    """No staged or quarantined version has that name."""


def run_tag(run_id: str) -> str:
    return run_id.replace("-", "")[:RUN_DIGITS]


def staged_name(table: str, run_id: str) -> str:
    return f"staging__{table}__{run_tag(run_id)}"


def quarantine_name(table: str, run_id: str) -> str:
    return f"quarantine__{table}__{run_tag(run_id)}"


@dataclass(frozen=True)
class Version:
    """One staged or quarantined version of a table."""

    name: str
    base: str  # the published table it would replace
    state: str
    run_id: str
    created_at: datetime
    host: str
    pid: int
    details: dict[str, Any]  # why it was rejected; which partitions it holds

    @property
    def partitions(self) -> list[str] | None:
        """The partitions whose rows it holds (None: a whole, unpartitioned table)."""
        return self.details.get("partitions")

    @classmethod
    def from_row(cls, row: tuple) -> Version:
        name, base, state, run_id, created, host, pid, details = row
        return cls(
            name, base, state, run_id, datetime.fromisoformat(created), host, int(pid), json.loads(details)
        )

    def writer_is_gone(self, now: datetime, staging_ttl: timedelta) -> bool:
        """A staged version nobody will publish: its process died (on this host), or it is
        older than the TTL (a writer on another host, or a reused pid)."""
        if now - self.created_at > staging_ttl:
            return True
        if self.host != socket.gethostname():
            return False
        try:
            os.kill(self.pid, 0)
        except ProcessLookupError:
            return True
        except PermissionError:
            return False
        return False


def now_utc() -> datetime:
    return datetime.now(UTC)


def run_process_id() -> int:
    """The process running this run: this one, or, in a step worker of Dagster's multiprocess
    executor (started through multiprocessing), the run's process that started it. A staged
    version must outlive the step process that wrote it: cleanup asks whether its run's
    process is alive, so that another step, or another run, does not drop it mid-run."""
    parent = multiprocessing.parent_process()
    return parent.pid if parent is not None else os.getpid()


def register_staged(
    table: str, run_id: str, partitions: list[str] | None = None
) -> tuple[str, list[Statement]]:
    """The staged name and the statements that record it (before its rows are written, so a
    crash after them leaves a record the next cleanup finds)."""
    name = staged_name(table, run_id)
    details = json.dumps({"partitions": partitions} if partitions is not None else {})
    row = (
        name,
        table,
        STAGED,
        run_id,
        now_utc().isoformat(),
        socket.gethostname(),
        run_process_id(),
        details,
    )
    return name, [
        (LOG_DDL, ()),
        (f"DELETE FROM {LOG} WHERE name = ?", (name,)),
        (f"INSERT INTO {LOG} ({COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)", row),
    ]


def publish_statements(version: Version, quote) -> list[Statement]:
    """Replace the published table with `version` and forget the version, in one transaction."""
    return [
        (f"DROP TABLE IF EXISTS {quote(version.base)}", ()),
        (f"ALTER TABLE {quote(version.name)} RENAME TO {quote(version.base)}", ()),
        (f"DELETE FROM {LOG} WHERE name = ?", (version.name,)),
    ]


def quarantine_statements(version: Version, details: dict[str, Any], quote) -> tuple[str, list[Statement]]:
    """Move a staged version into quarantine with why it was rejected."""
    name = quarantine_name(version.base, version.run_id)
    return name, [
        (f"DROP TABLE IF EXISTS {quote(name)}", ()),
        (f"ALTER TABLE {quote(version.name)} RENAME TO {quote(name)}", ()),
        (f"DELETE FROM {LOG} WHERE name IN (?, ?)", (version.name, name)),
        (
            f"INSERT INTO {LOG} ({COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (
                name,
                version.base,
                QUARANTINED,
                version.run_id,
                now_utc().isoformat(),
                version.host,
                version.pid,
                json.dumps({**version.details, **details}, default=str),
            ),
        ),
    ]


def drop_statements(version: Version, quote) -> list[Statement]:
    return [
        (f"DROP TABLE IF EXISTS {quote(version.name)}", ()),
        (f"DELETE FROM {LOG} WHERE name = ?", (version.name,)),
    ]


def expired(
    versions: list[Version], now: datetime, staging_ttl: timedelta, retention: timedelta
) -> list[Version]:
    """Staged versions whose writer is gone, and quarantined ones past the retention period."""
    return [
        v
        for v in versions
        if (v.state == STAGED and v.writer_is_gone(now, staging_ttl))
        or (v.state == QUARANTINED and now - v.created_at > retention)
    ]
