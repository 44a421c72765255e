"""features: raw rows validated into typed features and an integer target, cleaned per the
catalog's policies, and the checks that gate them: the declared contract, the data quality
score, class balance, drift and learned bounds against the published version."""

from dataclasses import dataclass
from functools import cached_property
from typing import Any

import dagster as dg
import pandas as pd

from ml_data_platform.catalog.incremental import SplitMethod
from ml_data_platform.core.contract import features_contract, quality_contract
from ml_data_platform.core.drift import check_drift, check_learned_bounds
from ml_data_platform.core.quality import Outcome, check_contract, check_quality_score, class_balance_outcome
from ml_data_platform.core.validation import validate_features
from ml_data_platform.dataset.checking import Check, check_group, run_checks, with_engine
from ml_data_platform.dataset.in_database import features as in_database
from ml_data_platform.dataset.metadata import class_counts, label_metadata, quality_metadata, versioned_output
from ml_data_platform.dataset.plan import CLASS_COUNTS, PROFILE, UNION_PROFILE, DatasetPlan
from ml_data_platform.dataset.publishing import published_metadata, reference_metadata
from ml_data_platform.storage.engine_tables import Rows


@dataclass(frozen=True)
class FeaturesInputs:
    context: dg.AssetCheckExecutionContext
    features: pd.DataFrame  # in the database: in_database.EngineFeatures
    plan: DatasetPlan

    @cached_property
    def previous(self) -> dict[str, Any]:
        """The published version's metadata (the one the audited version would replace): one
        lookup for the whole step."""
        return reference_metadata(self.context, self.plan.key("features"))

    @cached_property
    def previous_profile(self) -> dict | None:
        """What drift and learned bounds compare with: the published version's profile; for
        new partitions, the profile of every published partition (recorded by the last
        published splits), else the last published partitions'."""
        if self.plan.partitioned:
            union = published_metadata(self.context, self.plan.key("train")).get(UNION_PROFILE)
            if union is not None:
                return union
        return self.previous.get(PROFILE)


def _class_balance(plan: DatasetPlan, inputs: FeaturesInputs) -> Outcome:
    """Against the declared shares, else the published version's recorded counts."""
    spec = plan.spec
    expected, previous = spec.expected_class_shares(), None
    if expected is None:
        counts = inputs.previous.get(CLASS_COUNTS)
        if counts:
            total = sum(counts.values())
            previous = {int(label): count / total for label, count in counts.items()}
    q = spec.quality
    # only an exact split needs every class in every split; a hash split needs nothing
    ratios = spec.split.as_dict() if spec.split_method() is SplitMethod.exact else None
    if isinstance(inputs.features, in_database.EngineFeatures):
        found = inputs.features.class_counts(spec.target)
    else:
        found = {int(k): int(v) for k, v in inputs.features[spec.target].value_counts().items()}
    return class_balance_outcome(found, expected, q.class_balance_tolerance, ratios, previous)


def features_checks(plan: DatasetPlan) -> list[Check]:
    q = plan.spec.quality

    def names(i: FeaturesInputs) -> list[str]:
        return plan.features_of(i.features)

    def previous_profile(i: FeaturesInputs) -> dict | None:
        return i.previous_profile

    return [
        Check(
            "features_schema",
            "Exact columns in order, float64 finite features (categorical: text, no nulls), int64 "
            "target in the declared classes, unique sample_index, declared feature bounds.",
            lambda i: check_contract(i.features, features_contract(plan.rules, names(i))),
        ),
        Check(
            "features_quality_score",
            "Data quality score of the validated features.",
            lambda i: check_quality_score(
                i.features, quality_contract(plan.rules, names(i)), q.dqs_threshold
            ),
        ),
        Check(
            "features_class_balance",
            "Class shares vs the declared weights, else the published version's (WARN); a "
            "class too small to stratify (ERROR).",
            lambda i: _class_balance(plan, i),
        ),
        Check(
            "features_drift",
            "Per-feature PSI against the published version's stored profile (new partitions: "
            "against every published partition's) (WARN).",
            lambda i: check_drift(i.features, names(i), previous_profile(i), q.drift_psi_threshold),
            blocking=False,
        ),
        Check(
            "features_learned_bounds",
            "Values within the published version's range widened by a margin (WARN).",
            lambda i: check_learned_bounds(
                i.features, names(i), previous_profile(i), q.learned_bounds_margin
            ),
            blocking=False,
        ),
    ]


def build(plan: DatasetPlan) -> tuple[list[dg.AssetsDefinition], list[dg.AssetChecksDefinition]]:
    spec = plan.spec

    @dg.asset(
        **plan.table_asset("features"),
        ins=plan.ins("raw"),
        description="Validated features: float64 (categorical: text) features in a stable order, "
        f"int64 target, duplicates {spec.on_duplicates.value}, non-finite rows "
        f"{spec.on_non_finite.value}.",
    )
    def features(context: dg.AssetExecutionContext, raw: Rows) -> dg.Output:
        if plan.in_database:
            return in_database.features_output(plan, raw)
        table, report = validate_features(plan.rules, raw)
        names = plan.rules.features_in(list(raw.columns))
        return versioned_output(
            table,
            metadata={
                **{k: dg.MetadataValue.int(v) for k, v in report.as_dict().items()},
                **quality_metadata(plan.rules, table, names, "features"),
                **label_metadata(report.label_codes),
                **class_counts(table[spec.target]),
            },
        )

    checks = with_engine(features_checks(plan), plan, in_database.IN_DATABASE)

    @check_group(plan, "features", checks, ins=plan.ins("features"))
    def features_step(context: dg.AssetCheckExecutionContext, features: Rows):
        if not plan.in_database:
            yield from run_checks(context, plan, "features", checks, FeaturesInputs(context, features, plan))
            return
        with features.connect() as db:
            stored = in_database.EngineFeatures(db, features.name)
            yield from run_checks(context, plan, "features", checks, FeaturesInputs(context, stored, plan))

    return [features], [features_step]
