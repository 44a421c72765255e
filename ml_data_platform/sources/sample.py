"""Sample landing files, so a partitioned dataset runs out of the box: a few daily CSV files
of generated events, written only into an empty landing folder and named SAMPLE_* so nobody
mistakes them for real data."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pandas as pd

from ml_data_platform.catalog import DatasetSpec, FileSource

FIRST_DAY = date(2026, 1, 1)  # fixed, so the sample is the same on every machine


def sample_frame(spec: DatasetSpec, day: date, offset: int, rows: int) -> pd.DataFrame:
    """One day of events: event_id, event_time, the declared features and a text label."""
    from sklearn.datasets import make_classification  # lazily: ~1 s of imports most callers skip

    names = [c for c in spec.feature_columns or [] if c not in spec.categorical_columns]
    X, y = make_classification(
        n_samples=rows,
        n_features=len(names),
        n_informative=max(2, len(names) // 2),
        n_redundant=0,
        random_state=spec.seed + offset,
        flip_y=0.02,
    )
    rng = np.random.default_rng(spec.seed + offset)
    frame = pd.DataFrame({"event_id": np.arange(offset, offset + rows, dtype=np.int64)})
    seconds = np.sort(rng.integers(0, 86_400, rows))
    frame["event_time"] = [
        (pd.Timestamp(day, tz="UTC") + pd.Timedelta(seconds=int(s))).isoformat() for s in seconds
    ]
    for index, name in enumerate(names):
        frame[name] = np.round(X[:, index], 6)
    for name in spec.categorical_columns:
        frame[name] = rng.choice(["web", "app", "store"], rows)
    labels = [str(c) for c in spec.classes] if spec.classes else ["0", "1"]
    frame[spec.target] = np.asarray(labels)[y % len(labels)]
    return frame


def write_sample_files(spec: DatasetSpec) -> list[Path]:
    """Write the declared sample files into the landing folder when it holds none of the
    source's format; returns what it wrote (nothing when data is already there)."""
    source: FileSource = spec.source
    if source.sample is None:
        return []
    folder = Path(source.path)
    if folder.is_dir() and any(p.suffix.lower() == f".{source.format.value}" for p in folder.iterdir()):
        return []
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for number in range(source.sample.files):
        day = FIRST_DAY + timedelta(days=number)
        frame = sample_frame(spec, day, number * source.sample.rows_per_file, source.sample.rows_per_file)
        path = folder / f"SAMPLE_{spec.name}_{day.isoformat()}.{source.format.value}"
        if source.format.value == "csv":
            frame.to_csv(path, index=False, sep=source.delimiter, encoding=source.encoding)
        else:
            frame.to_parquet(path, index=False)
        written.append(path)
    return written
