"""`ml-data-platform check`: the asset checks alone, against the published data (or one
quarantined version), as a table and an exit code that gates CI."""

from __future__ import annotations

import argparse
import json

import dagster as dg

from ml_data_platform import quarantine
from ml_data_platform.catalog import CatalogError, load_catalog
from ml_data_platform.dataset import check_op_name
from ml_data_platform.dataset.publishing import AUDIT_RUN_TAG
from ml_data_platform.definitions import build_definitions, checks_job_name
from ml_data_platform.freshness import freshness_rows
from ml_data_platform.project import project_instance, settings_for
from ml_data_platform.run_report import RunResult, user_error
from ml_data_platform.settings import Settings


def _compact(value: object, width: int) -> str:
    text = json.dumps(value, separators=(",", ":"), default=str) if not isinstance(value, str) else value
    return text if len(text) <= width else text[: width - 1] + "…"


def check_rows(result: RunResult, planned: list[dg.AssetCheckKey]) -> list[dict[str, str]]:
    """One row per planned check; one that raised, or was blocked by a failed gate, is an ERROR."""
    evaluations = {
        dg.AssetCheckKey(e.asset_key, e.check_name): e for e in result.get_asset_check_evaluations()
    }
    errors = {e.step_key: user_error(e) for e in result.all_events if e.is_step_failure}
    rows = []
    for key in sorted(planned, key=lambda k: (k.asset_key.to_user_string(), k.name)):
        evaluation = evaluations.get(key)
        if evaluation is None:
            step = check_op_name(*key.asset_key.path)  # the step running the asset's checks
            own = f"step {step} failed: {errors[step]}" if step in errors else None
            rows.append(
                {
                    "asset": key.asset_key.to_user_string(),
                    "check": key.name,
                    "severity": "ERROR",
                    "result": "ERRORED" if own else "NOT RUN",
                    "observed": own or "not run: a blocking check it depends on failed",
                    "threshold": "",
                }
            )
            continue
        threshold = evaluation.metadata.get("threshold")
        rows.append(
            {
                "asset": key.asset_key.to_user_string(),
                "check": key.name,
                "severity": evaluation.severity.value,
                "result": "passed" if evaluation.passed else "FAILED",
                "observed": evaluation.description or "",
                "threshold": _compact(threshold.value, 60) if threshold is not None else "",
            }
        )
    return rows


def render_table(rows: list[dict[str, str]]) -> str:
    headers = ["asset", "check", "severity", "result", "observed", "threshold"]
    cells = [[_compact(r[h], 90) for h in headers] for r in rows]
    widths = [max(len(h), *(len(c[i]) for c in cells)) for i, h in enumerate(headers)]
    line = "  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True))
    body = ["  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) for row in cells]
    return "\n".join([line, "  ".join("-" * w for w in widths), *body])


def _audit_jobs(
    args: argparse.Namespace, settings: Settings
) -> tuple[dg.Definitions, list[tuple[dg.JobDefinition, list[dg.AssetCheckKey], dict[str, str]]]]:
    """(definitions, [(job, its planned checks, run tags)]): the published data's checks per
    dataset, or (--quarantined) the rejected version's own checks against it."""
    if args.quarantined:
        group = quarantine.together(settings, args.quarantined)
        tables = {r.version.base: r.version.name for r in group if r.kind == "table"}
        defs = build_definitions(settings, read_versions=tables)
        keys = {r.asset_key for r in group}
        planned = [k for k in defs.resolve_asset_graph().asset_check_keys if k.asset_key in keys]
        job = dg.define_asset_job("audit_quarantined", selection=dg.AssetSelection.checks(*planned))
        defs = dg.Definitions.merge(defs, dg.Definitions(jobs=[job]))
        tags = {AUDIT_RUN_TAG: group[0].version.run_id}
        return defs, [(defs.resolve_job_def("audit_quarantined"), planned, tags)]
    defs = build_definitions(settings)
    graph = defs.resolve_asset_graph()
    datasets = sorted({key.path[0] for key in graph.get_all_asset_keys()})
    wanted = sorted(set(args.dataset)) if args.dataset else datasets
    unknown = sorted(set(wanted) - set(datasets))
    if unknown:
        raise CatalogError(f"unknown dataset(s) {unknown}; the catalog has {datasets}")
    return defs, [
        (
            defs.resolve_job_def(checks_job_name(name)),
            [k for k in graph.asset_check_keys if k.asset_key.path[0] == name],
            {},
        )
        for name in wanted
    ]


def check(args: argparse.Namespace) -> int:
    """Run only the asset checks against what is published (or a quarantined version); the
    exit code gates CI."""
    settings = settings_for(args)
    _, jobs = _audit_jobs(args, settings)
    rows = []
    level = "DEBUG" if args.verbose else "CRITICAL"
    with project_instance() as instance:
        for job, planned, tags in jobs:
            result = job.execute_in_process(
                instance=instance,
                raise_on_error=False,
                tags=tags,
                run_config={"loggers": {"console": {"config": {"log_level": level}}}},
            )
            rows += check_rows(result, planned)
    if not args.quarantined:  # freshness is about the published data
        catalog = load_catalog(settings.catalog_path)
        wanted = sorted(set(args.dataset)) if args.dataset else catalog.names()
        rows += freshness_rows(settings, [catalog.get(name) for name in wanted])
    print(f"storage: {settings.storage.value} ({settings.database_label})")
    if args.quarantined:
        print(f"auditing the quarantined version {args.quarantined}, not the published data")
    print(render_table(rows))
    failed = [r for r in rows if r["result"] in ("FAILED", "ERRORED") and r["severity"] == "ERROR"]
    warned = [r for r in rows if r["result"] == "FAILED" and r["severity"] == "WARN"]
    not_run = [r for r in rows if r["result"] == "NOT RUN"]
    passed = len(rows) - len(failed) - len(warned) - len(not_run)
    print(
        f"\n{passed} passed, {len(failed)} failed (ERROR), {len(warned)} warned (WARN), "
        f"{len(not_run)} not run"
    )
    if failed or not_run or (args.strict and warned):
        return 1
    return 0
