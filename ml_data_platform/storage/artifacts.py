"""Files the platform writes besides tables and exports: the fitted preprocessor artifact.

Each run writes its own file beside the published name (`.preprocessor.<run>.joblib`;
atomically: temp file, fsync, rename); `preprocessor.joblib` is a symlink that the run's
last audit swaps to it in one rename, so serving never loads a transform fitted on rejected
data. Unlinked files (rejected runs, superseded ones) are pruned after the retention period.
"""

from __future__ import annotations

import os
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import joblib

from ml_data_platform.core.preprocessing import with_versions
from ml_data_platform.storage.versions import run_tag

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


def run_artifact(published: Path, run_id: str) -> Path:
    """Where run `run_id` writes its artifact, beside the published name."""
    return published.parent / f".{published.stem}.{run_tag(run_id)}{published.suffix}"


def artifact_for_run(published: Path, run_id: str) -> Path:
    """The artifact a step of run `run_id` uses: the one the run fitted (not yet published),
    else the published one (the run did not fit the preprocessor)."""
    own = run_artifact(published, run_id)
    return own if own.is_file() else published


def artifact_staged(published: Path, run_id: str) -> bool:
    """The run fitted an artifact that is not the published one (yet)."""
    own = run_artifact(published, run_id)
    return own.is_file() and not (published.is_symlink() and os.readlink(published) == own.name)


def publish_artifact(published: Path, run_id: str, retention_s: float) -> bool:
    """Swap the published symlink to the run's artifact (if it fitted one); prune unlinked
    artifacts older than the retention period. The caller holds the publishing lock."""
    own = run_artifact(published, run_id)
    if not own.is_file():
        return False
    link = published.parent / f".{published.name}.link-{uuid.uuid4().hex[:8]}"
    os.symlink(own.name, link)
    os.replace(link, published)  # a plain file from an older layout is replaced the same way
    cutoff = time.time() - retention_s
    for old in published.parent.glob(f".{published.stem}.*{published.suffix}"):
        if old != own and old.stat().st_mtime < cutoff:
            old.unlink(missing_ok=True)
    return True


def load_artifact(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise FileNotFoundError(f"no preprocessor artifact at {path}; materialize <dataset>/preprocessor")
    return joblib.load(path)
