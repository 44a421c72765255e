"""Progress of long in-database stages: rows done, rate and time left, in the run's log."""

from __future__ import annotations

import time
from collections.abc import Callable

import dagster as dg

EVERY_S = 10.0  # at most one line per this many seconds (and the last one)


def progress_log(log: dg.DagsterLogManager, what: str) -> Callable[[int, int], None]:
    """(rows done, rows in all) -> a log line now and then."""
    started = time.monotonic()
    last = [started]

    def report(done: int, total: int) -> None:
        now = time.monotonic()
        if now - last[0] < EVERY_S and done < total:
            return
        last[0] = now
        rate = done / max(now - started, 1e-9)
        left = (total - done) / rate if rate else 0.0
        share = done / max(total, 1)
        log.info(f"{what}: {done:,} of {total:,} rows ({share:.0%}), {rate:,.0f} rows/s, ~{left:,.0f} s left")

    return report
