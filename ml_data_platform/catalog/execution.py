"""Where a dataset's stages run: in memory (pandas frames, the default for small data) or in
the database (SQL over stored tables in DuckDB, for data bigger than memory).

`auto` runs a dataset in the database when the storage is DuckDB, the dataset can run there
(`database_problems` is empty) and its source is large: a synthetic source of at least
`AUTO_ROWS` rows, or source files of at least `AUTO_BYTES` together.
"""

from __future__ import annotations

import codecs
from enum import StrEnum
from pathlib import Path

AUTO_ROWS = 5_000_000
AUTO_BYTES = 512 << 20


class Execution(StrEnum):
    auto = "auto"
    memory = "memory"
    database = "database"


def database_problems(spec) -> list[str]:
    """What keeps a dataset from running in the database, each with its fix."""
    problems = []
    source = spec.source
    if spec.partitions is not None:
        problems.append("partitions are not supported in the database yet; remove partitions")
    if spec.categorical_columns:
        problems.append("categorical_columns are not supported in the database yet; drop them")
    if source.type == "seed_sqlite":
        problems.append("a seed_sqlite source is read in memory; export it to Parquet first")
    if source.type == "file" and codecs.lookup(source.encoding).name not in ("utf-8", "iso8859-1", "utf-16"):
        problems.append(f"encoding {source.encoding} cannot be scanned by DuckDB; use utf-8")
    if spec.split_method().value != "hash":
        problems.append(
            "the split must be a hash split (set split.method: hash): an exact split shuffles "
            "every row of a class in memory"
        )
    return problems


def source_is_large(spec) -> bool:
    source = spec.source
    if source.type == "synthetic":
        return source.n_samples >= AUTO_ROWS
    if source.type == "file":
        path = Path(source.path)
        files = [p for p in path.iterdir() if p.is_file()] if path.is_dir() else [path]
        return sum(p.stat().st_size for p in files if p.exists()) >= AUTO_BYTES
    return False


def runs_in_database(spec, storage: str) -> bool:
    """Whether the dataset's stages run in the database with this storage; raises ValueError
    for `execution: database` on storage that cannot (the catalog checks everything else)."""
    if spec.execution is Execution.memory:
        return False
    if spec.execution is Execution.database:
        if storage != "duckdb":
            raise ValueError(
                f"dataset {spec.name!r}: execution: database runs on DuckDB storage, not {storage}; "
                "set ML_PLATFORM_STORAGE=duckdb, or execution: memory in the catalog"
            )
        return True
    return storage == "duckdb" and not database_problems(spec) and source_is_large(spec)
