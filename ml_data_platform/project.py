"""What every command needs: the project's Dagster instance and the settings it runs with."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import dagster as dg

from ml_data_platform.settings import STORAGE_ENV, Settings


def project_instance() -> dg.DagsterInstance:
    """The project-local instance (so the UI shows these runs); DAGSTER_HOME defaults to the cwd."""
    if not os.environ.get("DAGSTER_HOME") and Path("dagster.yaml").is_file():
        os.environ["DAGSTER_HOME"] = str(Path.cwd())
    if os.environ.get("DAGSTER_HOME"):
        return dg.DagsterInstance.get()
    return dg.DagsterInstance.local_temp()  # persistent (execute_job needs that), thrown away


def settings_for(args: argparse.Namespace) -> Settings:
    """The environment's settings, with --storage (if given) in place of ML_PLATFORM_STORAGE."""
    return Settings.from_env({**os.environ, **({STORAGE_ENV: args.storage} if args.storage else {})})
