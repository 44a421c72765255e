"""Bigger than memory, side by side: `ml-data-platform run` with the stages in the database,
the same run in memory, and the out-of-core floor (benchmarks/out_of_core.py), each in a
fresh process, alternating, at each size; writes benchmarks/RESULTS_BIG.md.

    python -m benchmarks.big [--rows 1000000 10000000 50000000] [--repeats 1]

In memory runs only up to --memory-up-to rows (beyond it the frames do not fit).
"""

from __future__ import annotations

import argparse
import platform
import statistics
import tempfile
from datetime import UTC, datetime
from pathlib import Path

from benchmarks.run import module_result

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
BEFORE_10M_S = 146.0  # 10M rows on DuckDB before the in-database path (RESULTS.md, earlier run)
RSS_TARGET_MB = 2048


def measure(variant: str, rows: int, scratch: Path) -> dict:
    return module_result("benchmarks.out_of_core", variant, rows, scratch / f"{variant}-{rows}")


def verdict(ok: bool) -> str:
    return "**met**" if ok else "**missed**"


def report(table: dict, sizes: list[int], repeats: int) -> str:
    lines = [
        "# Bigger than memory (DuckDB, 1 GB memory limit)",
        "",
        f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {platform.machine()}, Python {platform.python_version()}, "
        f"medians of {repeats}. 20 features, 2 classes, hash split; `database` and `memory` are "
        "`ml-data-platform run` (checks, metadata, Dagster run storage included), `floor` the "
        "same SQL stages without Dagster, checks or metadata.",
        "",
        "| rows | variant | wall s | × floor | peak RSS MB | peak disk MB | final disk MB | peak spill MB "
        "| spill left |",
        "|---:|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for rows in sizes:
        floor = table.get((rows, "floor"))
        for variant in ("database", "memory", "floor"):
            r = table.get((rows, variant))
            if r is None:
                continue
            ratio = f"{r['wall'] / floor['wall']:.2f}" if floor else "-"
            lines.append(
                f"| {rows:,} | {variant} | {r['wall']:.1f} | {ratio} | {r['peak_rss_mb']:.0f} | "
                f"{r['peak_disk_mb']:.0f} | {r['final_disk_mb']:.0f} | {r['peak_spill_mb']:.0f} | "
                f"{r['spill_left_mb']:.0f} |"
            )
    lines += ["", "## Targets", ""]
    for rows in sizes:
        ours, floor, memory = (table.get((rows, v)) for v in ("database", "floor", "memory"))
        if ours and floor:
            ratio = ours["wall"] / floor["wall"]
            lines.append(
                f"- {rows:,} rows: {ratio:.2f} × the floor (target ≤ 1.3 ×): {verdict(ratio <= 1.3)}"
            )
            rss = ours["peak_rss_mb"]
            lines.append(
                f"- {rows:,} rows: peak RSS {rss:.0f} MB (target ≤ 2 GB): {verdict(rss <= RSS_TARGET_MB)}"
            )
            lines.append(f"- {rows:,} rows: spill files left after the run: {ours['spill_left_mb']:.0f} MB")
        if ours and rows == 10_000_000:
            speedup = BEFORE_10M_S / ours["wall"]
            lines.append(
                f"- 10M rows: {speedup:.2f} × faster than 146 s (target ≥ 3 ×): {verdict(speedup >= 3)}"
            )
        if ours and memory and rows <= 1_000_000:
            ratio = ours["wall"] / memory["wall"]
            lines.append(
                f"- {rows:,} rows: {ratio:.2f} × the in-memory run (target ≤ 1 ×): {verdict(ratio <= 1.0)}"
            )
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, nargs="+", default=[1_000_000, 10_000_000])
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--memory-up-to", type=int, default=10_000_000)
    parser.add_argument("--out", type=Path, default=HERE / "RESULTS_BIG.md")
    args = parser.parse_args()
    scratch = Path(tempfile.mkdtemp(prefix="mlp-big-"))
    runs: dict[tuple, list[dict]] = {}
    for repeat in range(args.repeats):
        for rows in args.rows:
            variants = ["floor", "database"] + (["memory"] if rows <= args.memory_up_to else [])
            for variant in variants if repeat % 2 == 0 else reversed(variants):
                result = measure(variant, rows, scratch)
                runs.setdefault((rows, variant), []).append(result)
                print(
                    f"{rows:>12,} {variant:9} {result['wall']:8.1f} s {result['peak_rss_mb']:7.0f} MB",
                    flush=True,
                )
    table = {
        key: {k: statistics.median(r[k]) for k in results[0] if isinstance(results[0][k], int | float)}
        for key, results in runs.items()
        for r in [{k: [x[k] for x in results] for k in results[0]}]
    }
    text = report(table, args.rows, args.repeats)
    args.out.write_text(text)
    print(text)


if __name__ == "__main__":
    main()
