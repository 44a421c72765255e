"""Parquet exports per split plus a manifest, written as one version folder and verified
against that manifest (export_versions.py stages, publishes and quarantines the folders)."""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable, Collection, Mapping
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from ml_data_platform.core.quality import Outcome

MANIFEST = "manifest.json"
WRITERS = max(1, min(4, os.cpu_count() or 1))  # Parquet files written (and checked) side by side
STREAM_WRITERS = min(2, WRITERS)  # streams from the engine written side by side (memory-bound)
COMPRESSION = "zstd"


class ExportError(ValueError):
    """An export cannot be written or read as asked."""


def ensure_inside(path: Path, root: Path) -> Path:
    """`path` resolved, refused unless it lies under `root` (no escape through '..' or links)."""
    resolved = path.resolve()
    if not resolved.is_relative_to(root.resolve()):
        raise ExportError(f"export path {resolved} is outside the data directory {root.resolve()}")
    return resolved


def export_frame(split: pd.DataFrame, feature_names: list[str], target: str) -> pa.Table:
    """Columns a feature store reads: id, features, label, event time and ingestion time.

    Built as Arrow straight from the split's columns (no intermediate DataFrame copies).
    """
    table = pa.Table.from_pandas(
        split, columns=["sample_index", *feature_names, target, "ingested_at"], preserve_index=False
    )
    # Rows carry no event time of their own yet: the ingestion time is when they became known.
    stamp = table.column("ingested_at")
    return (
        table.drop_columns(["ingested_at"])
        .append_column("event_timestamp", stamp)
        .append_column("ingested_at", stamp)
    )


def fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _write_synced(path: Path, write) -> None:
    write(path)
    with path.open("rb+") as handle:
        os.fsync(handle.fileno())
    os.chmod(path, 0o644)


def dictionary_columns(schema: pa.Schema) -> list[str]:
    """Columns worth dictionary-encoding: not floats (measured values rarely repeat, and the
    failed dictionary attempt more than doubles pyarrow's write time), not sample_index."""
    return [f.name for f in schema if not pa.types.is_floating(f.type) and f.name != "sample_index"]


ROW_GROUP_ROWS = 1024 * 1024  # pq.write_table's default row group
# A stream's row groups: a quarter of a table's, since a row group is held twice while it is
# written (the batches gathered, and the writer's encoded pages), and a stream is written by
# a process that must stay within a memory bound (the in-database path).
STREAM_ROW_GROUP_ROWS = ROW_GROUP_ROWS // 4
Frame = pd.DataFrame | pa.Table | pa.RecordBatchReader
# A frame, or a function making one when its file is written (so only the frames being
# written at the moment are in memory, not every split's model-ready matrix at once); a
# stream of batches is written as it comes.
LazyFrame = Frame | Callable[[], Frame]


def write_stream(reader: pa.RecordBatchReader, path: Path) -> int:
    """Write a stream of batches as pq.write_table writes a table (same compression and
    dictionary columns), holding one row group of STREAM_ROW_GROUP_ROWS at a time; returns
    the rows."""
    schema, rows, pending, held = reader.schema, 0, [], 0
    with pq.ParquetWriter(
        path, schema, compression=COMPRESSION, use_dictionary=dictionary_columns(schema)
    ) as writer:
        for batch in reader:
            pending.append(batch)
            held += batch.num_rows
            while held >= STREAM_ROW_GROUP_ROWS:
                table = pa.Table.from_batches(pending, schema)
                writer.write_table(table.slice(0, STREAM_ROW_GROUP_ROWS))
                rest = table.slice(STREAM_ROW_GROUP_ROWS)
                pending, held = rest.to_batches(), rest.num_rows
                rows += STREAM_ROW_GROUP_ROWS
        if held or not rows:
            writer.write_table(pa.Table.from_batches(pending, schema))
            rows += held
    return rows


def _write_parquet(frame: LazyFrame, target: Path) -> tuple[dict[str, Any], pa.Schema]:
    frame = frame() if callable(frame) else frame
    if isinstance(frame, pa.RecordBatchReader):
        schema, written = frame.schema, []
        _write_synced(target, lambda path, reader=frame: written.append(write_stream(reader, path)))
        num_rows = written[0]
    else:
        table = frame if isinstance(frame, pa.Table) else pa.Table.from_pandas(frame, preserve_index=False)
        schema, num_rows = table.schema, table.num_rows
        _write_synced(
            target,
            lambda path: pq.write_table(
                table, path, compression=COMPRESSION, use_dictionary=dictionary_columns(table.schema)
            ),
        )
        del table
    del frame
    entry = {
        "file": target.name,
        "rows": num_rows,
        "bytes": target.stat().st_size,
        "sha256": file_sha256(target),
    }
    return entry, schema


def write_version(
    splits: Mapping[str, LazyFrame],
    model_ready: Mapping[str, LazyFrame],
    version: Path,
    lineage: Mapping[str, Any],
    writers: int = WRITERS,
) -> dict[str, Any]:
    # pyarrow encodes, compresses and hashes outside the GIL: the files are written side by side.
    with ThreadPoolExecutor(max_workers=writers) as pool:
        written = {
            name: pool.submit(_write_parquet, frame, version / f"{name}.parquet")
            for name, frame in splits.items()
        }
        written_ready = {
            name: pool.submit(_write_parquet, frame, version / f"{name}.model_ready.parquet")
            for name, frame in model_ready.items()
        }
        files = {name: future.result()[0] for name, future in written.items()}
        schemas = [future.result()[1] for future in written.values()]
        ready = {name: future.result()[0] for name, future in written_ready.items()}
    schema = schemas[-1] if schemas else None
    manifest = {
        "format_version": 1,
        "created_at": datetime.now(UTC).isoformat(),
        "compression": COMPRESSION,
        "splits": files,
        "columns": [{"name": f.name, "type": str(f.type)} for f in schema] if schema else [],
        **({"model_ready": ready} if ready else {}),
        **lineage,
    }
    _write_synced(version / MANIFEST, lambda path: path.write_text(json.dumps(manifest, indent=2)))
    fsync_dir(version)
    return manifest


def read_manifest(out_dir: Path) -> dict[str, Any]:
    path = out_dir / MANIFEST
    if not path.is_file():
        raise ExportError(f"no export manifest at {path}")
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as error:
        raise ExportError(f"export manifest {path} is not valid JSON: {error}") from None


def export_schema(
    feature_names: list[str], target: str, categorical: Collection[str] = ()
) -> list[dict[str, str]]:
    """The Parquet schema an export must have, derived from the feature table's columns."""
    stamp = "timestamp[ns, tz=UTC]"
    return [
        {"name": "sample_index", "type": "int64"},
        *({"name": n, "type": "string" if n in categorical else "double"} for n in feature_names),
        {"name": target, "type": "int64"},
        {"name": "event_timestamp", "type": stamp},
        {"name": "ingested_at", "type": stamp},
    ]


def verify_exports(out_dir: Path, expected_schema: list[dict[str, str]] | None = None) -> Outcome:
    """Every file the manifest names exists with the recorded row count, sha256 and schema."""
    try:
        manifest = read_manifest(out_dir)
    except ExportError as error:
        return Outcome(False, str(error))
    problems = []
    observed: dict[str, Any] = {}
    entries = {
        **manifest.get("splits", {}),
        **{f"{n} (model-ready)": e for n, e in manifest.get("model_ready", {}).items()},
    }

    def inspect(name: str, entry: Mapping[str, Any]) -> tuple[list[str], dict[str, Any] | None]:
        found: list[str] = []
        path = out_dir / entry["file"]
        if not path.is_file():
            return [f"{name}: {path.name} is missing"], None
        digest = file_sha256(path)
        try:
            rows = pq.ParquetFile(path).metadata.num_rows
        except Exception as error:  # pyarrow raises several types for a damaged footer
            rows = None
            found.append(f"{name}: {path.name} is not readable Parquet ({error})")
        if rows is not None and expected_schema is not None and name in manifest.get("splits", {}):
            actual = [{"name": f.name, "type": str(f.type)} for f in pq.read_schema(path)]
            if actual != expected_schema:
                wrong = [a for a in actual if a not in expected_schema]
                lost = [e["name"] for e in expected_schema if e not in actual]
                found.append(
                    f"{name}: Parquet schema differs from the feature table "
                    f"(unexpected {wrong}, missing {lost})"
                )
        if rows is not None and rows != entry["rows"]:
            found.append(f"{name}: {rows} rows, manifest says {entry['rows']}")
        if digest != entry["sha256"]:
            found.append(f"{name}: sha256 differs from the manifest (file changed or half-written)")
        return found, {"rows": rows, "sha256": digest}

    with ThreadPoolExecutor(max_workers=WRITERS) as pool:
        results = {name: pool.submit(inspect, name, entry) for name, entry in entries.items()}
        for name, future in results.items():
            found, seen = future.result()
            problems += found
            if seen is not None:
                observed[name] = seen
    if not manifest.get("splits"):
        problems.append("manifest lists no split files")
    return Outcome(
        passed=not problems,
        summary="; ".join(problems) or f"{len(observed)} files match the manifest",
        observed=observed,
        threshold={
            "files": {name: {"rows": e["rows"], "sha256": e["sha256"]} for name, e in entries.items()},
            "schema": expected_schema,
        },
        metric="problems",
        value=len(problems),
        limit=0,
    )


def file_sha256(path: Path, chunk_size: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(chunk_size):
            digest.update(chunk)
    return digest.hexdigest()
