"""Read a dataset's rows from its declared source and stamp them as raw data."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.datasets import make_classification

from ml_data_platform.catalog import RESERVED_COLUMNS, DatasetSpec, FileFormat, FileSource


class SourceError(ValueError):
    """The source could not be read as declared."""


def generate_synthetic(spec: DatasetSpec) -> pd.DataFrame:
    source = spec.source
    X, y = make_classification(
        n_samples=source.n_samples,
        n_features=source.n_features,
        n_informative=source.n_informative,
        n_redundant=source.n_redundant,
        n_repeated=source.n_repeated,
        n_classes=source.n_classes,
        n_clusters_per_class=source.n_clusters_per_class,
        weights=source.weights,
        flip_y=source.flip_y,
        class_sep=source.class_sep,
        hypercube=source.hypercube,
        shift=source.shift,
        scale=source.scale,
        shuffle=source.shuffle,
        random_state=spec.seed,
    )
    names = spec.feature_columns or [f"feature_{i}" for i in range(source.n_features)]
    frame = pd.DataFrame(X.astype(np.float64, copy=False), columns=names)
    frame[spec.target] = y.astype(np.int64, copy=False)
    return frame


def read_file(spec: DatasetSpec) -> pd.DataFrame:
    source: FileSource = spec.source
    path = Path(source.path)
    if not path.is_file():
        raise SourceError(
            f"dataset {spec.name!r}: source file {path} does not exist; create it or fix "
            f"source.path in the catalog"
        )
    if path.stat().st_size == 0:
        raise SourceError(f"dataset {spec.name!r}: source file {path} is empty")
    try:
        frame = pd.read_csv(path) if source.format is FileFormat.csv else pd.read_parquet(path)
    except Exception as error:  # the readers raise many types; name the file and format
        raise SourceError(
            f"dataset {spec.name!r}: cannot read {path} as {source.format.value}: {error}; "
            "check the file or set source.format"
        ) from error
    if frame.empty:
        raise SourceError(f"dataset {spec.name!r}: source file {path} has no rows")
    return frame


def read_source(spec: DatasetSpec) -> pd.DataFrame:
    """The source's rows, unchanged but for column selection when feature_columns is declared."""
    frame = generate_synthetic(spec) if spec.source.type == "synthetic" else read_file(spec)
    clashing = sorted(RESERVED_COLUMNS & set(frame.columns))
    if clashing:
        raise SourceError(
            f"dataset {spec.name!r}: source has column(s) {clashing} that the platform adds "
            "itself; rename them in the source"
        )
    if spec.feature_columns is not None:
        wanted = [*spec.feature_columns, spec.target]
        missing = [c for c in wanted if c not in frame.columns]
        if missing:
            raise SourceError(
                f"dataset {spec.name!r}: source lacks declared column(s) {missing}; it has "
                f"{list(frame.columns)}"
            )
        frame = frame[wanted]
    return frame


def stamp_raw(frame: pd.DataFrame, ingested_at: datetime) -> pd.DataFrame:
    """Prefix `sample_index` (0..n-1, the row's identity from here on) and add `ingested_at`."""
    stamped = frame.reset_index(drop=True)
    stamped.insert(0, "sample_index", np.arange(len(stamped), dtype=np.int64))
    stamp = pd.Timestamp(ingested_at)
    stamp = stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")
    stamp = stamp.floor("us")  # the finest unit both SQLite text and DuckDB TIMESTAMPTZ keep
    stamped["ingested_at"] = pd.Series(stamp, index=stamped.index, dtype="datetime64[ns, UTC]")
    return stamped
