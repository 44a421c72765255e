"""train / val / test: the features split by class with the dataset's seed, and the checks
that gate them: disjoint, complete and stratified splits; train and test alike."""

from dataclasses import dataclass

import dagster as dg
import pandas as pd

from ml_data_platform.catalog import SPLITS
from ml_data_platform.core.drift import check_split_distribution
from ml_data_platform.core.quality import check_splits
from ml_data_platform.core.splitting import stratified_split
from ml_data_platform.dataset.checking import Check, check_group, run_checks
from ml_data_platform.dataset.metadata import class_counts, versioned_output
from ml_data_platform.dataset.plan import AUDITED, DatasetPlan


@dataclass(frozen=True)
class SplitInputs:
    train: pd.DataFrame
    val: pd.DataFrame
    test: pd.DataFrame
    features: pd.DataFrame


def split_checks(plan: DatasetPlan) -> list[Check]:
    spec = plan.spec
    return [
        Check(
            "splits_disjoint_complete_stratified",
            "No sample_index in two splits, the union is exactly the features, every class within "
            "one row of its split ratio.",
            lambda i: check_splits(
                {"train": i.train, "val": i.val, "test": i.test},
                i.features,
                spec.target,
                spec.split.as_dict(),
            ),
            reads=("val", "test", "features"),
        ),
        Check(
            "train_test_distribution",
            "Train and test feature distributions not wildly apart (PSI per feature, WARN).",
            lambda i: check_split_distribution(
                i.train, i.test, plan.features_of(i.train), spec.quality.split_psi_threshold
            ),
            blocking=False,
            reads=("test",),
        ),
    ]


def build(plan: DatasetPlan) -> tuple[list[dg.AssetsDefinition], list[dg.AssetChecksDefinition]]:
    spec = plan.spec
    ratios = spec.split.as_dict()

    @dg.multi_asset(
        outs={
            name: dg.AssetOut(
                key=plan.key(name),
                metadata=AUDITED,
                group_name=plan.name,
                kinds={"pandas"},
                description=f"The {name} split: stratified by {spec.target}, "
                f"{ratios[name]:.0%} of each class, seed {spec.seed}.",
            )
            for name in SPLITS
        },
        ins=plan.ins("features"),
        name=f"{plan.name}__splits",
    )
    def splits(context: dg.AssetExecutionContext, features: pd.DataFrame):
        parts = stratified_split(features, spec.target, ratios, spec.seed)
        for name, frame in parts.items():
            yield versioned_output(frame, output_name=name, metadata=class_counts(frame[spec.target]))

    checks = split_checks(plan)

    @check_group(plan, "train", checks, ins=plan.ins(*SPLITS, "features"))
    def split_step(
        context: dg.AssetCheckExecutionContext,
        train: pd.DataFrame,
        val: pd.DataFrame,
        test: pd.DataFrame,
        features: pd.DataFrame,
    ):
        yield from run_checks(context, plan, "train", checks, SplitInputs(train, val, test, features))

    return [splits], [split_step]
