"""The asset factory: raw -> features -> train/val/test -> export, one graph per catalog entry.

Assets only wire pure functions together; the checks that guard them live in checks.py.
"""

import warnings
from datetime import UTC, datetime
from functools import partial
from importlib.metadata import version

import dagster as dg
import pandas as pd

from ml_data_platform.catalog import SPLITS, DatasetSpec
from ml_data_platform.lib.baseline import fit_and_score
from ml_data_platform.lib.contract import quality_contract
from ml_data_platform.lib.export import export_frame, write_exports
from ml_data_platform.lib.lineage import file_sha256, frame_fingerprint
from ml_data_platform.lib.preprocessing import (
    ARTIFACT,
    describe,
    fit_preprocessor,
    load_artifact,
    model_ready,
    save_artifact,
    transform,
)
from ml_data_platform.lib.profile import profile, profile_markdown
from ml_data_platform.lib.quality import quality_score
from ml_data_platform.lib.sources import read_source, stamp_raw
from ml_data_platform.lib.splitting import stratified_split
from ml_data_platform.lib.validation import feature_columns, validate_features
from ml_data_platform.resources import ExportStore

# Output(data_version=...) is marked beta; we rely on it for lineage and accept the risk.
warnings.filterwarnings("ignore", message=".*data_version.*", category=dg.BetaWarning)


def label_metadata(codes: dict[str, int] | None) -> dict:
    return {"label_codes": dg.MetadataValue.json(codes)} if codes else {}


def content_version(frame: pd.DataFrame) -> dg.DataVersion:
    """Rows and dtypes, not the ingestion time: the same seed gives the same version."""
    return dg.DataVersion(frame_fingerprint(frame, skip={"ingested_at"}))


def quality_metadata(spec: DatasetSpec, frame: pd.DataFrame, names: list[str], stage: str) -> dict:
    """Profile (for the UI and for the next run's drift check) and DQS, plotted per run."""
    stats = profile(frame, [*names, spec.target])
    score, invalid = quality_score(frame, quality_contract(spec, names, stage))
    return {
        "dqs": dg.MetadataValue.float(round(score, 4)),
        "invalid_rows": dg.MetadataValue.int(invalid),
        "profile": dg.MetadataValue.md(profile_markdown(stats)),
        "profile_json": dg.MetadataValue.json(stats),
    }


def build_dataset_assets(spec: DatasetSpec) -> list[dg.AssetsDefinition]:
    ds = spec.name
    stages = ("raw", "features", *SPLITS, "preprocessor", "baseline_model", "export")
    keys = {stage: dg.AssetKey([ds, stage]) for stage in stages}

    def label_codes_of(context: dg.AssetExecutionContext) -> dict[str, int] | None:
        """The text-label -> code mapping the features stage recorded (None for integer labels)."""
        event = context.instance.get_latest_materialization_event(keys["features"])
        entry = event.asset_materialization.metadata.get("label_codes") if event else None
        return entry.value if entry is not None else None

    def split_features(frame: pd.DataFrame) -> list[str]:
        return [c for c in frame.columns if c not in ("sample_index", "ingested_at", spec.target)]

    @dg.asset(
        key=keys["raw"],
        group_name=ds,
        kinds={"pandas"},
        description=f"{spec.description} Rows as they came from the {spec.source.type} source, "
        "plus sample_index and ingested_at; never edited afterwards.".strip(),
    )
    def raw(context: dg.AssetExecutionContext) -> dg.Output:
        frame = stamp_raw(read_source(spec), datetime.now(UTC), spec.id_column, ds)
        return dg.Output(
            frame,
            data_version=content_version(frame),
            metadata={
                "source": dg.MetadataValue.json(spec.source.model_dump(mode="json")),
                **quality_metadata(spec, frame, feature_columns(spec, list(frame.columns)), "raw"),
            },
        )

    @dg.asset(
        key=keys["features"],
        group_name=ds,
        kinds={"pandas"},
        ins={"raw": dg.AssetIn(key=keys["raw"])},
        description="Validated features: float64 (categorical: text) features in a stable order, "
        "int64 target, "
        f"duplicates {spec.on_duplicates.value}, non-finite rows {spec.on_non_finite.value}.",
    )
    def features(context: dg.AssetExecutionContext, raw: pd.DataFrame) -> dg.Output:
        table, report = validate_features(spec, raw)
        names = feature_columns(spec, list(raw.columns))
        return dg.Output(
            table,
            data_version=content_version(table),
            metadata={
                **{k: dg.MetadataValue.int(v) for k, v in report.as_dict().items()},
                **quality_metadata(spec, table, names, "features"),
                **label_metadata(report.label_codes),
            },
        )

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
        name=f"{ds}__splits",
    )
    def splits(context: dg.AssetExecutionContext, features: pd.DataFrame):
        parts = stratified_split(features, spec.target, spec.split.as_dict(), spec.seed)
        for name, frame in parts.items():
            counts = frame[spec.target].value_counts().sort_index()
            yield dg.Output(
                frame,
                output_name=name,
                data_version=content_version(frame),
                metadata={"class_counts": dg.MetadataValue.json({str(k): int(v) for k, v in counts.items()})},
            )

    @dg.asset(
        key=keys["preprocessor"],
        group_name=ds,
        kinds={"sklearn"},
        ins={"train": dg.AssetIn(key=keys["train"])},
        description="Median imputation and standard scaling of numeric features, one-hot "
        "encoding of categorical ones, fitted on the train split only, "
        f"saved with joblib to <data_dir>/artifacts/{ds}/{ARTIFACT} for serving.",
    )
    def preprocessor(
        context: dg.AssetExecutionContext, exports: ExportStore, train: pd.DataFrame
    ) -> dg.MaterializeResult:
        names = split_features(train)
        path = exports.artifact_path(ds, ARTIFACT)
        fitted = fit_preprocessor(train, names, spec.categorical_columns, spec.preprocessing.max_categories)
        artifact = save_artifact(fitted, path)
        return dg.MaterializeResult(
            metadata={
                "path": dg.MetadataValue.path(str(path)),
                "sha256": dg.MetadataValue.text(file_sha256(path)),
                "feature_names": dg.MetadataValue.json(names),
                "output_names": dg.MetadataValue.json(artifact["output_names"]),
                "versions": dg.MetadataValue.json(artifact["versions"]),
                "fitted": dg.MetadataValue.json(describe(artifact)),
            }
        )

    @dg.asset(
        key=keys["baseline_model"],
        group_name=ds,
        kinds={"sklearn"},
        ins={name: dg.AssetIn(key=keys[name]) for name in SPLITS},
        deps=[keys["preprocessor"]],
        description="Logistic regression on the preprocessed train split, scored on every split: "
        "is there signal, and does the test split look leaked?",
    )
    def baseline_model(
        context: dg.AssetExecutionContext,
        exports: ExportStore,
        train: pd.DataFrame,
        val: pd.DataFrame,
        test: pd.DataFrame,
    ) -> dg.MaterializeResult:
        artifact = load_artifact(exports.artifact_path(ds, ARTIFACT))
        parts = {"train": train, "val": val, "test": test}
        matrices = {n: (transform(artifact, f), f[spec.target].to_numpy()) for n, f in parts.items()}
        _, scores = fit_and_score(matrices, spec.seed)
        metadata = {
            f"{split}_{metric}": dg.MetadataValue.float(value)
            for split, values in scores.items()
            for metric, value in values.items()
            if metric != "majority_accuracy"
        }
        return dg.MaterializeResult(metadata={**metadata, "scores": dg.MetadataValue.json(scores)})

    @dg.asset(
        key=keys["export"],
        group_name=ds,
        kinds={"parquet"},
        ins={name: dg.AssetIn(key=keys[name]) for name in SPLITS},
        deps=[keys["preprocessor"]],
        description="Parquet (zstd) per split, untouched and model-ready (preprocessed), plus "
        "manifest.json with row counts, schema, sha256 and lineage, swapped in as one version.",
    )
    def export(
        context: dg.AssetExecutionContext,
        exports: ExportStore,
        train: pd.DataFrame,
        val: pd.DataFrame,
        test: pd.DataFrame,
    ) -> dg.MaterializeResult:
        inputs = {"train": train, "val": val, "test": test}
        names = split_features(train)
        out_dir = exports.dataset_dir(ds)
        artifact_path = exports.artifact_path(ds, ARTIFACT)
        artifact = load_artifact(artifact_path)
        lineage = {
            "dataset": ds,
            "feature_columns": names,
            "categorical_columns": [n for n in names if n in spec.categorical_columns],
            "model_ready_columns": artifact["output_names"],
            "target": spec.target,
            "dagster_run_id": context.run.run_id,
            "upstream_data_versions": {
                keys[n].to_user_string(): content_version(f).value for n, f in inputs.items()
            },
            "label_codes": label_codes_of(context),
            "preprocessor": {
                "path": str(artifact_path),
                "sha256": file_sha256(artifact_path),
                "versions": artifact["versions"],
            },
            "config": spec.model_dump(mode="json"),
            "versions": {p: version(p) for p in ("dagster", "pandas", "scikit-learn", "pyarrow")},
        }
        frames = {n: partial(export_frame, f, names, spec.target) for n, f in inputs.items()}
        ready = {n: partial(model_ready, artifact, f, spec.target) for n, f in inputs.items()}
        manifest = write_exports(frames, out_dir, exports.root, lineage, model_ready=ready)
        return dg.MaterializeResult(
            metadata={
                "path": dg.MetadataValue.path(str(out_dir)),
                "rows": dg.MetadataValue.json({n: e["rows"] for n, e in manifest["splits"].items()}),
                "manifest": dg.MetadataValue.json(manifest),
            },
        )

    return [raw, features, splits, preprocessor, baseline_model, export]
