"""What the table storage raises: each error says what happened to which table and what is
kept, and engine errors keep their reason without the SQL they were given."""

from __future__ import annotations


class TableNotFoundError(LookupError):
    """The table an input needs was never written."""


class EmptyResultError(ValueError):
    """An asset returned an empty frame where rows are expected."""


class TableTooWideError(ValueError):
    """A frame has more columns than the backend can store in one table."""


class StorageError(RuntimeError):
    """The engine refused a write; the message keeps its reason, not the SQL it was given."""


def engine_reason(error: Exception, limit: int = 300) -> str:
    """The first line of an engine error: ADBC and DuckDB append the whole statement, which for
    a wide table is tens of kilobytes of column list."""
    first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
    return first if len(first) <= limit else first[: limit - 1] + "…"
