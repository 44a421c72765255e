"""Metadata the assets record: content versions, profiles and DQS, class counts."""

from __future__ import annotations

import warnings
from typing import Any

import dagster as dg
import pandas as pd

from ml_data_platform.core.contract import quality_contract
from ml_data_platform.core.lineage import frame_fingerprint
from ml_data_platform.core.profile import profile, profile_markdown
from ml_data_platform.core.quality import quality_score
from ml_data_platform.core.rules import TableRules
from ml_data_platform.dataset.plan import CLASS_COUNTS, LABEL_CODES, PROFILE


def content_version(frame: pd.DataFrame) -> dg.DataVersion:
    """Rows and dtypes, not the ingestion time: the same seed gives the same version."""
    return dg.DataVersion(frame_fingerprint(frame, skip={"ingested_at"}))


def versioned_output(frame: pd.DataFrame, **kwargs: Any) -> dg.Output:
    """The frame as an Output with its content version. Dagster marks data_version beta; we
    rely on it for lineage, so its warning is silenced here and nowhere else."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*data_version.*", category=dg.BetaWarning)
        return dg.Output(frame, data_version=content_version(frame), **kwargs)


def quality_metadata(rules: TableRules, frame: pd.DataFrame, names: list[str], stage: str) -> dict:
    """Profile (for the UI and for the next run's drift check) and DQS, plotted per run."""
    stats = profile(frame, [*names, rules.target])
    score, invalid = quality_score(frame, quality_contract(rules, names, stage))
    return {
        "dqs": dg.MetadataValue.float(round(score, 4)),
        "invalid_rows": dg.MetadataValue.int(invalid),
        "profile": dg.MetadataValue.md(profile_markdown(stats)),
        PROFILE: dg.MetadataValue.json(stats),
    }


def class_counts(target: pd.Series) -> dict:
    """Rows per class code, the reference of the next materialization's class-balance check."""
    counts = target.value_counts().sort_index()
    return {CLASS_COUNTS: dg.MetadataValue.json({str(k): int(v) for k, v in counts.items()})}


def label_metadata(codes: dict[str, int] | None) -> dict:
    return {LABEL_CODES: dg.MetadataValue.json(codes)} if codes else {}
