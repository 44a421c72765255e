"""Categorical (text) feature columns: catalog, validation, quality checks, encoding, exports."""

import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from dagster import DagsterInstance

from ml_data_platform import load_data, load_frame
from ml_data_platform.catalog import CatalogError, DatasetSpec, parse_catalog
from ml_data_platform.core.contract import evaluate, features_contract
from ml_data_platform.core.drift import check_drift, check_learned_bounds, check_split_distribution
from ml_data_platform.core.preprocessing import INFREQUENT, fit_preprocessor, model_ready, transform
from ml_data_platform.core.profile import profile
from ml_data_platform.core.validation import ValidationError, validate_features
from ml_data_platform.settings import Settings, Storage
from ml_data_platform.sources.readers import read_source, stamp_raw
from ml_data_platform.storage.artifacts import load_artifact, save_artifact
from ml_data_platform.storage.exports import read_manifest
from ml_data_platform_tests.conftest import make_settings, materialize_all
from ml_data_platform_tests.dataset.test_checks import execute_sql, run_checks


def spec(**extra) -> DatasetSpec:
    base = {"name": "ds", "source": {"type": "file", "path": "x.csv"}, "categorical_columns": ["color"]}
    return DatasetSpec.model_validate({**base, **extra})


def raw_rows(n: int = 200, seed: int = 0) -> pd.DataFrame:
    """Rows as a file source delivers them: a numeric, a text and a numeric-coded category."""
    rng = np.random.default_rng(seed)
    color = rng.choice(["red", "green", "blue"], size=n, p=[0.5, 0.3, 0.2])
    a = rng.normal(size=n)
    return pd.DataFrame(
        {
            "sample_index": np.arange(n),
            "a": a,
            "color": color,
            "plan": rng.choice([1, 2, 3], size=n),
            "target": ((color == "red") ^ (a > 0.8)).astype(np.int64),
            "ingested_at": pd.to_datetime(["2026-01-01"] * n, utc=True),
        }
    )


# --- catalog ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ({"categorical_columns": ["target"]}, "lists the target"),
        (
            {"feature_columns": ["a"], "categorical_columns": ["color"]},
            r"\['color'\] are not in feature_columns",
        ),
        ({"categorical_columns": ["Color"]}, "not a safe identifier"),
        ({"categorical_columns": ["color", "color"]}, "lists a column twice"),
        ({"quality": {"feature_bounds": {"color": [0, 1]}}}, "feature_bounds names categorical"),
        (
            {"source": {"type": "synthetic"}, "categorical_columns": ["feature_0"]},
            "needs a file or database source",
        ),
    ],
)
def test_catalog_refuses_inconsistent_categorical_columns(extra: dict, message: str):
    entry = {"name": "ds", "source": {"type": "file", "path": "x.csv"}, "categorical_columns": ["color"]}
    with pytest.raises(CatalogError, match=message):
        parse_catalog({"datasets": [{**entry, **extra}]})


# --- validation ------------------------------------------------------------------------------


def test_categorical_columns_stay_text_in_declared_order():
    raw = raw_rows()
    raw["plan"] = raw["plan"].astype(np.float64)  # as pandas reads codes from a file with gaps
    table, _ = validate_features(spec(categorical_columns=["color", "plan"]).rules(), raw)
    assert list(table.columns) == ["sample_index", "a", "color", "plan", "target", "ingested_at"]
    assert table["a"].dtype == np.float64 and table["color"].dtype == object
    assert set(table["plan"]) == {"1", "2", "3"}  # whole numbers as "2", never "2.0"
    assert table["color"].tolist() == raw["color"].tolist()


def test_csv_categories_and_declared_text_labels_are_read_as_written(tmp_path: Path):
    (tmp_path / "rows.csv").write_text("zip,a,grade\n007,1.5,01\n120,2.5,02\n007,3.5,01\n")
    declared = DatasetSpec.model_validate(
        {
            "name": "ds",
            "source": {"type": "file", "path": str(tmp_path / "rows.csv")},
            "target": "grade",
            "classes": ["01", "02"],
            "categorical_columns": ["zip"],
        }
    )
    raw = stamp_raw(read_source(declared), datetime.now(UTC))
    table, report = validate_features(declared.rules(), raw)
    assert table["zip"].tolist() == ["007", "120", "007"]
    assert report.label_codes == {"01": 0, "02": 1} and table["grade"].tolist() == [0, 1, 0]


def test_text_in_an_undeclared_column_names_it_and_the_fix():
    with pytest.raises(
        ValidationError,
        match=r"\['color'\] are not numeric: color holds 'green' \(sample_index 0\).*categorical_columns",
    ):
        validate_features(spec(categorical_columns=[]).rules(), raw_rows())


def test_a_stray_word_in_a_numeric_column_is_named():
    raw = raw_rows()
    raw["a"] = raw["a"].astype(object)
    raw.loc[5, "a"] = "n/a"
    with pytest.raises(ValidationError, match=r"\['a'\] are not numeric: a holds 'n/a' \(sample_index 5\);"):
        validate_features(spec().rules(), raw)


def test_missing_category_fails_by_default_and_is_dropped_by_policy():
    raw = raw_rows()
    raw.loc[[4, 9], "color"] = None
    with pytest.raises(
        ValidationError, match=r"2 row\(s\) hold NaN, ±inf or a missing category .*'color': 2"
    ):
        validate_features(spec().rules(), raw)
    table, report = validate_features(spec(on_non_finite="drop").rules(), raw)
    assert report.non_finite_rows_dropped == 2 and not table["sample_index"].isin([4, 9]).any()


def test_duplicates_compare_the_categorical_columns_too():
    raw = raw_rows(6)
    raw["a"] = 1.0
    raw["target"] = [0, 0, 0, 0, 0, 1]
    raw["color"] = ["red", "red", "blue", "blue", "red", "green"]
    table, report = validate_features(spec().rules(), raw.drop(columns="plan"))
    assert report.duplicate_rows_dropped == 3
    assert table["sample_index"].tolist() == [0, 2, 5]


def test_features_contract_checks_categorical_type_and_nulls():
    table, _ = validate_features(spec().rules(), raw_rows().drop(columns="plan"))
    contract = features_contract(spec().rules(), ["a", "color"])
    assert evaluate(table, contract) == []
    broken = table.assign(color=table["color"].where(table.index > 2, None))
    assert [(v.column, v.rule, v.rows) for v in evaluate(broken, contract)] == [("color", "not null", 3)]
    as_numbers = table.assign(color=1.0)
    assert [v.rule for v in evaluate(as_numbers, contract)] == ["dtype text (is float64)"]


# --- quality checks --------------------------------------------------------------------------


def test_categorical_profile_and_drift_by_category_shares():
    before = raw_rows(2000)
    stored = profile(before, ["a", "color"])
    assert stored["color"]["kind"] == "categorical" and stored["color"]["distinct"] == 3
    assert stored["color"]["shares"]["red"] == pytest.approx((before["color"] == "red").mean())
    same = check_drift(raw_rows(2000, seed=1), ["a", "color"], stored, 0.2)
    assert same.passed, same.summary
    shifted = raw_rows(2000, seed=1)
    shifted.loc[shifted.index < 1500, "color"] = "blue"
    outcome = check_drift(shifted, ["a", "color"], stored, 0.2)
    assert not outcome.passed and outcome.observed["worst"] == ["color"]


def test_unseen_categories_are_named_by_learned_bounds():
    stored = profile(raw_rows(), ["a", "color"])
    later = raw_rows(seed=2)
    later.loc[:9, "color"] = "purple"
    outcome = check_learned_bounds(later, ["a", "color"], stored, 4.0)
    assert not outcome.passed and outcome.severity == "WARN"
    assert outcome.observed["rows_outside"] == {"color": 10}
    assert outcome.observed["new_categories"] == {"color": ["purple"]}


def test_split_distribution_compares_category_shares():
    train = raw_rows(1000)
    assert check_split_distribution(train, raw_rows(300, seed=4), ["color"], 0.25).passed
    apart = raw_rows(300, seed=4).assign(color="green")
    outcome = check_split_distribution(train, apart, ["color"], 0.25)
    assert not outcome.passed and "color" in outcome.summary


# --- preprocessing ---------------------------------------------------------------------------


def test_one_hot_encoding_is_fitted_on_train_and_handles_unseen_categories(tmp_path: Path):
    train = raw_rows(300)
    fitted = fit_preprocessor(train, ["a", "color"], categorical=["color"])
    assert fitted["output_names"] == ["a", "color=blue", "color=green", "color=red"]
    artifact = save_artifact(fitted, tmp_path / "p.joblib")
    serving = pd.DataFrame({"a": [0.0, 1.0, np.nan], "color": ["green", "purple", None]})
    matrix = transform(artifact, serving)
    np.testing.assert_array_equal(matrix[:, 1:], [[0, 1, 0], [0, 0, 0], [0, 0, 0]])
    assert np.isfinite(matrix).all()  # numeric NaN imputed, unknown and missing categories -> zeros
    ready = model_ready(artifact, train, "target")
    assert list(ready.columns) == ["sample_index", *fitted["output_names"], "target"]
    np.testing.assert_array_equal(ready["color=red"].to_numpy(), (train["color"] == "red").to_numpy())


def test_rare_categories_share_one_infrequent_column():
    train = pd.DataFrame({"city": ["a"] * 50 + ["b"] * 30 + ["c"] * 5 + ["d"] * 2})
    fitted = fit_preprocessor(train, ["city"], categorical=["city"], max_categories=3)
    assert fitted["output_names"] == ["city=a", "city=b", f"city={INFREQUENT}"]
    matrix = transform(fitted, pd.DataFrame({"city": ["c", "d", "zz", "b"]}))
    np.testing.assert_array_equal(matrix, [[0, 0, 1], [0, 0, 1], [0, 0, 1], [0, 1, 0]])


# --- the graph -------------------------------------------------------------------------------


def categorical_catalog(path: Path) -> dict:
    return {
        "datasets": [
            {
                "name": "shop",
                "source": {"type": "file", "path": str(path), "format": "parquet" if path.is_dir() else None},
                "target": "churn",
                "id_column": "uid",
                "classes": ["stayed", "churned"],
                "categorical_columns": ["color", "plan"],
            }
        ]
    }


def write_source(folder: Path, kind: str, n: int = 400) -> Path:
    """shop.csv, shop.parquet, or a folder of two Parquet files read together."""
    rows = raw_rows(n).drop(columns=["sample_index", "ingested_at"])
    rows.insert(0, "uid", np.arange(n) * 3 + 100)
    rows["churn"] = np.where(rows.pop("target") == 1, "churned", "stayed")
    if kind == "folder":
        landing = folder / "landing"
        landing.mkdir()
        rows.iloc[: n // 2].to_parquet(landing / "part_a.parquet", index=False)
        rows.iloc[n // 2 :].to_parquet(landing / "part_b.parquet", index=False)
        return landing
    path = folder / f"shop.{kind}"
    rows.to_csv(path, index=False) if kind == "csv" else rows.to_parquet(path, index=False)
    return path


def read_back(source: Path) -> pd.DataFrame:
    if source.is_dir():
        return pd.concat([pd.read_parquet(p) for p in sorted(source.iterdir())], ignore_index=True)
    # round_trip: pandas' default float parser can be one ulp off; the platform's (Arrow) is not.
    if source.suffix == ".csv":
        return pd.read_csv(source, float_precision="round_trip")
    return pd.read_parquet(source)


@pytest.fixture(params=["csv", "parquet", "folder"])
def categorical_run(request, tmp_path: Path, storage: Storage) -> tuple[Settings, Path]:
    source = write_source(tmp_path, request.param)
    settings = make_settings(tmp_path, storage, categorical_catalog(source))
    result = materialize_all(settings)
    assert result.success, [e.description for e in result.get_asset_check_evaluations() if not e.passed]
    return settings, source


def test_categorical_dataset_round_trips_exactly_to_the_exports(categorical_run):
    settings, source = categorical_run
    original = read_back(source)
    exported = load_frame("shop", data_dir=settings.data_dir).set_index("sample_index")
    assert sorted(exported.index) == sorted(original["uid"])
    expected = original.set_index("uid").loc[exported.index]
    np.testing.assert_array_equal(exported["a"].to_numpy(), expected["a"].to_numpy())
    assert exported["color"].tolist() == expected["color"].tolist()
    assert exported["plan"].tolist() == expected["plan"].astype(str).tolist()
    manifest = read_manifest(settings.exports_dir / "shop")
    assert manifest["categorical_columns"] == ["color", "plan"]
    types = {c["name"]: c["type"] for c in manifest["columns"]}
    assert types["color"] == types["plan"] == "string" and types["a"] == "double"
    assert manifest["model_ready_columns"][:1] == ["a"]
    X, y = load_data("shop", "train", settings.data_dir, transformed=True)
    assert X.shape[1] == len(manifest["model_ready_columns"]) == 1 + 3 + 3 and X.dtype == np.float64
    with pytest.raises(ValueError, match=r"categorical feature\(s\) \['color', 'plan'\].*transformed=True"):
        load_data("shop", "train", settings.data_dir)


def test_categorical_artifact_reproduces_the_exports_in_a_fresh_process(tmp_path: Path):
    source = write_source(tmp_path, "csv")
    settings = make_settings(tmp_path, Storage.sqlite, categorical_catalog(source))
    assert materialize_all(settings).success
    artifact_path = settings.data_dir / "artifacts" / "shop" / "preprocessor.joblib"
    script = (
        "import sys, numpy as np\n"
        "from ml_data_platform import load_frame\n"
        "from ml_data_platform.core.preprocessing import transform\n"
        "from ml_data_platform.storage.artifacts import load_artifact\n"
        "artifact = load_artifact(__import__('pathlib').Path(sys.argv[1]))\n"
        "frame = load_frame('shop', 'test', data_dir=sys.argv[2])\n"
        "np.save(sys.argv[3], transform(artifact, frame))\n"
    )
    out = tmp_path / "fresh.npy"
    subprocess.run(
        [sys.executable, "-c", script, str(artifact_path), str(settings.data_dir), str(out)], check=True
    )
    exported, _ = load_data("shop", "test", settings.data_dir, transformed=True)
    np.testing.assert_array_equal(np.load(out), exported)
    assert load_artifact(artifact_path)["categorical_columns"] == ["color", "plan"]


def test_second_run_with_a_new_category_warns_without_blocking(tmp_path: Path):
    source = write_source(tmp_path, "csv")
    settings = make_settings(tmp_path, Storage.duckdb, categorical_catalog(source))
    with DagsterInstance.ephemeral() as instance:
        assert materialize_all(settings, instance=instance).success
        rows = pd.read_csv(source)
        rows.loc[:39, "color"] = "purple"
        rows.to_csv(source, index=False)
        result = materialize_all(settings, instance=instance)
    assert result.success
    failed = {e.check_name: e for e in result.get_asset_check_evaluations() if not e.passed}
    assert "purple" in failed["features_learned_bounds"].description
    assert set(failed) <= {"features_learned_bounds", "features_drift", "train_test_distribution"}


def test_checks_only_run_reads_stored_categories_and_catches_a_nulled_one(tmp_path: Path, storage: Storage):
    settings = make_settings(tmp_path, storage, categorical_catalog(write_source(tmp_path, "csv")))
    with DagsterInstance.ephemeral() as instance:
        assert materialize_all(settings, instance=instance).success
        assert [k for k, e in run_checks(settings, instance).items() if not e.passed] == []
        execute_sql(settings, 'UPDATE "shop__features" SET color = NULL WHERE sample_index = 103')
        failed = {k: e for k, e in run_checks(settings, instance).items() if not e.passed}
    assert "color: not null (1 rows)" in failed["shop/features:features_schema"].description
