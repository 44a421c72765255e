"""export: Parquet per split (untouched and model-ready) and a manifest, staged as one
version folder; the check that every file matches its manifest, which publishes the folder
(one symlink swap) or quarantines it."""

from dataclasses import dataclass
from functools import partial
from importlib.metadata import version
from pathlib import Path

import dagster as dg
import numpy as np
import pandas as pd

from ml_data_platform.catalog import SPLITS
from ml_data_platform.core.preprocessing import model_ready
from ml_data_platform.core.quality import Outcome
from ml_data_platform.core.rules import PARTITION_COLUMN
from ml_data_platform.dataset.checking import Check, check_group, run_checks
from ml_data_platform.dataset.in_database import export as in_database
from ml_data_platform.dataset.metadata import content_version
from ml_data_platform.dataset.plan import COLUMN_SCHEMA, LABEL_CODES, DatasetPlan
from ml_data_platform.dataset.publishing import (
    AUDIT_RUN_TAG,
    PUBLISH_STATUS,
    audited_metadata,
)
from ml_data_platform.freshness import freshness_policy
from ml_data_platform.resources import ExportStore
from ml_data_platform.storage.artifacts import ARTIFACT, artifact_for_run, load_artifact
from ml_data_platform.storage.engine_tables import Rows
from ml_data_platform.storage.export_versions import (
    quarantine_folder,
    stage_exports,
    staged_export,
)
from ml_data_platform.storage.exports import (
    STREAM_WRITERS,
    WRITERS,
    export_frame,
    export_schema,
    file_sha256,
    verify_exports,
)


@dataclass(frozen=True)
class ExportInputs:
    context: dg.AssetCheckExecutionContext
    folder: Path  # this run's staged version, else the published one


def _integrity(plan: DatasetPlan, inputs: ExportInputs) -> Outcome:
    # The feature table's columns come from its recorded column schema: loading a million
    # rows to learn their names would cost more than the check itself.
    schema = (audited_metadata(inputs.context, plan.key("features")) or {}).get(COLUMN_SCHEMA)
    if schema is None:
        return Outcome(False, f"{plan.key('features').to_user_string()} has no recorded column schema")
    columns = {c.name: c.type for c in schema.columns}
    names = plan.features_of(columns)
    text = [c for c in names if columns[c] == "string"]
    return verify_exports(inputs.folder, export_schema(names, plan.spec.target, text))


def export_checks(plan: DatasetPlan) -> list[Check]:
    return [
        Check(
            "exports_match_manifest",
            "Every Parquet file exists with the manifest's row count and sha256, and its schema "
            "matches the feature table.",
            lambda i: _integrity(plan, i),
        )
    ]


def partition_versions(inputs: dict[str, pd.DataFrame]) -> dict[str, dict]:
    """The partitions the export holds, each with its rows and a content version of them (the
    same rows give the same version, whichever run published them). One partition's rows are
    gathered at a time, so the step never holds a second copy of every split."""
    pieces: dict[str, list[tuple[pd.DataFrame, np.ndarray]]] = {}
    for frame in inputs.values():
        codes, keys = pd.factorize(frame[PARTITION_COLUMN])
        order = np.argsort(codes, kind="stable")
        bounds = np.searchsorted(codes[order], np.arange(len(keys) + 1))
        for index, key in enumerate(keys):
            pieces.setdefault(str(key), []).append((frame, order[bounds[index] : bounds[index + 1]]))
    versions = {}
    for key in sorted(pieces):
        part = pd.concat([frame.iloc[rows] for frame, rows in pieces[key]], ignore_index=True)
        versions[key] = {
            "rows": len(part),
            "data_version": content_version(part.sort_values("sample_index")).value,
        }
    return versions


def lineage(
    plan: DatasetPlan,
    context: dg.AssetExecutionContext,
    artifact_path: Path,
    artifact: dict,
    names: list[str],
    inputs: dict[str, pd.DataFrame],
) -> dict:
    """What the manifest records about where the files came from."""
    spec = plan.spec
    return {
        "dataset": plan.name,
        "feature_columns": names,
        "categorical_columns": [n for n in names if n in spec.categorical_columns],
        "model_ready_columns": artifact["output_names"],
        "target": spec.target,
        "dagster_run_id": context.run.run_id,
        "upstream_data_versions": {
            plan.key(n).to_user_string(): content_version(f).value for n, f in inputs.items()
        },
        "label_codes": (audited_metadata(context, plan.key("features")) or {}).get(LABEL_CODES),
        "preprocessor": {
            "path": str(artifact_path.parent / ARTIFACT),  # what serving loads once published
            "sha256": file_sha256(artifact_path),
            "versions": artifact["versions"],
        },
        **({"partitions": partition_versions(inputs)} if plan.partitioned else {}),
        "config": spec.model_dump(mode="json"),
        "versions": {p: version(p) for p in ("dagster", "pandas", "scikit-learn", "pyarrow")},
    }


def build(plan: DatasetPlan) -> tuple[list[dg.AssetsDefinition], list[dg.AssetChecksDefinition]]:
    target = plan.spec.target

    @dg.asset(
        key=plan.key("export"),
        code_version=plan.code_version("export"),
        freshness_policy=freshness_policy(plan.spec),
        group_name=plan.name,
        kinds={"parquet"},
        ins=plan.ins(*SPLITS),
        # The baseline's blocking leakage check gates the export: nothing is exported (or
        # published) from a run whose test split looks leaked.
        deps=[plan.key("preprocessor"), plan.key("baseline_model")],
        description="Parquet (zstd) per split, untouched and model-ready (preprocessed), plus "
        "manifest.json with row counts, schema, sha256 and lineage, swapped in as one version.",
    )
    def export(
        context: dg.AssetExecutionContext,
        exports: ExportStore,
        train: Rows,
        val: Rows,
        test: Rows,
    ) -> dg.MaterializeResult:
        inputs = {"train": train, "val": val, "test": test}
        out_dir = exports.dataset_dir(plan.name)
        artifact_path = artifact_for_run(plan.artifact_path(exports), context.run.run_id)
        artifact = load_artifact(artifact_path)
        if plan.in_database:  # streamed from the engine; versions computed there
            names, frames, ready, versions = in_database.export_streams(plan, context, artifact, inputs)
            record = lineage(plan, context, artifact_path, artifact, names, {})
            record["upstream_data_versions"] = versions
        else:
            names = plan.features_of(train)
            frames = {n: partial(export_frame, f, names, target) for n, f in inputs.items()}
            ready = {n: partial(model_ready, artifact, f, target) for n, f in inputs.items()}
            record = lineage(plan, context, artifact_path, artifact, names, inputs)
        # Streams from the engine are written two files at a time: Parquet encoding and zstd
        # run on the writer's thread, so one file left a core idle (10M rows: 18 s -> 10 s);
        # each writer holds a 256Ki-row group and the engine's read-ahead (~100 MB).
        writers = STREAM_WRITERS if plan.in_database else WRITERS
        manifest, staged = stage_exports(
            frames, out_dir, exports.root, record, context.run.run_id, model_ready=ready, writers=writers
        )
        return dg.MaterializeResult(
            metadata={
                "path": dg.MetadataValue.path(str(out_dir)),
                "staged_as": dg.MetadataValue.path(str(staged)),
                PUBLISH_STATUS: dg.MetadataValue.text("awaiting audit: published if its checks pass"),
                "rows": dg.MetadataValue.json({n: e["rows"] for n, e in manifest["splits"].items()}),
                "manifest": dg.MetadataValue.json(manifest),
            },
        )

    checks = export_checks(plan)

    @check_group(plan, "export", checks)
    def export_step(context: dg.AssetCheckExecutionContext):
        out_dir = context.resources.exports.dataset_dir(plan.name)
        audit = context.run.tags.get(AUDIT_RUN_TAG)  # auditing a quarantined version
        folder = staged_export(out_dir, context.run.run_id) or (
            quarantine_folder(out_dir, audit) if audit else out_dir
        )
        yield from run_checks(context, plan, "export", checks, ExportInputs(context, folder))

    return [export], [export_step]
