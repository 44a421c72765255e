"""Preprocessing fitted on train only, parity of the stored artifact, and the baseline checks."""

import subprocess
import sys
import tracemalloc
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from ml_data_platform import load_data, load_frame
from ml_data_platform.core.baseline import check_leakage, check_signal, fit_and_score
from ml_data_platform.core.preprocessing import fit_preprocessor, model_ready, transform
from ml_data_platform.core.quality import ERROR, WARN
from ml_data_platform.settings import Storage
from ml_data_platform.storage.artifacts import load_artifact, save_artifact
from ml_data_platform_tests.conftest import make_settings, materialize_all, small_catalog

NAMES = ["a", "b"]


def frame(n: int, shift: float = 0.0, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    data = pd.DataFrame(
        {
            "sample_index": np.arange(n),
            "a": rng.normal(size=n) + shift,
            "b": rng.normal(size=n) * 3,
            "target": np.arange(n) % 2,
        }
    )
    data.loc[::7, "a"] = np.nan
    return data


def test_preprocessor_is_fitted_on_train_rows_only(tmp_path: Path):
    train, test = frame(200), frame(100, shift=10.0, seed=1)
    artifact = save_artifact(fit_preprocessor(train, NAMES), tmp_path / "p.joblib")
    scaler = artifact["numeric"].named_steps["scale"]
    imputed = train["a"].fillna(train["a"].median())
    assert scaler.mean_[0] == pytest.approx(imputed.mean())
    assert transform(artifact, test)[:, 0].mean() > 5  # test keeps its shift: nothing learned from it
    ready = model_ready(artifact, train, "target")
    assert list(ready.columns) == ["sample_index", "a", "b", "target"]
    assert not ready[NAMES].isna().any().any()
    assert abs(ready["b"].mean()) < 1e-9


def test_artifact_round_trip_records_names_and_versions(tmp_path: Path):
    train = frame(50)
    save_artifact(fit_preprocessor(train, NAMES), tmp_path / "p.joblib")
    loaded = load_artifact(tmp_path / "p.joblib")
    assert loaded["feature_names"] == NAMES and "scikit-learn" in loaded["versions"]
    with pytest.raises(ValueError, match=r"lacks feature column\(s\) \['b'\]"):
        transform(loaded, train.drop(columns=["b"]))
    with pytest.raises(FileNotFoundError, match="materialize <dataset>/preprocessor"):
        load_artifact(tmp_path / "missing.joblib")


def test_baseline_finds_signal_and_flags_its_absence():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(600, 3))
    y = (X[:, 0] > 0).astype(np.int64)
    parts = {"train": (X[:400], y[:400]), "val": (X[400:500], y[400:500]), "test": (X[500:], y[500:])}
    _, scores = fit_and_score(parts, seed=0)
    assert check_signal(scores, 0.02).passed and scores["val"]["accuracy"] > 0.9
    noise = {n: (rng.normal(size=x.shape), y_) for n, (x, y_) in parts.items()}
    _, noisy = fit_and_score(noise, seed=0)
    outcome = check_signal(noisy, 0.02)
    assert not outcome.passed and outcome.severity == WARN and "no signal" in outcome.summary


def test_leakage_check_fails_only_for_perfect_test_and_imperfect_train():
    def scores(train, test, rows=150):
        return {"train": {"accuracy": train}, "test": {"accuracy": test, "rows": rows}}

    assert check_leakage(scores(0.85, 0.86)).passed
    assert check_leakage(scores(1.0, 1.0)).passed  # perfectly separable data is not leakage
    leaked = check_leakage(scores(0.8, 1.0))
    assert not leaked.passed and leaked.severity == ERROR and "leakage" in leaked.summary


def test_a_small_perfect_test_split_of_an_easy_table_is_not_called_leakage():
    iris_like = {"train": {"accuracy": 0.9714}, "test": {"accuracy": 1.0, "rows": 22}}
    outcome = check_leakage(iris_like)
    assert outcome.passed and "likely by chance (p=0.53)" in outcome.summary
    big = {"train": {"accuracy": 0.9714}, "test": {"accuracy": 1.0, "rows": 1000}}
    assert not check_leakage(big).passed


def test_graph_exports_model_ready_matrices_and_scores_the_baseline(tmp_path: Path, storage: Storage):
    settings = make_settings(tmp_path, storage, small_catalog())
    result = materialize_all(settings)
    assert result.success
    X, y = load_data("binary", split="train", data_dir=settings.data_dir, transformed=True)
    assert np.allclose(X.mean(axis=0), 0, atol=1e-9) and np.allclose(X.std(axis=0), 1, atol=1e-6)
    raw_X, raw_y = load_data("binary", split="train", data_dir=settings.data_dir)
    np.testing.assert_array_equal(y, raw_y)
    assert not np.allclose(X, raw_X)
    events = {e.asset_key.to_user_string(): e for e in result.get_asset_materialization_events()}
    metadata = events["binary/baseline_model"].materialization.metadata
    assert metadata["val_accuracy"].value > 0.6 and 0 <= metadata["test_roc_auc"].value <= 1
    checks = {
        e.check_name: e
        for e in result.get_asset_check_evaluations()
        if e.asset_key.to_user_string() == "binary/baseline_model"
    }
    assert checks["baseline_beats_majority_class"].passed
    assert checks["test_not_suspiciously_perfect"].passed


def test_stored_artifact_reproduces_the_exports_in_a_fresh_process(tmp_path: Path):
    settings = make_settings(tmp_path, Storage.sqlite, small_catalog())
    assert materialize_all(settings).success
    script = (
        "import sys, numpy as np, pandas as pd, joblib\n"
        "from pathlib import Path\n"
        "root = Path(sys.argv[1])\n"
        "artifact = joblib.load(root / 'artifacts/multi/preprocessor.joblib')\n"
        "for split in ('val', 'test'):\n"
        "    frame = pd.read_parquet(root / f'exports/multi/{split}.parquet')\n"
        "    ready = pd.read_parquet(root / f'exports/multi/{split}.model_ready.parquet')\n"
        "    X = artifact['numeric'].transform(frame[artifact['numeric_columns']].to_numpy())\n"
        "    assert np.array_equal(X, ready[artifact['output_names']].to_numpy()), split\n"
        "print('parity')\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script, str(settings.data_dir)], capture_output=True, text=True, timeout=120
    )
    assert done.stdout.strip() == "parity", done.stderr
    assert len(load_frame("multi", "test", settings.data_dir)) == 45


def test_baseline_fits_on_a_bounded_seeded_sample():
    rng = np.random.default_rng(1)
    X = rng.normal(size=(700, 2))
    y = (X[:, 0] > 0).astype(np.int64)
    parts = {"train": (X[:400], y[:400]), "val": (X[400:550], y[400:550]), "test": (X[550:], y[550:])}
    _, capped = fit_and_score(parts, seed=0, fit_rows=100)
    _, again = fit_and_score(parts, seed=0, fit_rows=100)
    assert capped["train"]["fitted_on_rows"] == 100 and capped == again
    _, full = fit_and_score(parts, seed=0)
    assert full["train"]["fitted_on_rows"] == 400


def test_fitted_imputer_matches_sklearns_own_median_fit():
    from sklearn.impute import SimpleImputer

    train = frame(300)
    ours = fit_preprocessor(train, NAMES)["numeric"]
    reference = SimpleImputer(strategy="median").fit(train[NAMES].to_numpy())
    np.testing.assert_array_equal(ours.named_steps["impute"].statistics_, reference.statistics_)
    probe = frame(20, seed=5)
    np.testing.assert_array_equal(
        ours.named_steps["impute"].transform(probe[NAMES].to_numpy()),
        reference.transform(probe[NAMES].to_numpy()),
    )


def test_fit_makes_no_train_sized_temporary():
    """Memory, not time: the fit reads the split's float block in place, medians column by
    column, the scaler chunk by chunk (a one-shot fit peaked at 2.1 x the float table)."""
    rows, width = 200_000, 10
    names = [f"f{i}" for i in range(width)]
    train = pd.DataFrame(
        np.asfortranarray(np.random.default_rng(2).normal(size=(rows, width))), columns=names
    )
    tracemalloc.start()
    try:
        fitted = fit_preprocessor(train, names)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    scaler = fitted["numeric"].named_steps["scale"]
    np.testing.assert_allclose(scaler.mean_, train.mean().to_numpy(), rtol=0, atol=1e-12)
    np.testing.assert_allclose(scaler.scale_, train.std(ddof=0).to_numpy(), rtol=1e-12)
    assert scaler.n_samples_seen_ == rows
    assert peak < 0.75 * rows * width * 8
