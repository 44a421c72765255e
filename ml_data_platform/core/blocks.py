"""Column-major float64 matrices of DataFrame columns, without a copy where the memory allows.

Every per-column pass (checks, profiles, hashing, medians, scaling, Parquet) reads a column
fastest when it is contiguous, and at 1M+ rows each table-sized copy is what decides the
peak memory of a run, so the stages share one float block where they can.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from numpy.lib.array_utils import byte_bounds


def side_by_side(columns: list[np.ndarray]) -> np.ndarray | None:
    """The columns as one column-major (rows x columns) array without a copy, when they
    already lie next to each other in that order (the float block of a frame built from a
    column-major array, or of Arrow's to_pandas); None otherwise."""
    first = columns[0]
    rows = len(first)
    owner = first.base
    if (
        rows == 0
        or not isinstance(owner, np.ndarray)
        or any(c.base is not owner or c.dtype != first.dtype or not c.flags.c_contiguous for c in columns)
    ):
        return None
    start = first.__array_interface__["data"][0]
    for j, column in enumerate(columns):
        if column.__array_interface__["data"][0] != start + j * rows * first.itemsize:
            return None
    low, high = byte_bounds(owner)
    if start < low or start + len(columns) * rows * first.itemsize > high:
        return None
    # Safe to stride past `first`: all of the view lies in `owner`'s memory, and the view
    # keeps `owner` alive (through `first`). Columns merely adjacent in memory but owned by
    # different arrays never qualify.
    return np.lib.stride_tricks.as_strided(
        first, shape=(rows, len(columns)), strides=(first.itemsize, rows * first.itemsize)
    )


def float_block(frame: pd.DataFrame, names: list[str], *, copy: bool) -> np.ndarray:
    """float64 rows x `names`, column-major, NaN for missing values. With copy=False it is a
    view of the frame's own memory when the columns allow (float64, side by side, in order):
    the caller must then only read it."""
    if not copy and names and all(frame[name].dtype == np.float64 for name in names):
        shared = side_by_side([frame[name].to_numpy() for name in names])
        if shared is not None:
            return shared
    # Filled column by column: a DataFrame column selection would copy once more first.
    values = np.empty((len(frame), len(names)), dtype=np.float64, order="F")
    for j, name in enumerate(names):
        values[:, j] = frame[name].to_numpy(dtype=np.float64, na_value=np.nan)
    return values


def take_rows(values: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """`values[rows]` in column-major order (as it came, when every row is kept)."""
    if len(rows) == len(values) and values.flags.f_contiguous:
        return values
    out = np.empty((len(rows), values.shape[1]), dtype=values.dtype, order="F")
    for j in range(values.shape[1]):
        np.take(values[:, j], rows, out=out[:, j])
    return out
