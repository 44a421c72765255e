"""Freshness: how old the newest published data is, against the dataset's limits."""

from __future__ import annotations

from datetime import datetime, timedelta

from ml_data_platform.core.quality import WARN, Outcome


def _age(delta: timedelta) -> str:
    hours = delta.total_seconds() / 3600
    return f"{hours / 24:.1f} days" if hours >= 48 else f"{hours:.1f} hours"


def check_freshness(
    published_at: datetime | None, now: datetime, fail_after: timedelta, warn_after: timedelta | None
) -> Outcome:
    """ERROR past `fail_after` (or never published), WARN past `warn_after`."""
    limits = {"warn_after": str(warn_after) if warn_after else None, "fail_after": str(fail_after)}
    if published_at is None:
        return Outcome(False, "never published: nothing to be fresh", {}, limits)
    age = now - published_at
    observed = {"published_at": published_at.isoformat(), "age_hours": round(age.total_seconds() / 3600, 2)}
    hours = {
        "metric": "age_hours",
        "value": observed["age_hours"],
        "limit": fail_after.total_seconds() / 3600,
    }
    if age > fail_after:
        summary = f"stale: last published {_age(age)} ago, more than fail_after {fail_after}"
        return Outcome(False, summary, observed, limits, **hours)
    if warn_after is not None and age > warn_after:
        summary = f"stale: last published {_age(age)} ago, more than warn_after {warn_after}"
        return Outcome(False, summary, observed, limits, WARN, **hours)
    return Outcome(True, f"fresh: last published {_age(age)} ago", observed, limits, **hours)
