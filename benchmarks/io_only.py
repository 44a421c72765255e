"""IO managers alone vs the raw engine calls: `python -m benchmarks.io_only ROWS DIR`."""

from __future__ import annotations

import json
import os
import sqlite3
import statistics
import sys
import time
import uuid
from pathlib import Path

import dagster as dg
import duckdb
import numpy as np
import pandas as pd

from ml_data_platform.storage.duckdb import DuckDBTableIOManager
from ml_data_platform.storage.postgres import PostgresTableIOManager
from ml_data_platform.storage.sqlite import SQLiteTableIOManager
from ml_data_platform.storage.versions import PUBLISH_AFTER_AUDIT


def frame(rows: int) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    data = pd.DataFrame(rng.normal(size=(rows, 20)), columns=[f"feature_{i}" for i in range(20)])
    data.insert(0, "sample_index", np.arange(rows, dtype=np.int64))
    data["target"] = rng.integers(0, 2, rows)
    return data


def timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def through_handle_output(manager, data: pd.DataFrame, audited: bool) -> None:
    """One asset write as a run makes it: straight over the table, or staged then published
    (write-audit-publish, the audit itself aside: it is the same check work either way)."""
    run_id = str(uuid.uuid4())
    metadata = {PUBLISH_AFTER_AUDIT: True} if audited else {}
    context = dg.build_output_context(asset_key=["bench", "t"], run_id=run_id, definition_metadata=metadata)
    manager.handle_output(context, data)
    if audited:
        manager.publish(list(manager.staged_in_run(run_id).values()))


def medians(candidates: dict, repeats: int = 5, slow: dict[str, int] | None = None) -> dict[str, float]:
    """Median seconds of each candidate, the candidates alternating order every repeat; a
    `slow` candidate (minutes per run) runs only its given number of times."""
    seconds: dict[str, list[float]] = {name: [] for name in candidates}
    for repeat in range(repeats):
        order = list(candidates) if repeat % 2 == 0 else list(reversed(candidates))
        for name in order:
            if repeat < (slow or {}).get(name, repeats):
                seconds[name].append(timed(candidates[name]))
    return {name: statistics.median(values) for name, values in seconds.items()}


def postgres_candidates(url: str, data: pd.DataFrame) -> dict:
    """Ours on PostgreSQL against the fastest raw path into the same server (ADBC's binary
    COPY in and out, Arrow to pandas) and the seed's pandas calls (to_sql / read_sql)."""
    import adbc_driver_postgresql.dbapi as adbc
    import pyarrow as pa
    import sqlalchemy

    ours = PostgresTableIOManager(database=url)
    engine = sqlalchemy.create_engine(url.replace("postgresql://", "postgresql+psycopg2://", 1))

    def adbc_copy() -> None:
        with adbc.connect(url) as connection:
            with connection.cursor() as cursor:
                cursor.adbc_ingest(
                    "t_floor", pa.Table.from_pandas(data, preserve_index=False), mode="replace"
                )
            connection.commit()
            with connection.cursor() as cursor:
                cursor.execute("SELECT * FROM t_floor")
                cursor.fetch_arrow_table().to_pandas()

    def to_sql_read_sql() -> None:
        data.to_sql("t_tosql", engine, index=False, if_exists="replace")
        pd.read_sql("SELECT * FROM t_tosql", engine)

    return {
        "ours_postgres": lambda: (ours.write_table("t", data), ours.read_table("t")),
        "adbc_postgres": adbc_copy,
        "to_sql_postgres": to_sql_read_sql,
        "direct_postgres": lambda: through_handle_output(ours, data, audited=False),
        "staged_postgres": lambda: through_handle_output(ours, data, audited=True),
    }


def main() -> None:
    rows, scratch = int(sys.argv[1]), Path(sys.argv[2])
    scratch.mkdir(parents=True, exist_ok=True)
    data = frame(rows)
    paths = {name: scratch / f"io.{name}" for name in ("sqlite", "duckdb", "arrow", "tosql")}
    for path in paths.values():
        path.unlink(missing_ok=True)
    ours_sqlite = SQLiteTableIOManager(database=str(paths["sqlite"]))
    ours_duckdb = DuckDBTableIOManager(database=str(paths["duckdb"]))

    def arrow_duckdb() -> None:
        with duckdb.connect(str(paths["arrow"])) as connection:
            connection.register("incoming", data)
            connection.execute("CREATE OR REPLACE TABLE t AS SELECT * FROM incoming")
            connection.unregister("incoming")
        with duckdb.connect(str(paths["arrow"])) as connection:
            connection.sql("SELECT * FROM t").arrow().read_all().to_pandas()

    def to_sql_read_sql() -> None:
        with sqlite3.connect(paths["tosql"]) as connection:
            data.to_sql("t", connection, index=False, if_exists="replace")
            pd.read_sql("SELECT * FROM t", connection)

    candidates = {
        "ours_sqlite": lambda: (ours_sqlite.write_table("t", data), ours_sqlite.read_table("t")),
        "ours_duckdb": lambda: (ours_duckdb.write_table("t", data), ours_duckdb.read_table("t")),
        "arrow_duckdb": arrow_duckdb,
        "to_sql_read_sql": to_sql_read_sql,
    }
    # write-audit-publish's cost is a few percent of ~1 s writes: more repeats for its median
    publishing = {
        "direct_sqlite": lambda: through_handle_output(ours_sqlite, data, audited=False),
        "staged_sqlite": lambda: through_handle_output(ours_sqlite, data, audited=True),
        "direct_duckdb": lambda: through_handle_output(ours_duckdb, data, audited=False),
        "staged_duckdb": lambda: through_handle_output(ours_duckdb, data, audited=True),
    }
    median = medians(candidates) | medians(publishing, repeats=9)
    url = os.environ.get("ML_PLATFORM_POSTGRES_URL")
    if url:  # after the embedded engines: the server's own background work (checkpoints,
        # autovacuum after to_sql's million inserts) would otherwise run during their timings
        median |= medians(postgres_candidates(url, data), slow={"to_sql_postgres": 3})
    print(
        json.dumps(
            {
                "rows": rows,
                "columns": data.shape[1],
                "table_mb": data.memory_usage(index=False).sum() / 2**20,
                "seconds": median,
                "duckdb_ratio": median["ours_duckdb"] / median["arrow_duckdb"],
                "sqlite_speedup": median["to_sql_read_sql"] / median["ours_sqlite"],
                # write-audit-publish: staging + publish against writing over the table
                "staging_overhead_sqlite": median["staged_sqlite"] / median["direct_sqlite"] - 1,
                "staging_overhead_duckdb": median["staged_duckdb"] / median["direct_duckdb"] - 1,
                **(
                    {
                        "postgres_ratio": median["ours_postgres"] / median["adbc_postgres"],
                        "postgres_speedup": median["to_sql_postgres"] / median["ours_postgres"],
                        "staging_overhead_postgres": median["staged_postgres"] / median["direct_postgres"]
                        - 1,
                    }
                    if url
                    else {}
                ),
            }
        )
    )


if __name__ == "__main__":
    main()
