"""The gate checks each stage carries, and how a pure `Outcome` becomes a Dagster check result."""

from __future__ import annotations

import dagster as dg

from ml_data_platform.lib.quality import Outcome

RAW_SCHEMA = "raw_schema_and_row_count"
FEATURES_VALID = "features_finite_and_declared_classes"
SPLIT_INTEGRITY = "splits_disjoint_complete_stratified"
EXPORT_INTEGRITY = "exports_match_manifest"

DESCRIPTIONS = {
    RAW_SCHEMA: "Raw has the declared columns, sample_index 0..n-1 and the expected row count.",
    FEATURES_VALID: "No nulls or non-finite values; float64 features; int64 target within the "
    "declared classes.",
    SPLIT_INTEGRITY: "train/val/test are disjoint by sample_index, their union is exactly the "
    "features, and every class hits the split ratios within one row.",
    EXPORT_INTEGRITY: "Every Parquet export exists with the row count and sha256 in manifest.json.",
}


def gate(name: str, asset_key: dg.AssetKey) -> dg.AssetCheckSpec:
    """A blocking check: when it fails, the step fails and nothing downstream runs."""
    return dg.AssetCheckSpec(name, asset=asset_key, blocking=True, description=DESCRIPTIONS[name])


def to_result(name: str, asset_key: dg.AssetKey, outcome: Outcome) -> dg.AssetCheckResult:
    return dg.AssetCheckResult(
        asset_key=asset_key,
        check_name=name,
        passed=outcome.passed,
        severity=dg.AssetCheckSeverity.ERROR,
        description=outcome.summary,
        metadata={
            "observed": dg.MetadataValue.json(outcome.observed),
            "threshold": dg.MetadataValue.json(outcome.threshold),
        },
    )
