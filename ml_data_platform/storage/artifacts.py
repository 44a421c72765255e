"""Files the platform writes besides tables and exports: the fitted preprocessor artifact
(atomically: temp file, fsync, rename)."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

import joblib

from ml_data_platform.core.preprocessing import with_versions

ARTIFACT = "preprocessor.joblib"


def save_artifact(fitted: dict[str, Any], path: Path) -> dict[str, Any]:
    """Write the fitted parts, column names and library versions with joblib to a temp file,
    then rename."""
    artifact = with_versions(fitted)
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
