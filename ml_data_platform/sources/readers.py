"""Read a dataset's rows from its declared source and stamp them as raw data."""

from __future__ import annotations

import hashlib
import re
import sqlite3
from datetime import datetime
from pathlib import Path

import numpy as np
import pandas as pd

from ml_data_platform.catalog import RESERVED_COLUMNS, DatasetSpec, FileSource, SeedDatabaseSource
from ml_data_platform.sources import synthetic
from ml_data_platform.sources.files import FileReading, SourceError, read_files


def generate_synthetic(spec: DatasetSpec) -> pd.DataFrame:
    """Every synthetic row in one frame (sources/synthetic.py makes them)."""
    pieces = list(synthetic.frames(spec))
    return pieces[0] if len(pieces) == 1 else pd.concat(pieces, ignore_index=True)


def source_files(source: FileSource) -> list[Path]:
    """The files a file source reads: the file itself, or the folder's files of its format."""
    path = Path(source.path)
    if path.is_dir():
        suffix = f".{source.format.value}"
        return sorted(p for p in path.iterdir() if p.is_file() and p.suffix.lower() == suffix)
    return [path] if path.is_file() else []


def file_set_fingerprint(source: FileSource) -> str | None:
    """Changes when a file is added, removed or rewritten (name, size, mtime); None if none."""
    files = source_files(source)
    if not files:
        return None
    digest = hashlib.sha256()
    for file in files:
        stat = file.stat()
        digest.update(f"{file.name}:{stat.st_size}:{stat.st_mtime_ns};".encode())
    return digest.hexdigest()[:32]


def file_reading(spec: DatasetSpec) -> FileReading:
    """What reading this dataset's files needs: format, parsing, and the columns it names."""
    source: FileSource = spec.source
    identity = spec.identity_column()
    named = [spec.target, *([identity] if identity else []), *spec.rules().extra_columns]
    declared = [*spec.feature_columns, *named] if spec.feature_columns is not None else None
    # Category and declared text-label columns are read as text, so "007" stays "007".
    text = [*spec.categorical_columns, *([spec.target] if spec.label_mapping() else [])]
    return FileReading(
        dataset=spec.name,
        format=source.format.value,
        delimiter=source.delimiter,
        encoding=source.encoding,
        text_columns=tuple(text),
        required=tuple(declared or named),
        columns=tuple(declared) if declared else None,
    )


def read_file(spec: DatasetSpec) -> pd.DataFrame:
    return read_files(file_reading(spec), existing_files(spec))


def existing_files(spec: DatasetSpec) -> list[Path]:
    """The source's files, refused with the fix when there are none."""
    source: FileSource = spec.source
    path = Path(source.path)
    files = source_files(source)
    if not files:
        if path.is_dir():
            raise SourceError(
                f"dataset {spec.name!r}: folder {path} holds no .{source.format.value} files; add some "
                "or fix source.path / source.format"
            )
        raise SourceError(
            f"dataset {spec.name!r}: source file {path} does not exist; create it or fix "
            f"source.path in the catalog"
        )
    return files


SEED_TABLES = {
    "datasets": {"dataset_id", "dataset_name"},
    "features": {"dataset_id", "sample_index", "target"},
}


def read_seed_database(spec: DatasetSpec) -> pd.DataFrame:
    """Rows of one dataset from a database in the seed module's schema, in sample_index order."""
    source: SeedDatabaseSource = spec.source
    path = Path(source.path)
    if not path.is_file():
        raise SourceError(
            f"dataset {spec.name!r}: seed database {path} does not exist; create it (the seed's "
            "generate_database.py) or fix source.path"
        )
    try:
        connection = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    except sqlite3.Error as error:
        raise SourceError(f"dataset {spec.name!r}: cannot open {path}: {error}") from None
    try:
        columns = {
            table: {row[1] for row in connection.execute(f"PRAGMA table_info({table})")}
            for table in SEED_TABLES
        }
        lacking = {t: sorted(need - columns[t]) for t, need in SEED_TABLES.items() if need - columns[t]}
        features = sorted(
            (c for c in columns["features"] if re.fullmatch(r"feature_\d+", c)),
            key=lambda c: int(c.split("_")[1]),
        )
        if lacking or not features:
            raise SourceError(
                f"dataset {spec.name!r}: {path} is not in the seed format (tables datasets + "
                f"features with feature_0.. columns); missing: {lacking or 'feature_* columns'}"
            )
        found = connection.execute(
            "SELECT dataset_id FROM datasets WHERE dataset_name = ?", (source.dataset_name,)
        ).fetchone()
        if found is None:
            names = [r[0] for r in connection.execute("SELECT dataset_name FROM datasets ORDER BY 1")]
            raise SourceError(
                f"dataset {spec.name!r}: {path} has no dataset_name {source.dataset_name!r}; it has {names}"
            )
        quoted = ", ".join(f'"{c}"' for c in features)
        frame = pd.read_sql_query(
            f"SELECT sample_index, {quoted}, target FROM features WHERE dataset_id = ? ORDER BY sample_index",
            connection,
            params=(found[0],),
        )
    except sqlite3.DatabaseError as error:
        raise SourceError(f"dataset {spec.name!r}: cannot read {path} as SQLite: {error}") from None
    finally:
        connection.close()
    return frame.rename(columns={"target": spec.target}) if spec.target != "target" else frame


def read_source(spec: DatasetSpec) -> pd.DataFrame:
    """The source's rows, unchanged but for column selection when feature_columns is declared."""
    readers = {"synthetic": generate_synthetic, "file": read_file, "seed_sqlite": read_seed_database}
    return select_columns(spec, readers[spec.source.type](spec))


def select_columns(spec: DatasetSpec, frame: pd.DataFrame) -> pd.DataFrame:
    """The catalog's columns of the source's rows (all of them unless feature_columns is
    declared), refusing a source that lacks one or brings a platform column."""
    identity = spec.identity_column()
    clashing = sorted(RESERVED_COLUMNS & set(frame.columns) - {identity})
    if clashing:
        raise SourceError(
            f"dataset {spec.name!r}: source has column(s) {clashing} that the platform adds "
            "itself; rename them in the source"
        )
    if identity is not None and identity not in frame.columns:
        raise SourceError(
            f"dataset {spec.name!r}: source lacks the id column {identity!r}; it has "
            f"{list(frame.columns)}. Fix the source or id_column in the catalog"
        )
    if spec.target not in frame.columns:
        raise SourceError(
            f"dataset {spec.name!r}: source lacks the target column {spec.target!r}; it has "
            f"{list(frame.columns)[:12]}. Fix the source or target in the catalog"
        )
    if spec.feature_columns is not None:
        extra = list(spec.rules().extra_columns)
        wanted = [*spec.feature_columns, spec.target, *([identity] if identity else []), *extra]
        missing = [c for c in wanted if c not in frame.columns]
        if missing:
            raise SourceError(
                f"dataset {spec.name!r}: source lacks declared column(s) {missing}; it has "
                f"{list(frame.columns)}"
            )
        frame = frame[wanted]
    return frame


def _ids(frame: pd.DataFrame, column: str, dataset: str) -> np.ndarray:
    ids = frame[column]
    if not pd.api.types.is_integer_dtype(ids):
        numeric = pd.to_numeric(ids, errors="coerce")
        bad = ids[numeric.isna() | (numeric != numeric.round())]
        if len(bad):
            raise SourceError(
                f"dataset {dataset!r}: id column {column!r} holds {len(bad)} value(s) that are not "
                f"integers (e.g. {bad.astype(str).head(3).tolist()}); ids must be unique integers"
            )
        ids = numeric
    duplicated = ids[ids.duplicated(keep=False)]
    if len(duplicated):
        raise SourceError(
            f"dataset {dataset!r}: id column {column!r} repeats {duplicated.nunique()} id(s) "
            f"(e.g. {sorted(duplicated.unique().tolist())[:5]}); deduplicate the source"
        )
    return ids.to_numpy(dtype=np.int64)


def stamp_raw(
    frame: pd.DataFrame, ingested_at: datetime, id_column: str | None = None, dataset: str = ""
) -> pd.DataFrame:
    """Prefix `sample_index` (the row's identity from here on) and add `ingested_at`.

    Without an id column the identity is the row position 0..n-1; with one, it is the id,
    and rows are ordered by it so the same rows in another file order split the same way.
    """
    stamped = frame.copy(deep=False)  # new columns go on a new frame; the data is shared
    stamped.index = pd.RangeIndex(len(stamped))
    if id_column is None:
        stamped.insert(0, "sample_index", np.arange(len(stamped), dtype=np.int64))
    else:
        ids = _ids(stamped, id_column, dataset)
        stamped = stamped.drop(columns=[id_column])
        stamped.insert(0, "sample_index", ids)
        stamped = stamped.sort_values("sample_index", kind="stable").reset_index(drop=True)
    stamp = pd.Timestamp(ingested_at)
    stamp = stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")
    stamp = stamp.floor("us")  # the finest unit both SQLite text and DuckDB TIMESTAMPTZ keep
    stamped["ingested_at"] = pd.Series(stamp, index=stamped.index, dtype="datetime64[ns, UTC]")
    return stamped
