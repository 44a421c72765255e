"""An append-only log of failed runs, readable without Dagster: `<data_dir>/run_failures.jsonl`."""

from __future__ import annotations

import fcntl
import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

FAILURE_LOG = "run_failures.jsonl"


def record_failure(data_dir: Path, record: Mapping[str, Any]) -> Path:
    """Append one JSON line; a lock keeps lines from concurrent processes whole."""
    path = data_dir / FAILURE_LOG
    path.parent.mkdir(parents=True, exist_ok=True)
    line = json.dumps(dict(record), default=str) + "\n"
    with path.open("a") as handle:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        try:
            handle.write(line)
            handle.flush()
            os.fsync(handle.fileno())
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)
    return path


def read_failures(data_dir: Path) -> list[dict[str, Any]]:
    path = data_dir / FAILURE_LOG
    if not path.is_file():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
