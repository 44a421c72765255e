"""Freshness of each dataset's published export, as rows of `ml-data-platform check`, and as
the Dagster freshness policy of its export asset (shown in the UI when dagster.yaml enables
freshness)."""

from __future__ import annotations

from datetime import UTC, datetime

import dagster as dg

from ml_data_platform.catalog import DatasetSpec
from ml_data_platform.core.freshness import check_freshness
from ml_data_platform.settings import Settings
from ml_data_platform.storage.exports import ExportError, read_manifest


def freshness_policy(spec: DatasetSpec) -> dg.FreshnessPolicy | None:
    fresh = spec.freshness
    if fresh is None:
        return None
    return dg.FreshnessPolicy.time_window(fail_window=fresh.fail_after, warn_window=fresh.warn_after)


def published_at(settings: Settings, dataset: str) -> datetime | None:
    """When the published export was written (its manifest's created_at)."""
    try:
        manifest = read_manifest(settings.exports_dir / dataset)
    except ExportError:
        return None
    return datetime.fromisoformat(manifest["created_at"])


def freshness_rows(settings: Settings, specs: list[DatasetSpec], now: datetime | None = None) -> list[dict]:
    """One row per dataset that declares freshness, in check_command's table format."""
    now = now or datetime.now(UTC)
    rows = []
    for spec in specs:
        if spec.freshness is None:
            continue
        outcome = check_freshness(
            published_at(settings, spec.name), now, spec.freshness.fail_after, spec.freshness.warn_after
        )
        rows.append(
            {
                "asset": f"{spec.name}/export",
                "check": "freshness",
                "severity": outcome.severity,
                "result": "passed" if outcome.passed else "FAILED",
                "observed": outcome.summary,
                "threshold": ", ".join(f"{k} {v}" for k, v in outcome.threshold.items() if v),
            }
        )
    return rows
