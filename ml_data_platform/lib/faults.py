"""A test seam for crash tests: pause at a named point so a test can SIGKILL the process there.

Inert unless ML_PLATFORM_PAUSE_AT names the point; then the process writes its pid to
ML_PLATFORM_PAUSE_MARKER (so the test knows it got there) and sleeps.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

PAUSE_AT_ENV = "ML_PLATFORM_PAUSE_AT"
MARKER_ENV = "ML_PLATFORM_PAUSE_MARKER"


def pause_point(point: str, detail: str = "") -> None:
    wanted = os.environ.get(PAUSE_AT_ENV)
    if not wanted or wanted not in (point, f"{point}:{detail}"):
        return
    marker = os.environ.get(MARKER_ENV)
    if marker:
        Path(marker).write_text(str(os.getpid()))
    time.sleep(float(os.environ.get("ML_PLATFORM_PAUSE_SECONDS", "300")))
