"""preprocessor and baseline_model: the train-only fit that serving applies, and a baseline
that asks whether the features carry signal and whether the test split looks leaked."""

from dataclasses import dataclass
from functools import cached_property

import dagster as dg

from ml_data_platform.catalog import SPLITS
from ml_data_platform.core.baseline import check_leakage, check_signal, fit_and_score
from ml_data_platform.core.preprocessing import describe, fit_preprocessor, transform
from ml_data_platform.dataset.checking import Check, check_group, run_checks
from ml_data_platform.dataset.in_database import model as in_database
from ml_data_platform.dataset.plan import SCORES, DatasetPlan
from ml_data_platform.dataset.publishing import audited_metadata, final_auditor
from ml_data_platform.resources import ExportStore
from ml_data_platform.storage.artifacts import (
    ARTIFACT,
    artifact_for_run,
    load_artifact,
    publish_artifact,
    run_artifact,
    save_artifact,
)
from ml_data_platform.storage.engine_tables import Rows
from ml_data_platform.storage.export_versions import publishing_lock
from ml_data_platform.storage.exports import file_sha256


@dataclass(frozen=True)
class ModelInputs:
    context: dg.AssetCheckExecutionContext
    key: dg.AssetKey

    @cached_property
    def scores(self) -> dict:
        """The audited baseline's scores (this run's, else the published run's): one lookup
        for both checks."""
        scores = (audited_metadata(self.context, self.key) or {}).get(SCORES)
        if scores is None:
            raise LookupError(f"{self.key.to_user_string()} was never materialized: no scores")
        return scores


def model_checks(plan: DatasetPlan) -> list[Check]:
    return [
        Check(
            "baseline_beats_majority_class",
            "The baseline model beats always predicting the majority class on val (WARN: no signal).",
            lambda i: check_signal(i.scores, plan.spec.quality.baseline_margin),
            blocking=False,
        ),
        Check(
            "test_not_suspiciously_perfect",
            "Test accuracy is not perfect while train is not (ERROR: likely leakage).",
            lambda i: check_leakage(i.scores),
        ),
    ]


def _preprocessor(plan: DatasetPlan) -> dg.AssetsDefinition:
    spec = plan.spec

    @dg.asset(
        key=plan.key("preprocessor"),
        code_version=plan.code_version("preprocessor"),
        group_name=plan.name,
        kinds={"sklearn"},
        ins=plan.ins("train"),
        description="Median imputation and standard scaling of numeric features, one-hot "
        "encoding of categorical ones, fitted on the train split only, "
        f"saved with joblib to <data_dir>/artifacts/{plan.name}/{ARTIFACT} for serving.",
    )
    def preprocessor(
        context: dg.AssetExecutionContext, exports: ExportStore, train: Rows
    ) -> dg.MaterializeResult:
        published = plan.artifact_path(exports)
        path = run_artifact(published, context.run.run_id)  # the run's last audit publishes it
        if plan.in_database:
            names, fitted = in_database.fit_preprocessor(plan, train)
        else:
            names = plan.features_of(train)
            fitted = fit_preprocessor(
                train, names, spec.categorical_columns, spec.preprocessing.max_categories
            )
        artifact = save_artifact(fitted, path)
        if final_auditor(context, plan) in (None, "raw", "features", "train"):  # nothing audits it
            with publishing_lock(exports.dataset_dir(plan.name)):
                publish_artifact(published, context.run.run_id, exports.quarantine_days * 86400)
        return dg.MaterializeResult(
            metadata={
                "path": dg.MetadataValue.path(str(published)),
                "staged_as": dg.MetadataValue.path(str(path)),
                "publish_status": dg.MetadataValue.text("awaiting audit: published with the run's versions"),
                "sha256": dg.MetadataValue.text(file_sha256(path)),
                "feature_names": dg.MetadataValue.json(names),
                "output_names": dg.MetadataValue.json(artifact["output_names"]),
                "versions": dg.MetadataValue.json(artifact["versions"]),
                "fitted": dg.MetadataValue.json(describe(artifact)),
            }
        )

    return preprocessor


def _baseline(plan: DatasetPlan) -> dg.AssetsDefinition:
    target = plan.spec.target

    @dg.asset(
        key=plan.key("baseline_model"),
        code_version=plan.code_version("baseline_model"),
        group_name=plan.name,
        kinds={"sklearn"},
        ins=plan.ins(*SPLITS),
        deps=[plan.key("preprocessor")],
        description="Logistic regression on the preprocessed train split, scored on every split: "
        "is there signal, and does the test split look leaked?",
    )
    def baseline_model(
        context: dg.AssetExecutionContext,
        exports: ExportStore,
        train: Rows,
        val: Rows,
        test: Rows,
    ) -> dg.MaterializeResult:
        artifact = load_artifact(artifact_for_run(plan.artifact_path(exports), context.run.run_id))
        parts = {"train": train, "val": val, "test": test}
        if plan.in_database:  # seeded samples: the fit's (as in memory), and scored the same way
            parts = {name: in_database.sampled(plan, table) for name, table in parts.items()}
        matrices = {n: (transform(artifact, f), f[target].to_numpy()) for n, f in parts.items()}
        _, scores = fit_and_score(matrices, plan.spec.seed)
        metadata = {  # rounded for reading and plotting; the JSON below keeps full precision
            f"{split}_{metric}": dg.MetadataValue.float(round(value, 4))
            for split, values in scores.items()
            for metric, value in values.items()
            if metric not in ("majority_accuracy", "rows")
        }
        return dg.MaterializeResult(metadata={**metadata, SCORES: dg.MetadataValue.json(scores)})

    return baseline_model


def build(plan: DatasetPlan) -> tuple[list[dg.AssetsDefinition], list[dg.AssetChecksDefinition]]:
    checks = model_checks(plan)

    @check_group(plan, "baseline_model", checks)
    def baseline_step(context: dg.AssetCheckExecutionContext):
        yield from run_checks(
            context, plan, "baseline_model", checks, ModelInputs(context, plan.key("baseline_model"))
        )

    return [_preprocessor(plan), _baseline(plan)], [baseline_step]
