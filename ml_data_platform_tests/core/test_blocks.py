"""Float blocks: views of a frame's memory where the columns allow, copies otherwise."""

import numpy as np
import pandas as pd
import pytest

from ml_data_platform.core.blocks import float_block, side_by_side, take_rows

pytestmark = pytest.mark.fast  # pure functions and files: no Dagster run, no subprocess


def test_side_by_side_only_for_adjacent_columns_in_order():
    block = np.asfortranarray(np.arange(12, dtype=np.float64).reshape(4, 3))
    columns = [block[:, j] for j in range(3)]
    view = side_by_side(columns)
    assert view is not None and np.shares_memory(view, block)
    np.testing.assert_array_equal(view, block)
    assert side_by_side(columns[::-1]) is None
    assert side_by_side([columns[0], columns[2]]) is None
    assert side_by_side([c.copy() for c in columns]) is None  # separate allocations
    row_major = np.arange(12, dtype=np.float64).reshape(4, 3)
    assert side_by_side([row_major[:, j] for j in range(3)]) is None  # strided columns


def test_float_block_views_a_column_major_frame_only_when_asked():
    frame = pd.DataFrame(
        np.asfortranarray(np.arange(12, dtype=np.float64).reshape(4, 3)), columns=list("abc")
    )
    view = float_block(frame, ["a", "b", "c"], copy=False)
    assert np.shares_memory(view, frame["a"].to_numpy()) and view.flags.f_contiguous
    np.testing.assert_array_equal(view, frame.to_numpy())
    copied = float_block(frame, ["a", "b", "c"], copy=True)
    assert not np.shares_memory(copied, frame["a"].to_numpy()) and copied.flags.f_contiguous
    np.testing.assert_array_equal(copied, frame.to_numpy())


def test_float_block_copies_what_it_cannot_view():
    frame = pd.DataFrame(
        {"a": [1.0, 2.0], "n": [3, 4], "m": pd.array([None, 1.5], dtype="Float64"), "b": [5.0, 6.0]}
    )
    values = float_block(frame, ["n", "m", "a"], copy=False)  # ints, a nullable column
    assert values.dtype == np.float64 and values.flags.f_contiguous
    np.testing.assert_array_equal(values, [[3.0, np.nan, 1.0], [4.0, 1.5, 2.0]])
    assert not np.shares_memory(values, frame["a"].to_numpy())


def test_take_rows_keeps_column_major_order_and_skips_a_full_take():
    values = np.asfortranarray(np.arange(12, dtype=np.float64).reshape(4, 3))
    assert take_rows(values, np.arange(4)) is values
    taken = take_rows(values, np.array([3, 1]))
    assert taken.flags.f_contiguous
    np.testing.assert_array_equal(taken, values[[3, 1]])


def test_side_by_side_refuses_adjacent_memory_it_cannot_keep_alive():
    """Two columns next to each other in memory but held by different objects: a view over
    both would outlive the second one's owner, so no view."""
    memory = np.arange(8, dtype=np.float64)
    first = memory[:4]
    second = np.frombuffer(memoryview(memory[4:]), dtype=np.float64)  # owned via a memoryview
    assert second.__array_interface__["data"][0] == first.__array_interface__["data"][0] + 32
    assert side_by_side([first, second]) is None
    assert side_by_side([memory[:4], memory[4:]]) is not None  # same owner: fine
