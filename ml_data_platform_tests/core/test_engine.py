"""core/engine gives the pandas core's answers on the same rows: each SQL form against its
pandas original, on tables a DuckDB connection holds."""

from datetime import UTC, datetime

import duckdb
import numpy as np
import pandas as pd
import pytest

from ml_data_platform.catalog import DatasetSpec
from ml_data_platform.core.bins import counts_in
from ml_data_platform.core.contract import (
    evaluate,
    features_contract,
    invalid_rows,
    quality_contract,
    raw_contract,
)
from ml_data_platform.core.engine import bins as engine_bins
from ml_data_platform.core.engine import contract as engine_contract
from ml_data_platform.core.engine import preprocessing as engine_preprocessing
from ml_data_platform.core.engine import profile as engine_profile
from ml_data_platform.core.engine.sql import hash_unit_select, split_position
from ml_data_platform.core.engine.validation import DROPPED, features_query
from ml_data_platform.core.preprocessing import fit_preprocessor, fitted_from_statistics, model_ready
from ml_data_platform.core.profile import profile
from ml_data_platform.core.splitting import hash_assignment, hash_unit
from ml_data_platform.core.validation import ValidationError, validate_features
from ml_data_platform.sources.readers import stamp_raw
from ml_data_platform.storage.columns import arrow_columns

pytestmark = pytest.mark.fast  # pure functions over an in-memory DuckDB: no Dagster run


def rules(**extra):
    return DatasetSpec.model_validate(
        {"name": "ds", "source": {"type": "file", "path": "x.csv"}, **extra}
    ).rules()


def stored(frame: pd.DataFrame, name: str = "t") -> duckdb.DuckDBPyConnection:
    db = duckdb.connect()
    db.execute("SET TimeZone = 'UTC'")
    db.register("incoming", arrow_columns(frame))
    db.execute(f"CREATE TABLE {name} AS SELECT * FROM incoming")
    db.unregister("incoming")
    return db


def raw(**columns) -> pd.DataFrame:
    return stamp_raw(pd.DataFrame(columns), datetime(2026, 1, 1, tzinfo=UTC))


def assert_same_features_or_refusal(frame: pd.DataFrame, table_rules) -> None:
    """features_query over the stored frame keeps the rows validate_features keeps (with
    the same report), or refuses with the same message."""
    db = stored(frame)
    try:
        expected, expected_report = validate_features(table_rules, frame)
    except ValidationError as error:
        with pytest.raises(ValidationError) as refused:
            features_query(db, table_rules, "t")
        assert str(refused.value) == str(error)
        return
    sql, tables, report = features_query(db, table_rules, "t")
    db.register(DROPPED, tables[DROPPED])
    got = db.execute(sql).df()
    assert report == expected_report
    pd.testing.assert_frame_equal(got.drop(columns="ingested_at"), expected.drop(columns="ingested_at"))


@pytest.mark.parametrize("seed", [0, 42, 2**40])
def test_hash_split_sql_is_bit_for_bit_numpy(seed):
    rng = np.random.default_rng(seed)
    ids = np.concatenate([rng.integers(-(2**63), 2**63 - 1, 20_000, dtype=np.int64), np.arange(500)])
    ids = np.append(ids, [-(2**63), 2**63 - 1])
    db = stored(pd.DataFrame({"i": ids}))
    ratios = {"train": 0.7, "val": 0.15, "test": 0.15}
    got = db.execute(
        f"SELECT {hash_unit_select('i', seed)}, {split_position('_unit', ratios)} AS p FROM t"
    ).df()
    assert np.array_equal(got["_unit"].to_numpy(), hash_unit(ids, seed))
    assert np.array_equal(got["p"].to_numpy(), hash_assignment(ids, ratios, seed))


def messy_raw() -> pd.DataFrame:
    rng = np.random.default_rng(1)
    n = 3000
    frame = raw(
        a=rng.integers(0, 3, n).astype(float),
        b=rng.integers(0, 3, n),
        c=rng.normal(size=n),
        target=rng.integers(0, 2, n),
    )
    frame.loc[[5, 9], "a"] = [np.nan, np.inf]
    frame.loc[7, "a"] = -0.0
    frame.loc[[100, 101], ["a", "b", "c", "target"]] = frame.loc[[1, 1], ["a", "b", "c", "target"]].to_numpy()
    return frame


@pytest.mark.parametrize(
    "policies",
    [
        {"on_non_finite": "drop"},
        {"on_non_finite": "drop", "on_duplicates": "fail"},
        {"on_non_finite": "fail"},
    ],
)
def test_features_query_keeps_and_refuses_what_validate_features_does(policies):
    assert_same_features_or_refusal(messy_raw(), rules(**policies))


@pytest.mark.parametrize(
    ("columns", "extra"),
    [
        ({"a": [1.0, 2.0, 3.0], "target": ["no", "yes", "no"]}, {}),
        ({"a": [1.0, 2.0, 3.0], "target": ["b", "a", "b"]}, {"classes": ["b", "a"]}),
        ({"a": [1.0, 2.0, 3.0], "target": ["b", "c", "b"]}, {"classes": ["b", "a"]}),
        ({"a": [1.0, 2.0, 3.0], "target": ["0", "1", "benign"]}, {}),
        ({"a": [1.0, 2.0, 3.0], "target": [0.0, 1.5, 1.0]}, {}),
        ({"a": [1.0, 2.0, 3.0], "target": [True, False, True]}, {}),
        ({"a": ["1", "x", "y"], "target": [0, 1, 0]}, {}),
        ({"a": [1.0, 2.0, 3.0], "target": [1, 1, 1]}, {}),
        ({"a": [1.0, 2.0, 3.0], "target": [0, 1, 0]}, {"classes": ["x", "y"]}),
    ],
    ids=[
        "text",
        "declared",
        "undeclared",
        "mixed",
        "fractional",
        "boolean",
        "text-feature",
        "one-class",
        "disagree",
    ],
)
def test_target_and_feature_refusals_read_the_same(columns, extra):
    assert_same_features_or_refusal(raw(**columns), rules(**extra))


def profiled_frame() -> pd.DataFrame:
    rng = np.random.default_rng(0)
    n = 250_001
    frame = raw(
        a=rng.normal(size=n),
        b=rng.integers(0, 4, n).astype(float),
        c=rng.exponential(size=n),
        target=rng.integers(0, 2, n),
    )
    frame.loc[[3, 10, 99], "a"] = [np.nan, np.inf, -np.inf]
    frame.loc[5, "sample_index"] = 6
    frame["label"] = np.where(rng.random(n) < 0.5, "x", "y")
    frame.loc[4, "label"] = None
    return frame


def test_profiles_and_bin_counts_match_numpy():
    frame = profiled_frame()
    db = stored(frame)
    columns = ["a", "b", "c", "target", "label"]
    expected, got = profile(frame, columns), engine_profile.profile(db, "t", columns)
    for name in columns:
        for key, value in expected[name].items():
            if key in ("mean", "std"):  # summed in another order: equal to the last bits
                assert got[name][key] == pytest.approx(value, rel=1e-12)
            else:
                assert got[name][key] == value, (name, key)
        bins = expected[name]["bins"]
        found = engine_bins.counts_in(db, "t", {name: bins})[name]
        assert np.array_equal(found, counts_in(frame[name], bins))


def test_contracts_count_the_same_violations_and_invalid_rows():
    frame = profiled_frame()
    db = stored(frame)
    table_rules = rules(target="target", classes=[0, 1], quality={"feature_bounds": {"c": [0, 3]}})
    names = ["a", "b", "c"]
    for contract in (raw_contract(table_rules, names), features_contract(table_rules, names)):
        rows, violations = engine_contract.evaluate(db, "t", contract)
        assert rows == len(frame)
        assert [str(v) for v in violations] == [str(v) for v in evaluate(frame, contract)]
    contract = quality_contract(table_rules, names, "raw")
    assert engine_contract.invalid_rows(db, "t", contract) == (
        len(frame),
        int(invalid_rows(frame, contract).sum()),
    )


@pytest.mark.parametrize("rows", [1, 2, 7, 1000, 100_001])
def test_preprocessor_statistics_and_model_ready_sql(rows):
    rng = np.random.default_rng(rows)
    names = ["a", "b", "c"]
    train = pd.DataFrame(
        {
            "sample_index": np.arange(rows),
            "a": rng.normal(size=rows),
            "b": rng.integers(0, 4, rows).astype(float),
        }
    ).assign(c=3.3, target=rng.integers(0, 2, rows))
    db = stored(train)
    fitted = fit_preprocessor(train, names)
    middle = engine_preprocessing.medians(db, "t", names)
    means, variances, seen = engine_preprocessing.moments(db, "t", names)
    from_engine = fitted_from_statistics(names, middle, means, variances, seen)
    ours, theirs = fitted["numeric"].named_steps, from_engine["numeric"].named_steps
    assert np.array_equal(theirs["impute"].statistics_, ours["impute"].statistics_)  # medians exact
    np.testing.assert_allclose(theirs["scale"].mean_, ours["scale"].mean_, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(theirs["scale"].scale_, ours["scale"].scale_, rtol=1e-12)
    sql = db.execute(engine_preprocessing.model_ready_select(from_engine, "t", "target")).df()
    same_artifact = model_ready(from_engine, train, "target")
    assert np.array_equal(
        sql[names].to_numpy(), same_artifact[names].to_numpy()
    )  # SQL = sklearn, bit for bit
    in_memory = model_ready(fitted, train, "target")
    np.testing.assert_allclose(sql[names].to_numpy(), in_memory[names].to_numpy(), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("broken_at", [None, 0, 122_879, 200_000, 299_998])
@pytest.mark.parametrize("how", ["swap", "tie"])
def test_strictly_increasing_reads_table_order_across_row_groups(broken_at, how):
    ids = np.arange(300_000, dtype=np.int64) * 3  # several of DuckDB's 122,880-row groups
    if broken_at is not None and how == "swap":
        ids[[broken_at, broken_at + 1]] = ids[[broken_at + 1, broken_at]]
    elif broken_at is not None:
        ids[broken_at + 1] = ids[broken_at]
    db = stored(pd.DataFrame({"sample_index": ids}))
    db.execute("SET threads = 4")
    assert engine_contract.strictly_increasing(db, "t", "sample_index") is bool(np.all(np.diff(ids) > 0))
