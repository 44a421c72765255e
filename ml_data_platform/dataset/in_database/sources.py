"""Raw rows for the engine: synthetic chunks as an Arrow stream, files scanned by DuckDB,
stamped with sample_index and ingested_at as stamp_raw stamps a frame (positions 0..n-1 in
source order, or the id column's integers in id order)."""

from __future__ import annotations

import codecs
from collections.abc import Callable, Iterator
from datetime import datetime
from queue import Queue
from threading import Thread

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa

from ml_data_platform.catalog import DatasetSpec
from ml_data_platform.core.engine.sql import columns, quote, text
from ml_data_platform.sources import synthetic
from ml_data_platform.sources.files import SourceError, header, require_columns
from ml_data_platform.sources.readers import existing_files, file_reading, select_columns

STAMP = pa.timestamp("us", tz="UTC")
Progress = Callable[[int, int], None]


GROUP_ROWS = 1 << 19  # rows handed to the engine at once (~90 MB at 20 features)


def synthetic_tables(spec: DatasetSpec, ingested_at: datetime, progress: Progress) -> Iterator[pa.Table]:
    """sample_index, the features, the target and ingested_at, about a million rows per
    table, each generated while the engine ingests the one before."""
    total = spec.source.n_samples
    names = spec.feature_columns or [f"feature_{i}" for i in range(spec.source.n_features)]
    stamp = pa.scalar(ingested_at, STAMP).value
    schema = pa.schema(
        [("sample_index", pa.int64()), *((n, pa.float64()) for n in names)]
        + [(spec.target, pa.int64()), ("ingested_at", STAMP)]
    )

    def groups() -> Iterator[pa.Table]:
        start, pending = 0, []
        for frame in synthetic.frames(spec):
            rows = len(frame)
            arrays = [pa.array(np.arange(start, start + rows, dtype=np.int64))]
            arrays += [pa.array(frame[n].to_numpy()) for n in [*names, spec.target]]
            arrays.append(pa.array(np.full(rows, stamp, dtype=np.int64), STAMP))
            pending.append(pa.RecordBatch.from_arrays(arrays, schema=schema))
            start += rows
            if sum(b.num_rows for b in pending) >= GROUP_ROWS or start == total:
                yield pa.Table.from_batches(pending, schema)
                pending = []

    done = 0
    for table in ahead(groups()):
        yield table
        done += table.num_rows
        progress(done, total)


def ahead(items: Iterator, depth: int = 1) -> Iterator:
    """`items`, made by a thread of their own up to `depth` ahead: the next chunk is
    generated while the engine compresses and writes this one."""
    queue: Queue = Queue(maxsize=depth)
    done = object()

    def produce() -> None:
        try:
            for item in items:
                queue.put(item)
        except BaseException as error:  # handed to the consumer, raised there
            queue.put(error)
        queue.put(done)

    Thread(target=produce, daemon=True).start()
    while (item := queue.get()) is not done:
        if isinstance(item, BaseException):
            raise item
        yield item


def file_scan(spec: DatasetSpec, sniff_every_row: bool = False) -> str:
    """A DuckDB table function reading every source file, after the same per-file checks as
    the in-memory reader (format, encoding, header, the columns the catalog names). CSV
    column types are guessed from the first rows, or from every row (a second pass over
    the files) when `sniff_every_row`."""
    source, reading = spec.source, file_reading(spec)
    files = existing_files(spec)
    for file in files:
        require_columns(reading, file, header(reading, file))
    listed = "[" + ", ".join(text(str(f)) for f in files) + "]"
    if source.format.value == "parquet":
        return f"read_parquet({listed}, union_by_name = true)"
    types = "{" + ", ".join(f"{text(c)}: 'VARCHAR'" for c in reading.text_columns) + "}"
    return (
        f"read_csv({listed}, header = true, delim = {text(source.delimiter)}, quote = '\"', "
        f"union_by_name = true, encoding = {text(duckdb_encoding(source.encoding))}, "
        # numbers or text, as Arrow reads them for the in-memory path (DuckDB's sniffer would
        # also make yes/no columns BOOLEAN and date-like text TIMESTAMP)
        "auto_type_candidates = ['BIGINT', 'DOUBLE', 'VARCHAR']"
        + (f", types = {types}" if reading.text_columns else "")
        + (", sample_size = -1" if sniff_every_row else "")
        + ")"
    )


def duckdb_encoding(encoding: str) -> str:
    """DuckDB's name of a text encoding it reads (catalog/execution.py refuses the others)."""
    return {"utf-8": "utf-8", "iso8859-1": "latin-1", "utf-16": "utf-16"}[codecs.lookup(encoding).name]


def _check_ids(db: duckdb.DuckDBPyConnection, spec: DatasetSpec, scan: str, column: str) -> None:
    """_ids' refusals: every id an integer, none repeated."""
    value = f"TRY_CAST({quote(column)} AS DOUBLE)"
    bad = f"{value} IS NULL OR {value} <> round({value})"
    count = db.execute(f"SELECT count(*) FROM {scan} WHERE {bad}").fetchall()[0][0]
    if count:
        shown = [
            r[0]
            for r in db.execute(f"SELECT {quote(column)}::VARCHAR FROM {scan} WHERE {bad} LIMIT 3").fetchall()
        ]
        raise SourceError(
            f"dataset {spec.name!r}: id column {column!r} holds {count} value(s) that are not "
            f"integers (e.g. {shown}); ids must be unique integers"
        )
    repeated = db.execute(
        f"SELECT {quote(column)}::BIGINT AS i FROM {scan} GROUP BY 1 HAVING count(*) > 1 ORDER BY 1"
    ).fetchnumpy()["i"]
    if len(repeated):
        raise SourceError(
            f"dataset {spec.name!r}: id column {column!r} repeats {len(repeated)} id(s) "
            f"(e.g. {repeated[:5].tolist()}); deduplicate the source"
        )


def file_select(
    db: duckdb.DuckDBPyConnection, spec: DatasetSpec, ingested_at: datetime, sniff_every_row: bool = False
) -> str:
    """The SELECT of the raw table from the source files: the catalog's columns (the same
    refusals as select_columns), sample_index first, ingested_at last."""
    scan = file_scan(spec, sniff_every_row)
    names = [r[0] for r in db.execute(f"DESCRIBE SELECT * FROM {scan}").fetchall()]
    wanted = list(select_columns(spec, pd.DataFrame(columns=names)).columns)
    stamp = f"{text(pd.Timestamp(ingested_at).isoformat())}::TIMESTAMPTZ AS ingested_at"
    identity = spec.identity_column()
    if identity is None:
        return f"SELECT row_number() OVER () - 1 AS sample_index, {columns(wanted)}, {stamp} FROM {scan}"
    _check_ids(db, spec, scan, identity)
    rest = [c for c in wanted if c != identity]
    return (
        f"SELECT {quote(identity)}::BIGINT AS sample_index, {columns(rest)}, {stamp} FROM {scan} "
        "ORDER BY sample_index"
    )
