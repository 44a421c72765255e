"""Read finished exports back as arrays: the training-side API (`load_data`)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from ml_data_platform.catalog import SAFE_NAME
from ml_data_platform.settings import DATA_DIR_ENV, EXPORT_URL_ENV, Settings
from ml_data_platform.storage.exports import MANIFEST, ExportError, read_manifest
from ml_data_platform.storage.object_exports import ObjectExports


class ExportNotFoundError(FileNotFoundError):
    """The dataset or split has no finished export under the data directory."""


def _how_to_make(dataset: str) -> str:
    return (
        f"materialize it with `make run`, or `dg launch --assets 'group:{dataset}'` from the "
        "project root (a new dataset goes into datasets.yaml first)"
    )


def exported_datasets(data_dir: Path) -> list[str]:
    root = data_dir / "exports"
    if not root.is_dir():
        return []
    return sorted(p.name for p in root.iterdir() if not p.name.startswith(".") and (p / MANIFEST).is_file())


@dataclass(frozen=True)
class _Export:
    """A published export's manifest and how to read the files of that same version."""

    dataset: str
    manifest: dict
    read: Callable[[str], pa.Table]


def _open_export(dataset: str, data_dir: Path | None, url: str | None = None) -> _Export:
    if not SAFE_NAME.fullmatch(dataset):
        raise ValueError(f"{dataset!r} is not a dataset name ([a-z][a-z0-9_]*)")
    url = url or (None if data_dir is not None else Settings.from_env().export_url)
    if url:
        return _open_remote(dataset, url)
    chosen = f"data_dir={data_dir}" if data_dir is not None else Settings.data_dir_origin()
    data_dir = Path(data_dir) if data_dir is not None else Settings.from_env().data_dir
    out_dir = data_dir / "exports" / dataset
    if not (out_dir / MANIFEST).is_file():
        existing = exported_datasets(data_dir)
        raise ExportNotFoundError(
            f"dataset {dataset!r} has no export under {data_dir / 'exports'}, the data directory of "
            f"{chosen} (exported: {', '.join(existing) or 'none'}); {_how_to_make(dataset)}, or "
            f"point at another data directory with data_dir=... or {DATA_DIR_ENV}"
        )

    def read(file: str) -> pa.Table:
        path = out_dir / file
        if not path.is_file():
            raise ExportNotFoundError(
                f"{path} is listed in the manifest but missing; {_how_to_make(dataset)}"
            )
        return pq.read_table(path)

    return _Export(dataset, read_manifest(out_dir), read)


def _open_remote(dataset: str, url: str) -> _Export:
    """The version the pointer names, read through to its files (a publish in between does
    not mix versions: the manifest fixes which prefix the files come from)."""
    remote = ObjectExports(url)
    try:
        version, manifest = remote.read_manifest(dataset)
    except ExportError as error:
        raise ExportNotFoundError(
            f"{error}; {_how_to_make(dataset)} with {EXPORT_URL_ENV} set, or read the data "
            f"directory instead with data_dir=..."
        ) from None
    return _Export(dataset, manifest, lambda file: remote.read_file(dataset, version, file))


def _read_splits(export: _Export, split: str | None, section: str = "splits") -> pd.DataFrame:
    dataset, manifest = export.dataset, export.manifest
    if section not in manifest:
        raise ExportNotFoundError(
            f"dataset {dataset!r} was exported without {section} files; {_how_to_make(dataset)}"
        )
    available = list(manifest[section])
    if split is not None and split not in available:
        raise ExportNotFoundError(
            f"dataset {dataset!r} has no split {split!r}; available: {', '.join(available)} "
            "(or split=None for all rows)"
        )
    frames = [
        export.read(manifest[section][name]["file"]).to_pandas()
        for name in (available if split is None else [split])
    ]
    if len(frames) == 1:
        return frames[0]
    frame = pd.concat(frames, ignore_index=True)
    return frame.sort_values("sample_index", kind="stable").reset_index(drop=True)


def load_frame(
    dataset_name: str, split: str | None = None, data_dir: Path | None = None, url: str | None = None
) -> pd.DataFrame:
    """The exported rows of one split (or all splits, ordered by sample_index) as a DataFrame."""
    return _read_splits(_open_export(dataset_name, data_dir, url), split)


def load_data(
    dataset_name: str = "classification_data",
    split: str | None = None,
    data_dir: Path | None = None,
    transformed: bool = False,
    url: str | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """`X` (float64, n × features) and `y` (int64) of a split, read from its Parquet export.

    `split=None` returns every exported row, as the seed's `load_data(dataset_name=...)` did.
    Without `data_dir` the data directory is ML_PLATFORM_DATA_DIR, else `data/` of the nearest
    folder upward from the cwd that holds datasets.yaml (so a notebook in a subfolder works).
    `transformed=True` returns the model-ready matrix: the train-fitted preprocessor applied
    (column names in the manifest's `model_ready_columns`). A dataset with categorical
    features has no untransformed float matrix: use `transformed=True` or `load_frame`.
    `url` (default ML_PLATFORM_EXPORT_URL, unless `data_dir` is given) reads the version
    published to object storage instead, e.g. s3://bucket/prefix.
    """
    export = _open_export(dataset_name, data_dir, url)
    manifest = export.manifest
    categorical = manifest.get("categorical_columns") or []
    if categorical and not transformed:
        raise ValueError(
            f"dataset {dataset_name!r} has categorical feature(s) {categorical}, which are text: use "
            "load_data(..., transformed=True) for the encoded matrix, or load_frame for the columns"
        )
    section = "model_ready" if transformed else "splits"
    frame = _read_splits(export, split, section)
    columns = manifest["feature_columns"]
    if transformed:  # exports from before categorical support have no model_ready_columns
        columns = manifest.get("model_ready_columns", columns)
    X = frame[columns].to_numpy(dtype=np.float64)
    y = frame[manifest["target"]].to_numpy(dtype=np.int64)
    return X, y
