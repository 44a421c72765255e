"""Parquet exports per split plus a manifest, written so a crash never leaves a half file."""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from ml_data_platform.lib.lineage import file_sha256
from ml_data_platform.lib.quality import Outcome

MANIFEST = "manifest.json"
COMPRESSION = "zstd"


class ExportError(ValueError):
    """An export cannot be written or read as asked."""


def ensure_inside(path: Path, root: Path) -> Path:
    """`path` resolved, refused unless it lies under `root` (no escape through '..' or links)."""
    resolved = path.resolve()
    if not resolved.is_relative_to(root.resolve()):
        raise ExportError(f"export path {resolved} is outside the data directory {root.resolve()}")
    return resolved


def export_frame(split: pd.DataFrame, feature_names: list[str], target: str) -> pd.DataFrame:
    """Columns a feature store reads: id, features, label, event time and ingestion time."""
    frame = split[["sample_index", *feature_names, target]].copy()
    # Rows carry no event time of their own yet: the ingestion time is when they became known.
    frame["event_timestamp"] = split["ingested_at"]
    frame["ingested_at"] = split["ingested_at"]
    return frame


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _atomic_write(target: Path, write) -> None:
    """Write through `write(tmp_path)` to a temp file beside `target`, fsync, rename over it."""
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        write(tmp)
        with tmp.open("rb+") as handle:
            os.fsync(handle.fileno())
        os.chmod(tmp, 0o644)  # mkstemp creates 0600; exports are meant to be shared
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def write_exports(
    splits: Mapping[str, pd.DataFrame],
    out_dir: Path,
    data_dir: Path,
    lineage: Mapping[str, Any],
) -> dict[str, Any]:
    """Write `<split>.parquet` (zstd) for every split, then `manifest.json` last.

    Returns the manifest. Readers trust the files the manifest names by checksum, so a
    crash between renames is detectable rather than silently mixed.
    """
    out_dir = ensure_inside(out_dir, data_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    files: dict[str, Any] = {}
    schema: list[dict[str, str]] | None = None
    for name, frame in splits.items():
        table = pa.Table.from_pandas(frame, preserve_index=False)
        target = out_dir / f"{name}.parquet"
        _atomic_write(target, lambda tmp, t=table: pq.write_table(t, tmp, compression=COMPRESSION))
        files[name] = {
            "file": target.name,
            "rows": table.num_rows,
            "bytes": target.stat().st_size,
            "sha256": file_sha256(target),
        }
        schema = schema or [{"name": f.name, "type": str(f.type)} for f in table.schema]
    manifest = {
        "format_version": 1,
        "created_at": datetime.now(UTC).isoformat(),
        "compression": COMPRESSION,
        "splits": files,
        "columns": schema or [],
        **lineage,
    }
    _atomic_write(out_dir / MANIFEST, lambda tmp: tmp.write_text(json.dumps(manifest, indent=2)))
    _fsync_dir(out_dir)
    return manifest


def read_manifest(out_dir: Path) -> dict[str, Any]:
    path = out_dir / MANIFEST
    if not path.is_file():
        raise ExportError(f"no export manifest at {path}")
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as error:
        raise ExportError(f"export manifest {path} is not valid JSON: {error}") from None


def export_schema(feature_names: list[str], target: str) -> list[dict[str, str]]:
    """The Parquet schema an export must have, derived from the feature table's columns."""
    stamp = "timestamp[ns, tz=UTC]"
    return [
        {"name": "sample_index", "type": "int64"},
        *({"name": n, "type": "double"} for n in feature_names),
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
    for name, entry in manifest.get("splits", {}).items():
        path = out_dir / entry["file"]
        if not path.is_file():
            problems.append(f"{name}: {path.name} is missing")
            continue
        digest = file_sha256(path)
        try:
            rows = pq.ParquetFile(path).metadata.num_rows
        except Exception as error:  # pyarrow raises several types for a damaged footer
            rows = None
            problems.append(f"{name}: {path.name} is not readable Parquet ({error})")
        observed[name] = {"rows": rows, "sha256": digest}
        if rows is not None and expected_schema is not None:
            actual = [{"name": f.name, "type": str(f.type)} for f in pq.read_schema(path)]
            if actual != expected_schema:
                wrong = [a for a in actual if a not in expected_schema]
                lost = [e["name"] for e in expected_schema if e not in actual]
                problems.append(
                    f"{name}: Parquet schema differs from the feature table "
                    f"(unexpected {wrong}, missing {lost})"
                )
        if rows is not None and rows != entry["rows"]:
            problems.append(f"{name}: {rows} rows, manifest says {entry['rows']}")
        if digest != entry["sha256"]:
            problems.append(f"{name}: sha256 differs from the manifest (file changed or half-written)")
    if not manifest.get("splits"):
        problems.append("manifest lists no split files")
    return Outcome(
        passed=not problems,
        summary="; ".join(problems) or f"{len(observed)} files match the manifest",
        observed=observed,
        threshold={
            name: {"rows": e["rows"], "sha256": e["sha256"]} for name, e in manifest.get("splits", {}).items()
        },
    )
