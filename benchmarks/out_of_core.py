"""One bigger-than-memory measurement per process:

    python -m benchmarks.out_of_core VARIANT ROWS DIR     (VARIANT: database, memory, floor)

database / memory: `ml-data-platform run` on one synthetic dataset (20 features, 2 classes,
hash split) with `execution:` that value, DuckDB storage, a 1 GB DuckDB memory limit.
floor: the same SQL stages (core/engine) on DuckDB with the same limit and the same chunked
generator and streamed Parquet writer (as many files at a time), with no Dagster, no checks
and no metadata.
Prints one JSON line: wall seconds, peak RSS, peak and final disk use of the data folder,
and DuckDB's spill folder at its peak and after the run.
"""

from __future__ import annotations

import contextlib
import json
import os
import resource
import shutil
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

import yaml

MEMORY_LIMIT = "1GB"
REPO = Path(__file__).resolve().parent.parent


def entry(rows: int, execution: str) -> dict:
    return {
        "name": "big",
        "source": {
            "type": "synthetic",
            "n_samples": rows,
            "n_features": 20,
            "n_informative": 10,
            "n_redundant": 5,
        },
        "split": {"method": "hash"},
        "execution": execution,
    }


def disk_mb(folder: Path) -> float:
    total = 0
    for root, _, files in os.walk(folder):
        for name in files:
            with contextlib.suppress(OSError):  # a file DuckDB removed meanwhile
                total += os.lstat(os.path.join(root, name)).st_size
    return total / 2**20


class DiskWatch:
    """Peak size of the data folder and of DuckDB's spill folder, sampled twice a second."""

    def __init__(self, data: Path) -> None:
        self.data, self.peak, self.peak_spill = data, 0.0, 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(0.5):
            self.peak = max(self.peak, disk_mb(self.data))
            self.peak_spill = max(self.peak_spill, sum(disk_mb(p) for p in self.data.glob("*.tmp")))

    def __enter__(self) -> DiskWatch:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def platform_run(rows: int, workdir: Path, execution: str) -> None:
    (workdir / "home").mkdir(parents=True, exist_ok=True)
    shutil.copy(REPO / "dagster.yaml", workdir / "home" / "dagster.yaml")
    catalog = workdir / "datasets.yaml"
    catalog.write_text(yaml.safe_dump({"datasets": [entry(rows, execution)]}))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ML_PLATFORM_", "DAGSTER_"))}
    env.update(
        DAGSTER_HOME=str(workdir / "home"),
        ML_PLATFORM_CATALOG=str(catalog),
        ML_PLATFORM_DATA_DIR=str(workdir / "data"),
        ML_PLATFORM_STORAGE="duckdb",
        ML_PLATFORM_DUCKDB_MEMORY_LIMIT=MEMORY_LIMIT,
    )
    cli = Path(sys.executable).parent / "ml-data-platform"
    done = subprocess.run([str(cli), "run"], cwd=workdir, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"ml-data-platform run failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}")


def floor(rows: int, workdir: Path) -> None:
    """generate in chunks -> DuckDB -> validate -> hash split -> statistics -> Parquet."""
    import duckdb
    import pyarrow as pa

    from ml_data_platform.catalog import DatasetSpec
    from ml_data_platform.core.engine.preprocessing import medians, model_ready_select, moments
    from ml_data_platform.core.engine.validation import features_query
    from ml_data_platform.core.preprocessing import fitted_from_statistics
    from ml_data_platform.dataset.in_database.export import as_exported, untouched_select
    from ml_data_platform.dataset.in_database.sources import synthetic_tables
    from ml_data_platform.dataset.in_database.splits import split_select
    from ml_data_platform.storage.exports import STREAM_WRITERS, write_stream

    spec = DatasetSpec.model_validate(entry(rows, "database"))
    data = workdir / "data"
    db = duckdb.connect(str(data / "floor.duckdb"))
    db.execute(f"SET memory_limit = '{MEMORY_LIMIT}'")
    create = "CREATE TABLE raw AS SELECT * FROM source"
    for table in synthetic_tables(spec, datetime.now(UTC), lambda done, total: None):
        db.register("source", table)
        db.execute(create)
        db.unregister("source")
        create = "INSERT INTO raw SELECT * FROM source"
    sql, tables, _ = features_query(db, spec.rules(), "raw")
    for name, table in tables.items():
        db.register(name, table)
    db.execute(f"CREATE TABLE features AS {sql}")
    names = [r[0] for r in db.execute("DESCRIBE features").fetchall()]
    for position, split in enumerate(("train", "val", "test")):
        rows_of_split = split_select("features", names, spec.split.as_dict(), spec.seed, position)
        db.execute(f"CREATE TABLE {split} AS {rows_of_split}")
    features = [n for n in names if n not in ("sample_index", "target", "ingested_at")]
    means, variances, seen = moments(db, "train", features)
    artifact = fitted_from_statistics(features, medians(db, "train", features), means, variances, seen)
    (data / "exports").mkdir()

    def export(split: str, suffix: str, select: str) -> None:
        reader = db.cursor().sql(select).to_arrow_reader(122_880)
        schema = as_exported(reader.schema)
        batches = (batch.cast(schema) for batch in reader)
        path = data / "exports" / f"{split}{suffix}.parquet"
        write_stream(pa.RecordBatchReader.from_batches(schema, batches), path)

    files = [
        (split, suffix, select)
        for split in ("train", "val", "test")
        for suffix, select in (
            ("", untouched_select(split, features, "target")),
            (".model_ready", model_ready_select(artifact, split, "target")),
        )
    ]
    with ThreadPoolExecutor(STREAM_WRITERS) as pool:  # as many files at a time as the platform
        list(pool.map(lambda file: export(*file), files))
    db.close()


def main() -> None:
    variant, rows, workdir = sys.argv[1], int(sys.argv[2]), Path(sys.argv[3])
    shutil.rmtree(workdir, ignore_errors=True)
    (workdir / "data").mkdir(parents=True)
    start = time.perf_counter()
    with DiskWatch(workdir / "data") as watch:
        if variant == "floor":
            floor(rows, workdir)
            who = resource.RUSAGE_SELF
        else:
            platform_run(rows, workdir, variant)
            who = resource.RUSAGE_CHILDREN
    wall = time.perf_counter() - start
    result = {
        "variant": variant,
        "rows": rows,
        "wall": wall,
        "peak_rss_mb": resource.getrusage(who).ru_maxrss / 1024,
        "peak_disk_mb": watch.peak,
        "final_disk_mb": disk_mb(workdir / "data"),
        "peak_spill_mb": watch.peak_spill,
        "spill_left_mb": sum(disk_mb(p) for p in (workdir / "data").glob("*.tmp")),
    }
    shutil.rmtree(workdir, ignore_errors=True)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
