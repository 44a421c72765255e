"""The asset factory: raw -> features -> train/val/test -> export, one graph per catalog entry."""

import warnings
from collections.abc import Iterator
from datetime import UTC, datetime
from importlib.metadata import version

import dagster as dg
import pandas as pd

from ml_data_platform.catalog import SPLITS, DatasetSpec, SyntheticSource
from ml_data_platform.checks import (
    EXPORT_INTEGRITY,
    FEATURES_VALID,
    RAW_SCHEMA,
    SPLIT_INTEGRITY,
    gate,
    to_result,
)
from ml_data_platform.lib.export import export_frame, verify_exports, write_exports
from ml_data_platform.lib.lineage import frame_fingerprint
from ml_data_platform.lib.quality import check_features, check_raw, check_splits
from ml_data_platform.lib.sources import read_source, stamp_raw
from ml_data_platform.lib.splitting import stratified_split
from ml_data_platform.lib.validation import feature_columns, validate_features
from ml_data_platform.resources import ExportStore

# Output(data_version=...) is marked beta; we rely on it for lineage and accept the risk.
warnings.filterwarnings("ignore", message=".*data_version.*", category=dg.BetaWarning)


def content_version(frame: pd.DataFrame) -> dg.DataVersion:
    """Rows and dtypes, not the ingestion time: the same seed gives the same version."""
    return dg.DataVersion(frame_fingerprint(frame.drop(columns=["ingested_at"], errors="ignore")))


def build_dataset_assets(spec: DatasetSpec) -> list[dg.AssetsDefinition]:
    ds = spec.name
    keys = {stage: dg.AssetKey([ds, stage]) for stage in ("raw", "features", *SPLITS, "export")}
    declared_features = spec.feature_columns
    expected_rows = spec.source.n_samples if isinstance(spec.source, SyntheticSource) else None

    @dg.asset(
        key=keys["raw"],
        group_name=ds,
        kinds={"pandas"},
        description=f"{spec.description} Rows as they came from the {spec.source.type} source, "
        "plus sample_index and ingested_at; never edited afterwards.".strip(),
        check_specs=[gate(RAW_SCHEMA, keys["raw"])],
    )
    def raw(context: dg.AssetExecutionContext) -> Iterator:
        frame = stamp_raw(read_source(spec), datetime.now(UTC))
        yield dg.Output(
            frame,
            data_version=content_version(frame),
            metadata={"source": dg.MetadataValue.json(spec.source.model_dump(mode="json"))},
        )
        required = [*(declared_features or []), spec.target]
        outcome = check_raw(frame, required, expected_rows, spec.min_rows)
        yield to_result(RAW_SCHEMA, keys["raw"], outcome)

    @dg.asset(
        key=keys["features"],
        group_name=ds,
        kinds={"pandas"},
        ins={"raw": dg.AssetIn(key=keys["raw"])},
        description="Validated features: float64 features in a stable order, int64 target, "
        f"duplicates {spec.on_duplicates.value}, non-finite rows {spec.on_non_finite.value}.",
        check_specs=[gate(FEATURES_VALID, keys["features"])],
    )
    def features(context: dg.AssetExecutionContext, raw: pd.DataFrame) -> Iterator:
        table, report = validate_features(spec, raw)
        yield dg.Output(
            table,
            data_version=content_version(table),
            metadata={k: dg.MetadataValue.int(v) for k, v in report.as_dict().items()},
        )
        names = feature_columns(spec, list(raw.columns))
        outcome = check_features(table, names, spec.target, spec.declared_classes())
        yield to_result(FEATURES_VALID, keys["features"], outcome)

    @dg.multi_asset(
        outs={
            name: dg.AssetOut(
                key=keys[name],
                group_name=ds,
                kinds={"pandas"},
                description=f"The {name} split: stratified by {spec.target}, "
                f"{spec.split.as_dict()[name]:.0%} of each class, seed {spec.seed}.",
            )
            for name in SPLITS
        },
        ins={"features": dg.AssetIn(key=keys["features"])},
        check_specs=[gate(SPLIT_INTEGRITY, keys["train"])],
        name=f"{ds}__splits",
    )
    def splits(context: dg.AssetExecutionContext, features: pd.DataFrame) -> Iterator:
        parts = stratified_split(features, spec.target, spec.split.as_dict(), spec.seed)
        for name, frame in parts.items():
            counts = frame[spec.target].value_counts().sort_index()
            yield dg.Output(
                frame,
                output_name=name,
                data_version=content_version(frame),
                metadata={"class_counts": dg.MetadataValue.json({str(k): int(v) for k, v in counts.items()})},
            )
        outcome = check_splits(parts, features, spec.target, spec.split.as_dict())
        yield to_result(SPLIT_INTEGRITY, keys["train"], outcome)

    @dg.asset(
        key=keys["export"],
        group_name=ds,
        kinds={"parquet"},
        ins={name: dg.AssetIn(key=keys[name]) for name in SPLITS},
        description="Parquet (zstd) per split plus manifest.json with row counts, schema, sha256 "
        "and lineage; every file is written to a temp name and renamed.",
        check_specs=[gate(EXPORT_INTEGRITY, keys["export"])],
    )
    def export(
        context: dg.AssetExecutionContext,
        exports: ExportStore,
        train: pd.DataFrame,
        val: pd.DataFrame,
        test: pd.DataFrame,
    ) -> Iterator:
        inputs = {"train": train, "val": val, "test": test}
        names = [c for c in train.columns if c not in ("sample_index", spec.target, "ingested_at")]
        out_dir = exports.dataset_dir(ds)
        lineage = {
            "dataset": ds,
            "feature_columns": names,
            "target": spec.target,
            "dagster_run_id": context.run.run_id,
            "upstream_data_versions": {
                keys[n].to_user_string(): content_version(f).value for n, f in inputs.items()
            },
            "config": spec.model_dump(mode="json"),
            "versions": {p: version(p) for p in ("dagster", "pandas", "scikit-learn", "pyarrow")},
        }
        frames = {n: export_frame(f, names, spec.target) for n, f in inputs.items()}
        manifest = write_exports(frames, out_dir, exports.root, lineage)
        yield dg.MaterializeResult(
            metadata={
                "path": dg.MetadataValue.path(str(out_dir)),
                "rows": dg.MetadataValue.json({n: e["rows"] for n, e in manifest["splits"].items()}),
                "manifest": dg.MetadataValue.json(manifest),
            },
        )
        yield to_result(EXPORT_INTEGRITY, keys["export"], verify_exports(out_dir))

    return [raw, features, splits, export]
