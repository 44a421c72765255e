"""One benchmark measurement per process: `python -m benchmarks.variants VARIANT BACKEND ROWS DIR`.

Prints one JSON line: wall seconds, seconds per stage, and the process's peak RSS. Each
variant runs the same stages: generate -> store raw -> read -> validate -> store features ->
read -> stratified split -> store 3 splits -> read -> 3 zstd Parquet files, plus what our
export also writes: a median-impute + standard-scale fit on train and 3 model-ready files.
"""

from __future__ import annotations

import json
import resource
import sqlite3
import sys
import time
from collections import defaultdict
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.datasets import make_classification

FEATURES = 20
SPLIT = {"train": 0.7, "val": 0.15, "test": 0.15}


class Clock:
    def __init__(self) -> None:
        self.stages: dict[str, float] = defaultdict(float)

    @contextmanager
    def stage(self, name: str):
        start = time.perf_counter()
        yield
        self.stages[name] += time.perf_counter() - start


def generate(rows: int) -> pd.DataFrame:
    X, y = make_classification(
        n_samples=rows, n_features=FEATURES, n_informative=10, n_redundant=5, n_classes=2, random_state=42
    )
    frame = pd.DataFrame(X, columns=[f"feature_{i}" for i in range(FEATURES)])
    frame.insert(0, "sample_index", np.arange(rows, dtype=np.int64))
    frame["target"] = y.astype(np.int64)
    return frame


def validate(frame: pd.DataFrame) -> pd.DataFrame:
    """The seeds' way: a finite mask, then DataFrame.drop_duplicates."""
    names = [f"feature_{i}" for i in range(FEATURES)]
    finite = np.isfinite(frame[names].to_numpy()).all(axis=1)
    return frame[finite].drop_duplicates(subset=[*names, "target"]).reset_index(drop=True)


def validate_fast(frame: pd.DataFrame) -> pd.DataFrame:
    """The floor's way: the same result with our hashed duplicate search (pure numpy), so
    the floor is not slowed by drop_duplicates and ours/floor measures only the platform."""
    from ml_data_platform.core.validation import duplicated_rows

    names = [f"feature_{i}" for i in range(FEATURES)]
    values = frame[names].to_numpy()
    target = frame["target"].to_numpy()
    kept = np.flatnonzero(np.isfinite(values).all(axis=1))
    kept = kept[~duplicated_rows(values[kept], target[kept])]
    return frame.iloc[kept].reset_index(drop=True)


def seed_style(rows: int, workdir: Path, clock: Clock) -> None:
    """The seeds' calls: executemany, to_sql, read_sql, train_test_split, to_parquet."""
    from sklearn.model_selection import train_test_split

    with clock.stage("generate"):
        frame = generate(rows)
    connection = sqlite3.connect(workdir / "seed.sqlite")
    names = [f"feature_{i}" for i in range(FEATURES)]
    with clock.stage("write"):
        columns = ", ".join(f"{n} REAL" for n in names)
        connection.execute(f"CREATE TABLE raw (sample_index INTEGER, {columns}, target INTEGER)")
        connection.executemany(
            f"INSERT INTO raw VALUES ({', '.join('?' * (FEATURES + 2))})",
            frame.itertuples(index=False, name=None),
        )
        connection.commit()
    with clock.stage("read"):
        raw = pd.read_sql("SELECT * FROM raw", connection)
    with clock.stage("validate"):
        features = validate(raw)
    with clock.stage("write"):
        features.to_sql("features", connection, index=False)
    with clock.stage("read"):
        features = pd.read_sql("SELECT * FROM features", connection)
    with clock.stage("split"):
        train, rest = train_test_split(features, test_size=0.3, stratify=features["target"], random_state=42)
        val, test = train_test_split(rest, test_size=0.5, stratify=rest["target"], random_state=42)
    parts = {"train": train, "val": val, "test": test}
    with clock.stage("write"):
        for name, part in parts.items():
            part.to_sql(name, connection, index=False)
    with clock.stage("read"):
        parts = {name: pd.read_sql(f"SELECT * FROM {name}", connection) for name in parts}
    with clock.stage("export"):
        for name, part in parts.items():
            part.to_parquet(workdir / f"seed_{name}.parquet", compression="zstd")
    with clock.stage("preprocess"):
        from sklearn.impute import SimpleImputer
        from sklearn.pipeline import make_pipeline
        from sklearn.preprocessing import StandardScaler

        pipeline = make_pipeline(SimpleImputer(strategy="median"), StandardScaler()).fit(
            parts["train"][names]
        )
    with clock.stage("export model-ready"):
        for name, part in parts.items():
            ready = pd.DataFrame(pipeline.transform(part[names]), columns=names)
            ready.insert(0, "sample_index", part["sample_index"].to_numpy())
            ready["target"] = part["target"].to_numpy()
            ready.to_parquet(workdir / f"seed_{name}.model_ready.parquet", compression="zstd")
    connection.close()


class ArrowStore:
    """The fastest raw calls of each engine: Arrow in and out, no Dagster."""

    def __init__(self, backend: str, path: Path) -> None:
        self.backend = backend
        if backend == "duckdb":
            import duckdb

            self.connection = duckdb.connect(str(path))
        elif backend == "postgres":  # ADBC's binary COPY into the server run.py started
            import os

            import adbc_driver_postgresql.dbapi as adbc

            self.connection = adbc.connect(os.environ["ML_PLATFORM_POSTGRES_URL"])
        else:
            import adbc_driver_sqlite.dbapi as adbc

            self.connection = adbc.connect(str(path))

    def write(self, name: str, table) -> None:
        if self.backend == "duckdb":
            self.connection.register("incoming", table)
            self.connection.execute(f"CREATE OR REPLACE TABLE {name} AS SELECT * FROM incoming")
            self.connection.unregister("incoming")
        else:
            with self.connection.cursor() as cursor:
                cursor.adbc_ingest(name, table, mode="replace")
            self.connection.commit()

    def read(self, name: str):
        if self.backend == "duckdb":
            return self.connection.sql(f"SELECT * FROM {name}").arrow().read_all()
        with self.connection.cursor() as cursor:
            cursor.execute(f"SELECT * FROM {name}")
            return cursor.fetch_arrow_table()


def floor(rows: int, workdir: Path, clock: Clock, backend: str) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    def write_parquet(table: pa.Table, path: Path) -> None:
        """zstd; dictionary pages only for the label, as ours skips them for floats."""
        pq.write_table(table, path, compression="zstd", use_dictionary=["target"])

    store = ArrowStore(backend, workdir / f"floor.{backend}")
    with clock.stage("generate"):
        frame = generate(rows)
    with clock.stage("write"):
        store.write("raw", pa.Table.from_pandas(frame, preserve_index=False))
    with clock.stage("read"):
        raw = store.read("raw").to_pandas()
    with clock.stage("validate"):
        features = validate_fast(raw)
    with clock.stage("write"):
        store.write("features", pa.Table.from_pandas(features, preserve_index=False))
    with clock.stage("read"):
        features = store.read("features").to_pandas()
    with clock.stage("split"):
        rng = np.random.default_rng(42)
        labels = features["target"].to_numpy()
        cut = {name: [] for name in SPLIT}
        for cls in np.unique(labels):
            members = rng.permutation(np.flatnonzero(labels == cls))
            a = int(round(len(members) * SPLIT["train"]))
            b = a + int(round(len(members) * SPLIT["val"]))
            cut["train"].append(members[:a])
            cut["val"].append(members[a:b])
            cut["test"].append(members[b:])
        parts = {n: features.iloc[np.sort(np.concatenate(c))] for n, c in cut.items()}
    with clock.stage("write"):
        for name, part in parts.items():
            store.write(name, pa.Table.from_pandas(part, preserve_index=False))
    with clock.stage("read"):
        tables = {name: store.read(name) for name in parts}
    with clock.stage("export"):
        for name, table in tables.items():
            write_parquet(table, workdir / f"floor_{name}.parquet")
    names = [f"feature_{i}" for i in range(FEATURES)]
    with clock.stage("preprocess"):
        X = np.empty((tables["train"].num_rows, len(names)), order="F")
        for j, n in enumerate(names):
            X[:, j] = tables["train"].column(n).to_numpy()
        medians = np.nanmedian(X, axis=0)
        if np.isnan(X).any():
            X = np.where(np.isnan(X), medians, X)
        means, stds = X.mean(axis=0), X.std(axis=0)
    with clock.stage("export model-ready"):
        for name, table in tables.items():
            columns = {"sample_index": table.column("sample_index")}
            for j, n in enumerate(names):
                values = table.column(n).to_numpy()
                columns[n] = (np.where(np.isnan(values), medians[j], values) - means[j]) / stds[j]
            columns["target"] = table.column("target")
            write_parquet(pa.table(columns), workdir / f"floor_{name}.model_ready.parquet")


def ours(rows: int, workdir: Path, clock: Clock, backend: str, checks: bool = True, api: str = "job") -> None:
    """The graph as `ml-data-platform run` executes it (`dg.execute_job`, in-process executor,
    a persistent instance), or through `dg.materialize` as tests and notebooks call it
    (api="materialize": its default in-memory instance)."""
    import os

    import dagster as dg
    import yaml

    catalog = {
        "datasets": [
            {
                "name": "bench",
                "seed": 42,
                "source": {
                    "type": "synthetic",
                    "n_samples": rows,
                    "n_features": FEATURES,
                    "n_informative": 10,
                    "n_redundant": 5,
                    "n_classes": 2,
                },
            }
        ]
    }
    (workdir / "datasets.yaml").write_text(yaml.safe_dump(catalog))
    os.environ.update(
        ML_PLATFORM_CATALOG=str(workdir / "datasets.yaml"),
        ML_PLATFORM_DATA_DIR=str(workdir / "data"),
        ML_PLATFORM_STORAGE=backend,
        BENCH_CHECKS="1" if checks else "0",
    )
    from benchmarks.graph_job import bench_job, selected_definitions
    from ml_data_platform.definitions import build_definitions

    # dg.materialize's own default is an in-memory instance; execute_job needs a persistent one
    # (the CLI's), whose SQLite storages cost ~1.5 s to set up.
    if api == "materialize":
        instance = dg.DagsterInstance.ephemeral()
    else:
        (workdir / "home").mkdir(exist_ok=True)
        instance = dg.DagsterInstance.local_temp(str(workdir / "home"))
    with instance:
        if api == "materialize":
            defs = build_definitions()
            result = dg.materialize(selected_definitions(defs), resources=defs.resources, instance=instance)
        else:
            with dg.execute_job(dg.reconstructable(bench_job), instance=instance) as result:
                pass
        assert result.success
        run_id = result.run_id
        steps: dict[str, list[float]] = defaultdict(list)
        for record in instance.all_logs(run_id):
            event = record.dagster_event
            if (
                event is not None
                and event.step_key
                and event.event_type_value in ("STEP_START", "STEP_SUCCESS")
            ):
                steps[event.step_key].append(record.timestamp)
    names = {
        "bench__raw": "generate+write raw",
        "bench__features": "read+validate+write",
        "bench__splits": "read+split+write",
        "bench__export": "read+export (+ model-ready)",
        "bench__preprocessor": "fit preprocessor",
    }
    for step, stamps in steps.items():
        clock.stages[names.get(step, "checks")] += max(stamps) - min(stamps)


def main() -> None:
    variant, backend, rows, workdir = sys.argv[1], sys.argv[2], int(sys.argv[3]), Path(sys.argv[4])
    workdir.mkdir(parents=True, exist_ok=True)
    clock = Clock()
    start = time.perf_counter()
    if variant == "seed":
        seed_style(rows, workdir, clock)
    elif variant == "floor":
        floor(rows, workdir, clock, backend)
    elif variant in ("ours", "ours-nochecks", "ours-cli"):
        api = "job" if variant == "ours-cli" else "materialize"
        ours(rows, workdir, clock, backend, checks=variant != "ours-nochecks", api=api)
    else:
        raise SystemExit(f"unknown variant {variant}")
    wall = time.perf_counter() - start
    clock.stages["orchestration+imports" if variant.startswith("ours") else "other"] = max(
        wall - sum(clock.stages.values()), 0.0
    )
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        json.dumps(
            {
                "variant": variant,
                "backend": backend,
                "rows": rows,
                "wall": wall,
                "stages": dict(clock.stages),
                "peak_rss_mb": peak_mb,
            }
        )
    )


if __name__ == "__main__":
    main()
