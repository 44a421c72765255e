"""`ml-data-platform`: run the whole graph and print what it produced."""

from __future__ import annotations

import argparse
import sys

import dagster as dg

from ml_data_platform import quarantine
from ml_data_platform.catalog import CatalogError
from ml_data_platform.check_command import check
from ml_data_platform.definitions import REPOSITORY_LABEL, build_definitions
from ml_data_platform.project import project_instance, settings_for
from ml_data_platform.run_report import failure_block, summarize
from ml_data_platform.sensors import failure_record
from ml_data_platform.settings import STORAGE_ENV, SettingsError, Storage
from ml_data_platform.storage.failures import record_failure
from ml_data_platform.storage.versions import VersionNotFoundError


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
        project_instance() as instance,
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


def quarantine_command(args: argparse.Namespace) -> int:
    settings = settings_for(args)
    if args.action == "list":
        print(quarantine.list_text(settings, args.dataset))
    elif args.action == "show":
        print(quarantine.show_text(settings, args.name, args.rows))
    elif args.action == "drop":
        print(quarantine.drop(settings, args.name))
    else:
        with project_instance() as instance:
            print(quarantine.release(settings, args.name, instance))
    return 0


def add_quarantine_parser(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser("quarantine", help="list, show, drop or release rejected versions")
    actions = parser.add_subparsers(dest="action", required=True)
    listing = actions.add_parser("list", help="every quarantined version: asset, run, when, why")
    listing.add_argument("--dataset", help="only this dataset")
    for action, text in [
        ("show", "why it was rejected, and its first rows"),
        ("drop", "delete it now"),
        ("release", "publish it anyway, on purpose (recorded as a run on the asset)"),
    ]:
        sub = actions.add_parser(action, help=text)
        sub.add_argument("name", help="as `quarantine list` shows it")
        if action == "show":
            sub.add_argument("--rows", type=int, default=10, help="rows to show (default 10)")
    for sub in actions.choices.values():
        sub.add_argument(
            "--storage", choices=[s.value for s in Storage], help=f"override {STORAGE_ENV} for this run"
        )
    parser.set_defaults(handler=quarantine_command)


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
    check_parser.add_argument(
        "--quarantined",
        metavar="NAME",
        help="audit this quarantined version (and the rest of its run's rejected splits) instead "
        "of the published data, e.g. before releasing it",
    )
    check_parser.add_argument("--verbose", action="store_true", help="show Dagster's step log")
    check_parser.set_defaults(handler=check)
    add_quarantine_parser(commands)
    args = parser.parse_args(argv)
    try:
        return args.handler(args)
    except (CatalogError, SettingsError, VersionNotFoundError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
