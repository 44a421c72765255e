"""The in-run frame cache: a run's later steps read what it wrote from memory."""

from __future__ import annotations

import threading
from collections import OrderedDict

import pandas as pd


class RecentWrites:
    """Frames a run wrote, so the run's own readers skip the database.

    A hit needs the same database, table and run id: a later run (e.g. checks only) or a
    write by another process is always read from storage. Frames are handed out as they
    were written, so readers must not mutate them (the platform's code never does).
    """

    def __init__(self) -> None:
        self._frames: OrderedDict[tuple[str, str], tuple[str, pd.DataFrame, int]] = OrderedDict()
        self._lock = threading.Lock()

    def put(self, database: str, table: str, run_id: str, frame: pd.DataFrame, limit: int) -> None:
        size = int(frame.memory_usage(index=True, deep=False).sum())
        with self._lock:
            self._frames.pop((database, table), None)
            if size > limit:
                return
            self._frames[(database, table)] = (run_id, frame, size)
            while sum(entry[2] for entry in self._frames.values()) > limit:
                self._frames.popitem(last=False)

    def get(self, database: str, table: str, run_id: str) -> pd.DataFrame | None:
        with self._lock:
            entry = self._frames.get((database, table))
            if entry is None or entry[0] != run_id:
                return None
            self._frames.move_to_end((database, table))
            return entry[1]

    def forget(self, database: str, table: str) -> None:
        with self._lock:
            self._frames.pop((database, table), None)

    def forget_run(self, run_id: str) -> None:
        with self._lock:
            for key in [k for k, entry in self._frames.items() if entry[0] == run_id]:
                del self._frames[key]
