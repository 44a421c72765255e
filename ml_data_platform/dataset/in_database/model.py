"""preprocessor and baseline_model in the database: the preprocessor's statistics from the
engine, and the baseline fitted and scored on seeded samples read from it."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from ml_data_platform.core.baseline import FIT_ROWS
from ml_data_platform.core.engine.preprocessing import medians, moments
from ml_data_platform.core.engine.sql import column_types, quote
from ml_data_platform.core.preprocessing import fitted_from_statistics
from ml_data_platform.dataset.plan import DatasetPlan
from ml_data_platform.storage.engine_tables import EngineTable

POSITIONS = "_ml_sample_positions"


def fit_preprocessor(plan: DatasetPlan, train: EngineTable) -> tuple[list[str], dict[str, Any]]:
    """(feature names, the fitted parts): medians, means and variances of train's columns
    computed by the engine, in the artifact core.preprocessing.fit_preprocessor makes."""
    with train.connect() as db:
        names = plan.features_of(column_types(db, train.name))
        middle = medians(db, train.name, names)
        means, variances, rows = moments(db, train.name, names)
    return names, fitted_from_statistics(names, middle, means, variances, rows)


def sample_positions(rows: int, seed: int, limit: int = FIT_ROWS) -> np.ndarray:
    """The rows core.baseline.fit_and_score fits on: all, or the same seeded sample."""
    if rows <= limit:
        return np.arange(rows, dtype=np.int64)
    return np.sort(np.random.default_rng(seed).choice(rows, limit, replace=False)).astype(np.int64)


def sampled(plan: DatasetPlan, table: EngineTable) -> pd.DataFrame:
    """At most FIT_ROWS rows of a stored split (its rows in order are its positions), read
    into a frame: what the baseline fits on (train) and scores (every split)."""
    with table.connect() as db:
        rows = int(db.execute(f"SELECT count(*) FROM {quote(table.name)}").fetchall()[0][0])
        positions = pa.table({"_pos": sample_positions(rows, plan.spec.seed)})
        db.register(POSITIONS, positions)
        try:
            chosen = f"rowid IN (SELECT _pos FROM {POSITIONS})"
            frame = db.execute(f"SELECT * FROM {quote(table.name)} WHERE {chosen} ORDER BY rowid").df()
        finally:
            db.unregister(POSITIONS)
    return frame
