"""Preprocessing fitted on the train split only, stored as an artifact for serving parity."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

import joblib
import numpy as np
import pandas as pd
import sklearn
from sklearn.impute import SimpleImputer
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

ARTIFACT = "preprocessor.joblib"


def fit_preprocessor(train: pd.DataFrame, feature_names: list[str]) -> Pipeline:
    """Median imputation then standard scaling, fitted on train rows alone (no leakage)."""
    X = train[feature_names].to_numpy(dtype=np.float64)
    # SimpleImputer's own median fit goes through masked arrays (~3 s at 700K x 20);
    # np.nanmedian gives the same medians in a tenth of the time, and an imputer fitted on
    # that single row of medians holds exactly them, so the artifact stays plain sklearn.
    medians = np.nanmedian(X, axis=0)
    imputer = SimpleImputer(strategy="median").fit(medians[np.newaxis, :])
    scaler = StandardScaler().fit(imputer.transform(X))
    return Pipeline([("impute", imputer), ("scale", scaler)])


def transform(artifact: dict[str, Any], frame: pd.DataFrame) -> np.ndarray:
    """Model-ready float64 matrix of `frame`, columns in the artifact's feature order."""
    names = artifact["feature_names"]
    missing = [n for n in names if n not in frame.columns]
    if missing:
        raise ValueError(f"frame lacks feature column(s) {missing} the preprocessor was fitted on")
    return artifact["pipeline"].transform(frame[names].to_numpy(dtype=np.float64))


def model_ready(artifact: dict[str, Any], split: pd.DataFrame, target: str) -> pd.DataFrame:
    """sample_index, the transformed features (same names) and the target."""
    matrix = transform(artifact, split)
    frame = pd.DataFrame(matrix, columns=artifact["feature_names"])
    frame.insert(0, "sample_index", split["sample_index"].to_numpy())
    frame[target] = split[target].to_numpy()
    return frame


def save_artifact(pipeline: Pipeline, feature_names: list[str], path: Path) -> dict[str, Any]:
    """Write {pipeline, feature_names, versions} with joblib to a temp file, then rename."""
    artifact = {
        "pipeline": pipeline,
        "feature_names": list(feature_names),
        "versions": {
            "scikit-learn": sklearn.__version__,
            "numpy": np.__version__,
            "joblib": joblib.__version__,
        },
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        joblib.dump(artifact, tmp)
        with open(tmp, "rb+") as handle:
            os.fsync(handle.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return artifact


def load_artifact(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise FileNotFoundError(f"no preprocessor artifact at {path}; materialize <dataset>/preprocessor")
    return joblib.load(path)


def describe(pipeline: Pipeline, feature_names: list[str]) -> dict[str, dict[str, float]]:
    """Fitted parameters per feature, for the UI."""
    imputer, scaler = pipeline.named_steps["impute"], pipeline.named_steps["scale"]
    return {
        name: {
            "impute": float(imputer.statistics_[i]),
            "mean": float(scaler.mean_[i]),
            "scale": float(scaler.scale_[i]),
        }
        for i, name in enumerate(feature_names)
    }
