"""train / val / test: the features split by the dataset's method and seed (a keyed hash of
each row's identity, or an exact per-class shuffle), and the checks that gate them:
disjoint, complete and stratified splits, no published row moved, train and test alike."""

from dataclasses import dataclass

import dagster as dg
import pandas as pd

from ml_data_platform.catalog import SPLITS
from ml_data_platform.catalog.incremental import SplitMethod
from ml_data_platform.core.drift import check_split_distribution
from ml_data_platform.core.profile import profile
from ml_data_platform.core.quality import Outcome, check_splits
from ml_data_platform.core.splitting import hash_split, stratified_split
from ml_data_platform.core.stability import check_split_stability
from ml_data_platform.dataset.checking import Check, check_group, run_checks, with_engine
from ml_data_platform.dataset.in_database import splits as in_database
from ml_data_platform.dataset.metadata import class_counts, versioned_output
from ml_data_platform.dataset.plan import AUDITED, UNION_PROFILE, DatasetPlan
from ml_data_platform.dataset.publishing import reference_metadata
from ml_data_platform.storage.engine_tables import Rows

SPLIT_DEFINITION = "split_definition"  # method, seed, ratios: what decides each row's split


@dataclass(frozen=True)
class SplitInputs:
    context: dg.AssetCheckExecutionContext
    train: pd.DataFrame
    val: pd.DataFrame
    test: pd.DataFrame
    features: pd.DataFrame


def split_definition(plan: DatasetPlan) -> dict:
    spec = plan.spec
    return {"method": spec.split_method().value, "seed": spec.seed, "ratios": spec.split.as_dict()}


def _stability(plan: DatasetPlan, inputs: SplitInputs) -> Outcome:
    """This run's splits against the published ones (read from storage: the run's own are
    still staged), unless the version audited is the published one."""
    tables = inputs.context.resources.io_manager
    previous = {name: tables.read_column(plan.table(name), "sample_index") for name in SPLITS}
    current = {name: getattr(inputs, name)["sample_index"].to_numpy() for name in SPLITS}
    known = None if any(ids is None for ids in previous.values()) else previous
    before = reference_metadata(inputs.context, plan.key("train")).get(SPLIT_DEFINITION)
    hashed = plan.spec.split_method() is SplitMethod.hash
    return check_split_stability(current, known, split_definition(plan), before, hashed)


def split_checks(plan: DatasetPlan) -> list[Check]:
    spec = plan.spec
    hashed = spec.split_method() is SplitMethod.hash
    return [
        Check(
            "splits_disjoint_complete_stratified",
            "No sample_index in two splits, the union is exactly the features, every class near its "
            "split ratio (exact: within one row; hash: within max(1, 5 binomial std) rows).",
            lambda i: check_splits(
                {"train": i.train, "val": i.val, "test": i.test},
                i.features,
                spec.target,
                spec.split.as_dict(),
                hashed,
            ),
            reads=("val", "test", "features"),
        ),
        Check(
            "splits_stable",
            "No row published in one split is now in another (ERROR for hash splits with the same "
            "method, seed and ratios; reported only when the definition changed or splits are exact).",
            lambda i: _stability(plan, i),
            reads=("val", "test"),
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


def split_rows(plan: DatasetPlan, features: pd.DataFrame) -> dict[str, pd.DataFrame]:
    spec = plan.spec
    if spec.split_method() is SplitMethod.hash:
        return hash_split(features, spec.split.as_dict(), spec.seed)
    return stratified_split(features, spec.target, spec.split.as_dict(), spec.seed)


def build(plan: DatasetPlan) -> tuple[list[dg.AssetsDefinition], list[dg.AssetChecksDefinition]]:
    spec = plan.spec
    ratios = spec.split.as_dict()
    how = (
        f"a keyed hash of sample_index with seed {spec.seed} (a row never changes split)"
        if spec.split_method() is SplitMethod.hash
        else f"stratified by {spec.target}, seed {spec.seed}"
    )

    @dg.multi_asset(
        outs={
            name: dg.AssetOut(
                key=plan.key(name),
                code_version=plan.code_version("splits"),
                metadata=AUDITED,
                group_name=plan.name,
                kinds={"duckdb" if plan.in_database else "pandas"},
                description=f"The {name} split ({ratios[name]:.0%}), by {how}"
                + (", of every published partition." if plan.partitioned else "."),
            )
            for name in SPLITS
        },
        ins=plan.ins("features"),
        name=f"{plan.name}__splits",
    )
    def splits(context: dg.AssetExecutionContext, features: Rows):
        definition = {SPLIT_DEFINITION: dg.MetadataValue.json(split_definition(plan))}
        if plan.in_database:
            yield from in_database.split_outputs(plan, features, definition)
            return
        if plan.partitioned:  # the next partition's drift reference: everything published
            union = profile(features, [*plan.features_of(features), spec.target])
            definition[UNION_PROFILE] = dg.MetadataValue.json(union)
        for name, frame in split_rows(plan, features).items():
            counts = class_counts(frame[spec.target])
            extra = definition if name == "train" else {SPLIT_DEFINITION: definition[SPLIT_DEFINITION]}
            yield versioned_output(frame, output_name=name, metadata={**counts, **extra})

    checks = with_engine(split_checks(plan), plan, in_database.IN_DATABASE)

    @check_group(plan, "train", checks, ins=plan.ins(*SPLITS, "features"))
    def split_step(
        context: dg.AssetCheckExecutionContext, train: Rows, val: Rows, test: Rows, features: Rows
    ):
        if not plan.in_database:
            inputs = SplitInputs(context, train, val, test, features)
            yield from run_checks(context, plan, "train", checks, inputs)
            return
        before = reference_metadata(context, plan.key("train")).get(SPLIT_DEFINITION)
        tables = {"train": train.name, "val": val.name, "test": test.name}
        with train.connect() as db:
            inputs = in_database.EngineSplits(
                context, db, tables, features.name, split_definition(plan), before
            )
            yield from run_checks(context, plan, "train", checks, inputs)

    return [splits], [split_step]
