"""`ml-data-platform`: run the whole graph and print what it produced."""

from __future__ import annotations

import argparse
import sys

from ml_data_platform import quarantine
from ml_data_platform.catalog import CatalogError
from ml_data_platform.check_command import check
from ml_data_platform.project import project_instance, settings_for
from ml_data_platform.run_command import run
from ml_data_platform.settings import STORAGE_ENV, SettingsError, Storage
from ml_data_platform.storage.versions import VersionNotFoundError


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
    run_parser.add_argument(
        "--changed",
        action="store_true",
        help="only assets whose catalog entry or platform version changed, never materialized "
        "ones, new partitions, and what is downstream of them",
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
