"""`ml-data-platform`: run the whole graph and print what it produced."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

import dagster as dg

from ml_data_platform.catalog import CatalogError
from ml_data_platform.dataset import check_op_name
from ml_data_platform.definitions import (
    REPOSITORY_LABEL,
    build_definitions,
    checks_job_name,
)
from ml_data_platform.run_report import RunResult, failure_block, summarize, user_error
from ml_data_platform.sensors import failure_record
from ml_data_platform.settings import STORAGE_ENV, Settings, SettingsError, Storage
from ml_data_platform.storage.failures import record_failure


def _instance() -> dg.DagsterInstance:
    """The project-local instance (so the UI shows these runs); DAGSTER_HOME defaults to the cwd."""
    if not os.environ.get("DAGSTER_HOME") and Path("dagster.yaml").is_file():
        os.environ["DAGSTER_HOME"] = str(Path.cwd())
    if os.environ.get("DAGSTER_HOME"):
        return dg.DagsterInstance.get()
    return dg.DagsterInstance.local_temp()  # persistent (execute_job needs that), thrown away


def settings_for(args: argparse.Namespace) -> Settings:
    """The environment's settings, with --storage (if given) in place of ML_PLATFORM_STORAGE."""
    return Settings.from_env({**os.environ, **({STORAGE_ENV: args.storage} if args.storage else {})})


def run(args: argparse.Namespace) -> int:
    settings = settings_for(args)
    defs = build_definitions(settings)
    datasets = sorted({key.path[0] for key in defs.resolve_asset_graph().get_all_asset_keys()})
    if args.dataset:
        unknown = sorted(set(args.dataset) - set(datasets))
        if unknown:
            raise CatalogError(f"unknown dataset(s) {unknown}; the catalog has {datasets}")
        datasets = sorted(set(args.dataset))
    selection = (
        None
        if not args.dataset
        else [k for k in defs.resolve_asset_graph().get_all_asset_keys() if k.path[0] in datasets]
    )
    level = "DEBUG" if args.verbose else "WARNING"
    with (
        _instance() as instance,
        dg.execute_job(
            dg.build_reconstructable_job(
                "ml_data_platform.definitions",
                "all_datasets_job",
                reconstructable_kwargs={"storage": settings.storage.value},
            ),
            # The tag the UI's job pages filter on; runs launched from the UI carry it too.
            tags={".dagster/repository": REPOSITORY_LABEL},
            instance=instance,
            raise_on_error=False,
            asset_selection=selection,
            run_config={"loggers": {"console": {"config": {"log_level": level}}}},
        ) as result,
    ):
        print(summarize(settings, result, datasets), flush=True)
    if not result.success:
        steps = [e for e in result.all_events if e.is_step_failure]
        log = record_failure(
            settings.data_dir, failure_record(result.dagster_run, steps, settings, "run failed")
        )
        print("\n" + failure_block(result, datasets, str(log)), file=sys.stderr)
        return 1
    return 0


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


def check(args: argparse.Namespace) -> int:
    """Run only the asset checks against what is stored; the exit code gates CI."""
    settings = settings_for(args)
    defs = build_definitions(settings)
    graph = defs.resolve_asset_graph()
    datasets = sorted({key.path[0] for key in graph.get_all_asset_keys()})
    wanted = sorted(set(args.dataset)) if args.dataset else datasets
    unknown = sorted(set(wanted) - set(datasets))
    if unknown:
        raise CatalogError(f"unknown dataset(s) {unknown}; the catalog has {datasets}")
    rows = []
    level = "DEBUG" if args.verbose else "CRITICAL"
    with _instance() as instance:
        for name in wanted:
            result = defs.resolve_job_def(checks_job_name(name)).execute_in_process(
                instance=instance,
                raise_on_error=False,
                run_config={"loggers": {"console": {"config": {"log_level": level}}}},
            )
            planned = [k for k in graph.asset_check_keys if k.asset_key.path[0] == name]
            rows += check_rows(result, planned)
    print(f"storage: {settings.storage.value} ({settings.database_path})")
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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="ml-data-platform", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    run_parser = commands.add_parser("run", help="materialize every dataset's graph and summarize")
    run_parser.add_argument("--dataset", action="append", help="only this dataset (repeatable)")
    run_parser.add_argument(
        "--storage", choices=[s.value for s in Storage], help=f"override {STORAGE_ENV} for this run"
    )
    run_parser.add_argument("--verbose", action="store_true", help="show Dagster's step log")
    run_parser.set_defaults(handler=run)
    check_parser = commands.add_parser(
        "check", help="run only the asset checks on stored data; exit 1 on any ERROR failure"
    )
    check_parser.add_argument("--dataset", action="append", help="only this dataset (repeatable)")
    check_parser.add_argument(
        "--storage", choices=[s.value for s in Storage], help=f"override {STORAGE_ENV} for this run"
    )
    check_parser.add_argument("--strict", action="store_true", help="exit 1 on WARN failures too")
    check_parser.add_argument("--verbose", action="store_true", help="show Dagster's step log")
    check_parser.set_defaults(handler=check)
    args = parser.parse_args(argv)
    try:
        return args.handler(args)
    except (CatalogError, SettingsError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
