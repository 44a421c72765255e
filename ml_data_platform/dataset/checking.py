"""How a stage's checks are declared and run: one step per stage, each check on its own.

A stage module lists its checks as `Check`s over a small inputs object that its check step
fills from explicit Dagster inputs; adding a check is one entry in that list.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from functools import partial
from typing import Any

import dagster as dg

from ml_data_platform.core.quality import WARN, Outcome
from ml_data_platform.dataset.plan import DatasetPlan
from ml_data_platform.dataset.publishing import settle


@dataclass(frozen=True)
class Check:
    name: str
    description: str
    evaluate: Callable[[Any], Outcome]  # the stage's inputs -> what the check saw
    blocking: bool = True  # a failed ERROR stops everything downstream
    reads: tuple[str, ...] = ()  # other stages it reads besides its own asset
    # The same check computed by the engine, for datasets that run in the database (its
    # inputs object holds an open connection and table names instead of frames); None: the
    # check reads no rows (metadata, files), so `evaluate` serves both paths.
    in_database: Callable[[Any], Outcome] | None = None


def with_engine(checks: Sequence[Check], plan: DatasetPlan, engine: dict[str, Callable]) -> list[Check]:
    """The checks with their in-database forms attached (`engine`: name -> fn(plan, inputs))."""
    return [replace(c, in_database=partial(engine[c.name], plan)) if c.name in engine else c for c in checks]


def check_specs(plan: DatasetPlan, stage: str, checks: Sequence[Check]) -> list[dg.AssetCheckSpec]:
    return [
        dg.AssetCheckSpec(
            check.name,
            asset=plan.key(stage),
            description=check.description,
            blocking=check.blocking,
            additional_deps=[plan.key(s) for s in check.reads],
        )
        for check in checks
    ]


def to_result(
    key: dg.AssetCheckKey, outcome: Outcome, verdict: dict[str, Any] | None = None
) -> dg.AssetCheckResult:
    """The check's result; its main observed number and threshold are also plain float
    metadata (e.g. `max_psi` and `max_psi_threshold`), so the UI plots them per run."""
    severity = dg.AssetCheckSeverity.WARN if outcome.severity == WARN else dg.AssetCheckSeverity.ERROR
    numbers = {}
    if outcome.metric is not None and outcome.value is not None:
        numbers[outcome.metric] = dg.MetadataValue.float(float(outcome.value))
        if outcome.limit is not None:
            numbers[f"{outcome.metric}_threshold"] = dg.MetadataValue.float(float(outcome.limit))
    return dg.AssetCheckResult(
        asset_key=key.asset_key,
        check_name=key.name,
        passed=outcome.passed,
        severity=severity,
        description=outcome.summary,
        metadata={
            "observed": dg.MetadataValue.json(outcome.observed),
            "threshold": dg.MetadataValue.json(outcome.threshold),
            **numbers,
            **(verdict or {}),
        },
    )


def run_checks(
    context: dg.AssetCheckExecutionContext,
    plan: DatasetPlan,
    stage: str,
    checks: Sequence[Check],
    inputs: Any,
) -> Iterator[dg.AssetCheckResult]:
    """Every selected check of the stage; one that raises is a failed ERROR with the reason,
    and its siblings still report. Then the verdict on what this run staged (publishing.py),
    which goes on every result."""
    outcomes = []
    for check in checks:
        key = dg.AssetCheckKey(plan.key(stage), check.name)
        if key not in context.selected_asset_check_keys:
            continue
        evaluate = check.in_database if plan.in_database and check.in_database else check.evaluate
        try:
            outcome = evaluate(inputs)
        except Exception as error:
            context.log.exception(f"check {check.name} raised")
            outcome = Outcome(False, f"the check raised {type(error).__name__}: {error}")
        outcomes.append((key, check, outcome))
    rejected = {
        k.name: o.summary for k, c, o in outcomes if c.blocking and not o.passed and o.severity != WARN
    }
    verdict = settle(context, plan, stage, rejected)
    for key, _, outcome in outcomes:
        yield to_result(key, outcome, verdict)


def check_group(
    plan: DatasetPlan,
    stage: str,
    checks: Sequence[Check],
    ins: dict[str, dg.AssetIn] | None = None,
) -> Callable:
    """The decorator of a stage's one check step (`<dataset>__<stage>_checks`). It gets the
    table IO manager and the export store, which hold the versions it audits."""
    return dg.multi_asset_check(
        specs=check_specs(plan, stage, checks),
        name=plan.check_op(stage),
        description=f"The checks of {plan.key(stage).to_user_string()}, run in one step; a "
        "failure quarantines the run's versions, the run's last audit publishes them.",
        can_subset=True,
        ins=ins or {},
        required_resource_keys={"io_manager", "exports"},
    )
