"""Content fingerprints: the same rows give the same version, on any backend."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pandas as pd


def frame_fingerprint(frame: pd.DataFrame) -> str:
    """sha256 over column names, dtypes and row hashes; index ignored."""
    digest = hashlib.sha256()
    for name, dtype in frame.dtypes.items():
        digest.update(f"{name}:{dtype};".encode())
    digest.update(pd.util.hash_pandas_object(frame, index=False).to_numpy().tobytes())
    return digest.hexdigest()


def file_sha256(path: Path, chunk_size: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(chunk_size):
            digest.update(chunk)
    return digest.hexdigest()
