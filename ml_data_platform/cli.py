"""`ml-data-platform`: run the whole graph and print what it produced."""

from __future__ import annotations

import argparse
import os
import sys
from collections import defaultdict
from pathlib import Path

import dagster as dg

from ml_data_platform.catalog import CatalogError
from ml_data_platform.definitions import ALL_DATASETS_JOB, build_definitions
from ml_data_platform.lib.export import ExportError, read_manifest
from ml_data_platform.settings import STORAGE_ENV, Settings, SettingsError, Storage


def _instance() -> dg.DagsterInstance:
    """The project-local instance (so the UI shows these runs); DAGSTER_HOME defaults to the cwd."""
    if not os.environ.get("DAGSTER_HOME") and Path("dagster.yaml").is_file():
        os.environ["DAGSTER_HOME"] = str(Path.cwd())
    if os.environ.get("DAGSTER_HOME"):
        return dg.DagsterInstance.get()
    return dg.DagsterInstance.ephemeral()


def failure_reasons(result: dg.ExecuteInProcessResult) -> list[str]:
    """One line per failed step: the user-code error under Dagster's wrapper, not the wrapper."""
    reasons = []
    for event in result.all_events:
        if not (event.is_step_failure and event.step_failure_data):
            continue
        error = event.step_failure_data.error
        while error is not None and error.cause is not None:
            error = error.cause
        message = error.message.strip() if error else "unknown error"
        qualified, _, rest = message.partition(": ")
        if error and error.cls_name and qualified.endswith(error.cls_name):
            message = f"{error.cls_name}: {rest}"  # drop the module path
        reasons.append(f"step {event.step_key} failed: {message}")
    return reasons


def summarize(settings: Settings, result: dg.ExecuteInProcessResult, datasets: list[str]) -> str:
    checks: dict[str, list[dg.AssetCheckEvaluation]] = defaultdict(list)
    for evaluation in result.get_asset_check_evaluations():
        checks[evaluation.asset_key.path[0]].append(evaluation)
    header = f"{'dataset':<24} {'train':>8} {'val':>8} {'test':>8}  {'checks':<16} export"
    lines = [f"storage: {settings.storage.value} ({settings.database_path})", header, "-" * len(header)]
    for name in datasets:
        passed = sum(e.passed for e in checks[name])
        failed = [e for e in checks[name] if not e.passed]
        out_dir = settings.exports_dir / name
        try:
            rows = {k: v["rows"] for k, v in read_manifest(out_dir)["splits"].items()}
        except ExportError:
            rows, out_dir = {}, "(not exported)"
        counts = [str(rows.get(s, "-")) for s in ("train", "val", "test")]
        status = f"{passed} passed" + (f", {len(failed)} FAILED" if failed else "")
        lines.append(f"{name:<24} {counts[0]:>8} {counts[1]:>8} {counts[2]:>8}  {status:<16} {out_dir}")
        for evaluation in failed:
            lines.append(
                f"  FAILED {evaluation.asset_key.to_user_string()}:{evaluation.check_name}: "
                f"{evaluation.description}"
            )
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    if args.storage:
        os.environ[STORAGE_ENV] = args.storage
    settings = Settings.from_env()
    defs = build_definitions(settings)
    datasets = sorted({key.path[0] for key in defs.resolve_asset_graph().get_all_asset_keys()})
    if args.dataset:
        unknown = sorted(set(args.dataset) - set(datasets))
        if unknown:
            raise CatalogError(f"unknown dataset(s) {unknown}; the catalog has {datasets}")
        datasets = sorted(set(args.dataset))
    job = defs.resolve_job_def(ALL_DATASETS_JOB)
    selection = (
        None
        if not args.dataset
        else [k for k in defs.resolve_asset_graph().get_all_asset_keys() if k.path[0] in datasets]
    )
    with _instance() as instance:
        level = "DEBUG" if args.verbose else "WARNING"
        result = job.execute_in_process(
            instance=instance,
            raise_on_error=False,
            asset_selection=selection,
            run_config={"loggers": {"console": {"config": {"log_level": level}}}},
        )
    print(summarize(settings, result, datasets))
    if not result.success:
        print("\nRun failed:", file=sys.stderr)
        for reason in failure_reasons(result) or ["see the run in the Dagster UI (make ui)"]:
            print(f"  - {reason}", file=sys.stderr)
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
    args = parser.parse_args(argv)
    try:
        return args.handler(args)
    except (CatalogError, SettingsError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
