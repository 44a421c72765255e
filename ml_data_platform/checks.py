"""The quality suite: asset checks per dataset, built from the pure functions in lib/.

Checks are asset checks separate from the assets (one multi-asset check step per asset, each
check selectable on its own), so the same definitions gate materializations and run alone
(the `checks_only` job, `ml-data-platform check`). In a materialization run they read the
frame the asset just wrote from the IO manager's in-run memory, not from storage.
"""

import inspect
import warnings
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator

import dagster as dg
import pandas as pd

from ml_data_platform.catalog import SPLITS, DatasetSpec, SyntheticSource
from ml_data_platform.lib.baseline import check_leakage, check_signal
from ml_data_platform.lib.contract import features_contract, quality_contract, raw_contract
from ml_data_platform.lib.export import export_schema, verify_exports
from ml_data_platform.lib.quality import (
    WARN,
    Outcome,
    check_class_balance,
    check_completeness,
    check_contract,
    check_drift,
    check_learned_bounds,
    check_quality_score,
    check_raw,
    check_split_distribution,
    check_splits,
)
from ml_data_platform.lib.validation import feature_columns
from ml_data_platform.resources import ExportStore

PLATFORM_COLUMNS = ("sample_index", "ingested_at", "event_timestamp")
# Dagster marks its metadata-based check builders beta; we use them as documented.
warnings.filterwarnings("ignore", message=".*build_(column_schema_change|metadata_bounds)_checks.*")


def to_result(key: dg.AssetCheckKey, outcome: Outcome) -> dg.AssetCheckResult:
    """The check's result; a data quality score among the observations is also numeric
    metadata of its own, so the UI plots it per run."""
    severity = dg.AssetCheckSeverity.WARN if outcome.severity == WARN else dg.AssetCheckSeverity.ERROR
    dqs = outcome.observed.get("dqs")
    return dg.AssetCheckResult(
        asset_key=key.asset_key,
        check_name=key.name,
        passed=outcome.passed,
        severity=severity,
        description=outcome.summary,
        metadata={
            "observed": dg.MetadataValue.json(outcome.observed),
            "threshold": dg.MetadataValue.json(outcome.threshold),
            **({"dqs": dg.MetadataValue.float(dqs)} if dqs is not None else {}),
        },
    )


def previous_profile(context: dg.AssetCheckExecutionContext, key: dg.AssetKey) -> dict | None:
    """The profile stored with the materialization before the one being checked."""
    records = context.instance.fetch_materializations(key, limit=2).records
    if len(records) < 2:
        return None
    entry = records[1].asset_materialization.metadata.get("profile_json")
    return entry.value if entry is not None else None


def check_op_name(dataset: str, stage: str) -> str:
    """The op (step) that runs every check of `<dataset>/<stage>`."""
    return f"{dataset}__{stage}_checks"


def data_features(spec: DatasetSpec, columns: Iterable[str]) -> list[str]:
    """The feature columns among `columns` (a frame iterates over its column names)."""
    return [c for c in columns if c != spec.target and c not in PLATFORM_COLUMNS]


def build_dataset_checks(spec: DatasetSpec) -> list[dg.AssetChecksDefinition]:
    ds = spec.name
    stages = ("raw", "features", *SPLITS, "baseline_model", "export")
    key = {stage: dg.AssetKey([ds, stage]) for stage in stages}
    q = spec.quality
    expected_rows = spec.source.n_samples if isinstance(spec.source, SyntheticSource) else None
    ratios = spec.split.as_dict()
    registered: dict[str, list[tuple[dg.AssetCheckSpec, Callable]]] = defaultdict(list)

    def check(
        asset: str, name: str, description: str, blocking: bool = True, reads: tuple[str, ...] = ()
    ) -> Callable:
        """Register a check of `asset` that also `reads` those stages; its function takes any of
        context, exports and the stage frames (raw, features, train, val, test) by name."""

        def register(fn: Callable) -> Callable:
            spec = dg.AssetCheckSpec(
                name,
                asset=key[asset],
                description=description,
                blocking=blocking,
                additional_deps=[key[stage] for stage in reads],
            )
            registered[asset].append((spec, fn))
            return fn

        return register

    @check(
        "raw",
        "raw_schema_and_row_count",
        "Declared columns present, numeric unless categorical, sample_index unique, expected row count.",
    )
    def raw_schema(raw: pd.DataFrame) -> Outcome:
        names = feature_columns(spec, list(raw.columns))
        contract = check_contract(raw, raw_contract(spec, names))
        shape = check_raw(
            raw,
            [*(spec.feature_columns or []), spec.target],
            expected_rows,
            spec.min_rows,
            positional_index=spec.id_column is None,
        )
        return Outcome(
            passed=contract.passed and shape.passed,
            summary=shape.summary if not shape.passed else contract.summary,
            observed={**shape.observed, **contract.observed},
            threshold={**shape.threshold, **contract.threshold},
        )

    @check("raw", "raw_completeness", "Share of null/non-finite values per column within the limit.")
    def raw_completeness(raw: pd.DataFrame) -> Outcome:
        names = [*feature_columns(spec, list(raw.columns)), spec.target]
        return check_completeness(raw, names, q.max_null_fraction)

    @check("raw", "raw_quality_score", "Data quality score of the raw rows (valid rows / rows × 100).")
    def raw_dqs(raw: pd.DataFrame) -> Outcome:
        contract = quality_contract(spec, feature_columns(spec, list(raw.columns)), stage="raw")
        outcome = check_quality_score(raw, contract, q.dqs_threshold)
        return outcome

    @check(
        "features",
        "features_schema",
        "Exact columns in order, float64 finite features (categorical: text, no nulls), int64 target "
        "in the declared classes, "
        "unique sample_index, declared feature bounds.",
    )
    def features_schema(features: pd.DataFrame) -> Outcome:
        return check_contract(features, features_contract(spec, data_features(spec, features)))

    @check("features", "features_quality_score", "Data quality score of the validated features.")
    def features_dqs(features: pd.DataFrame) -> Outcome:
        contract = quality_contract(spec, data_features(spec, features))
        outcome = check_quality_score(features, contract, q.dqs_threshold)
        return outcome

    @check(
        "features",
        "features_class_balance",
        "Class shares vs the declared weights (WARN); a class too small to stratify (ERROR).",
    )
    def class_balance(features: pd.DataFrame) -> Outcome:
        return check_class_balance(
            features, spec.target, spec.expected_class_shares(), q.class_balance_tolerance, ratios
        )

    @check(
        "features",
        "features_drift",
        "Per-feature PSI against the previous materialization's stored profile (WARN).",
        blocking=False,
    )
    def drift(context: dg.AssetCheckExecutionContext, features: pd.DataFrame) -> Outcome:
        previous = previous_profile(context, key["features"])
        return check_drift(features, data_features(spec, features), previous, q.drift_psi_threshold)

    @check(
        "features",
        "features_learned_bounds",
        "Values within the previous materialization's range widened by a margin (WARN).",
        blocking=False,
    )
    def learned_bounds(context: dg.AssetCheckExecutionContext, features: pd.DataFrame) -> Outcome:
        previous = previous_profile(context, key["features"])
        return check_learned_bounds(
            features, data_features(spec, features), previous, q.learned_bounds_margin
        )

    @check(
        "train",
        "splits_disjoint_complete_stratified",
        "No sample_index in two splits, the union is exactly the features, every class within "
        "one row of its split ratio.",
        reads=("val", "test", "features"),
    )
    def split_integrity(
        train: pd.DataFrame, val: pd.DataFrame, test: pd.DataFrame, features: pd.DataFrame
    ) -> Outcome:
        parts = {"train": train, "val": val, "test": test}
        return check_splits(parts, features, spec.target, ratios)

    @check(
        "train",
        "train_test_distribution",
        "Train and test feature distributions not wildly apart (PSI per feature, WARN).",
        blocking=False,
        reads=("test",),
    )
    def split_distribution(train: pd.DataFrame, test: pd.DataFrame) -> Outcome:
        return check_split_distribution(train, test, data_features(spec, train), q.split_psi_threshold)

    @check(
        "export",
        "exports_match_manifest",
        "Every Parquet file exists with the manifest's row count and sha256, and its schema "
        "matches the feature table.",
    )
    def export_integrity(context: dg.AssetCheckExecutionContext, exports: ExportStore) -> Outcome:
        # The feature table's columns come from its recorded column schema: loading a million
        # rows to learn their names would cost more than the check itself.
        event = context.instance.get_latest_materialization_event(key["features"])
        schema_entry = event.asset_materialization.metadata.get("dagster/column_schema") if event else None
        if schema_entry is None:
            return Outcome(False, f"{key['features'].to_user_string()} has no recorded column schema")
        columns = {c.name: c.type for c in schema_entry.value.columns}
        names = data_features(spec, columns)
        text = [c for c in names if columns[c] == "string"]
        return verify_exports(exports.dataset_dir(ds), export_schema(names, spec.target, text))

    def latest_scores(context: dg.AssetCheckExecutionContext) -> dict:
        event = context.instance.get_latest_materialization_event(key["baseline_model"])
        if event is None:
            raise LookupError(f"{key['baseline_model'].to_user_string()} was never materialized: no scores")
        return event.asset_materialization.metadata["scores"].value

    @check(
        "baseline_model",
        "baseline_beats_majority_class",
        "The baseline model beats always predicting the majority class on val (WARN: no signal).",
        blocking=False,
    )
    def signal(context: dg.AssetCheckExecutionContext) -> Outcome:
        return check_signal(latest_scores(context), q.baseline_margin)

    @check(
        "baseline_model",
        "test_not_suspiciously_perfect",
        "Test accuracy is not perfect while train is not (ERROR: likely leakage).",
    )
    def leakage(context: dg.AssetCheckExecutionContext) -> Outcome:
        return check_leakage(latest_scores(context))

    # One step per asset runs all of its checks: Dagster's per-step cost (events, each a
    # database write) exceeds most checks' own, so a step per check would dominate small runs.
    def run_group(
        context: dg.AssetCheckExecutionContext, stage: str, values: dict[str, object]
    ) -> Iterator[dg.AssetCheckResult]:
        values = {**values, "context": context}
        for spec, fn in registered[stage]:
            if spec.key not in context.selected_asset_check_keys:
                continue
            try:
                outcome = fn(**{p: values[p] for p in inspect.signature(fn).parameters})
            except Exception as error:  # one broken check must not silence its siblings
                context.log.exception(f"check {spec.name} raised")
                outcome = Outcome(False, f"the check raised {type(error).__name__}: {error}")
            yield to_result(spec.key, outcome)

    def group(stage: str, **ins: dg.AssetIn) -> Callable:
        return dg.multi_asset_check(
            specs=[spec for spec, _ in registered[stage]],
            name=check_op_name(ds, stage),
            description=f"The checks of {key[stage].to_user_string()}, run in one step.",
            can_subset=True,
            ins=ins,
        )

    @group("raw", raw=dg.AssetIn(key=key["raw"]))
    def raw_checks(context: dg.AssetCheckExecutionContext, raw: pd.DataFrame):
        yield from run_group(context, "raw", {"raw": raw})

    @group("features", features=dg.AssetIn(key=key["features"]))
    def features_checks(context: dg.AssetCheckExecutionContext, features: pd.DataFrame):
        yield from run_group(context, "features", {"features": features})

    @group(
        "train",
        train=dg.AssetIn(key=key["train"]),
        val=dg.AssetIn(key=key["val"]),
        test=dg.AssetIn(key=key["test"]),
        features=dg.AssetIn(key=key["features"]),
    )
    def split_checks(
        context: dg.AssetCheckExecutionContext,
        train: pd.DataFrame,
        val: pd.DataFrame,
        test: pd.DataFrame,
        features: pd.DataFrame,
    ):
        yield from run_group(
            context, "train", {"train": train, "val": val, "test": test, "features": features}
        )

    @group("export")
    def export_checks(context: dg.AssetCheckExecutionContext, exports: ExportStore):
        yield from run_group(context, "export", {"exports": exports})

    @group("baseline_model")
    def baseline_checks(context: dg.AssetCheckExecutionContext):
        yield from run_group(context, "baseline_model", {})

    checks: list[dg.AssetChecksDefinition] = [
        raw_checks,
        features_checks,
        split_checks,
        export_checks,
        baseline_checks,
    ]
    checks += dg.build_column_schema_change_checks(
        assets=[key["raw"], key["features"], *(key[n] for n in SPLITS)],
        severity=dg.AssetCheckSeverity.WARN,
    )
    checks += dg.build_metadata_bounds_checks(
        assets=[key["raw"]],
        severity=dg.AssetCheckSeverity.ERROR,
        metadata_key="dagster/row_count",
        min_value=spec.min_rows,
        max_value=q.max_rows,
    )
    return checks
