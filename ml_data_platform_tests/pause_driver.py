"""Crash-test driver: materialize every dataset, pausing at one write step so a test can
SIGKILL the process there. The pause is patched in here, in the test's own process, so the
production write path carries no test seam.

    python -m ml_data_platform_tests.pause_driver table_write <table> <marker>
    python -m ml_data_platform_tests.pause_driver export_swap <dataset> <marker>
    python -m ml_data_platform_tests.pause_driver table_publish <dataset> <marker>
    python -m ml_data_platform_tests.pause_driver s3_pointer <dataset> <marker>

At the point it writes its pid to <marker> and sleeps; it runs with the environment's
DAGSTER_HOME, catalog, data directory and storage, like `dagster asset materialize`.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import dagster as dg

from ml_data_platform.definitions import ALL_DATASETS_JOB, build_definitions
from ml_data_platform.storage import export_versions as export
from ml_data_platform.storage.duckdb import DuckDBTableIOManager
from ml_data_platform.storage.object_exports import ObjectExports
from ml_data_platform.storage.sqlite import SQLiteTableIOManager


def pause(marker: Path) -> None:
    marker.write_text(str(os.getpid()))
    time.sleep(300)


def pause_inside_table_writes(table: str, marker: Path) -> None:
    """After the new table is in place, before the transaction commits."""
    for manager in (SQLiteTableIOManager, DuckDBTableIOManager):
        original = manager._replace

        def replace(self, connection, table_name, *args, _original=original):
            _original(self, connection, table_name, *args)
            if table_name == table or table_name.startswith(f"staging__{table}__"):
                pause(marker)

        manager._replace = replace


def pause_inside_publish(dataset: str, marker: Path) -> None:
    """After the staged tables are renamed over the published ones, before the commit."""
    for manager in (SQLiteTableIOManager, DuckDBTableIOManager):
        original = manager._apply

        def apply(handle, statements, _original=original):
            _original(handle, statements)
            if any("RENAME TO" in sql and f"staging__{dataset}__" in sql for sql, _ in statements):
                pause(marker)

        manager._apply = staticmethod(apply)


def pause_before_export_swap(dataset: str, marker: Path) -> None:
    """After every file of the new version is written and synced, before the symlink swap."""
    original = export._swap_link

    def swap(link: Path, version: Path) -> None:
        if link.name == dataset:
            pause(marker)
        original(link, version)

    export._swap_link = swap


def pause_before_s3_pointer(dataset: str, marker: Path) -> None:
    """After the new version's objects are uploaded, before the pointer object names it."""
    original = ObjectExports.point

    def point(self, name: str, version: str) -> None:
        if name == dataset:
            pause(marker)
        original(self, name, version)

    ObjectExports.point = point


def main() -> None:
    point, detail, marker = sys.argv[1], sys.argv[2], Path(sys.argv[3])
    points = {
        "table_write": pause_inside_table_writes,
        "table_publish": pause_inside_publish,
        "export_swap": pause_before_export_swap,
        "s3_pointer": pause_before_s3_pointer,
    }
    points[point](detail, marker)
    with dg.DagsterInstance.get() as instance:
        build_definitions().resolve_job_def(ALL_DATASETS_JOB).execute_in_process(instance=instance)


if __name__ == "__main__":
    main()
