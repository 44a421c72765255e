"""One new partition appended to a published table vs the same partition alone:
`python -m benchmarks.append ROWS_PER_PARTITION PARTITIONS DIR`.

Both time a run of raw + features (and their checks: read, validate, stage, audit, publish)
for one file-partition of ROWS rows; "append" with PARTITIONS × ROWS rows already published,
"alone" into a warehouse that holds only that partition. Medians of five, alternating. The
target: append ≤ 1.5 × alone (the cost of a new day must not grow with the history)."""

from __future__ import annotations

import json
import statistics
import sys
import time
from pathlib import Path

import dagster as dg
import numpy as np
import pandas as pd
import yaml

from ml_data_platform.definitions import build_definitions
from ml_data_platform.settings import Settings, Storage

REPEATS = 5


def write_files(folder: Path, rows: int, count: int, first: int = 0) -> list[str]:
    folder.mkdir(parents=True, exist_ok=True)
    names = []
    for number in range(first, first + count):
        rng = np.random.default_rng(number)
        frame = pd.DataFrame(rng.normal(size=(rows, 20)), columns=[f"feature_{i}" for i in range(20)])
        frame.insert(0, "event_id", np.arange(number * rows, (number + 1) * rows, dtype=np.int64))
        frame["target"] = (frame["feature_0"] + rng.normal(size=rows) > 0).astype(np.int64)
        name = f"part_{number:04d}.parquet"
        frame.to_parquet(folder / name, index=False)
        names.append(name)
    return names


def setup(
    root: Path, storage: Storage, rows: int, published: int
) -> tuple[dg.JobDefinition, dg.DagsterInstance, str]:
    """A warehouse with `published` partitions published, and the key of one more."""
    landing = root / "landing"
    names = write_files(landing, rows, published + 1)
    entry = {
        "name": "events",
        "source": {"type": "file", "path": str(landing), "format": "parquet"},
        "partitions": {"by": "file"},
        "id_column": "event_id",
        "min_rows": 10,
    }
    (root / "datasets.yaml").write_text(yaml.safe_dump({"datasets": [entry]}))
    settings = Settings(storage, root / "data", root / "datasets.yaml")
    job = build_definitions(settings).resolve_job_def("events_job")
    instance = dg.DagsterInstance.ephemeral()
    instance.add_dynamic_partitions("events_files", names)
    keys = [dg.AssetKey(["events", "raw"]), dg.AssetKey(["events", "features"])]
    if published:
        tags = {
            "dagster/asset_partition_range_start": names[0],
            "dagster/asset_partition_range_end": names[-2],
        }
        assert job.execute_in_process(instance=instance, tags=tags, asset_selection=keys).success
    return job, instance, names[-1]


def one_partition(job: dg.JobDefinition, instance: dg.DagsterInstance, key: str) -> float:
    keys = [dg.AssetKey(["events", "raw"]), dg.AssetKey(["events", "features"])]
    start = time.perf_counter()
    result = job.execute_in_process(instance=instance, partition_key=key, asset_selection=keys)
    elapsed = time.perf_counter() - start
    assert result.success
    return elapsed


def main() -> None:
    rows, partitions, scratch = int(sys.argv[1]), int(sys.argv[2]), Path(sys.argv[3])
    report = {}
    for storage in (Storage.sqlite, Storage.duckdb):
        append = setup(scratch / f"append-{storage.value}", storage, rows, partitions)
        alone = setup(scratch / f"alone-{storage.value}", storage, rows, 0)
        one_partition(*append), one_partition(*alone)  # warm-up: imports, first writes
        times: dict[str, list[float]] = {"append": [], "alone": []}
        for repeat in range(REPEATS):
            order = [("append", append), ("alone", alone)]
            for label, setup_ in order if repeat % 2 == 0 else order[::-1]:
                times[label].append(one_partition(*setup_))
        medians = {label: statistics.median(values) for label, values in times.items()}
        report[storage.value] = {**medians, "ratio": medians["append"] / medians["alone"]}
    print(json.dumps({"rows": rows, "published_partitions": partitions, **report}))


if __name__ == "__main__":
    main()
