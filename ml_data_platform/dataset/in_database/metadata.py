"""dataset/metadata.py's metadata for stored tables: profile and DQS, class counts, and a
content version, computed by the engine."""

from __future__ import annotations

import dagster as dg
import duckdb

from ml_data_platform.core.contract import quality_contract
from ml_data_platform.core.engine import contract as engine_contract
from ml_data_platform.core.engine.profile import class_counts, profile
from ml_data_platform.core.engine.sql import column_types, quote
from ml_data_platform.core.profile import profile_markdown
from ml_data_platform.core.quality import quality_score_outcome
from ml_data_platform.core.rules import TableRules
from ml_data_platform.dataset.plan import CLASS_COUNTS, PROFILE


def quality_metadata(
    rules: TableRules, db: duckdb.DuckDBPyConnection, table: str, names: list[str], stage: str
) -> dict:
    stats = profile(db, table, [*names, rules.target])
    rows, invalid = engine_contract.invalid_rows(db, table, quality_contract(rules, names, stage))
    score = quality_score_outcome(rows, invalid, 0.0).value
    return {
        "dqs": dg.MetadataValue.float(round(score, 4)),
        "invalid_rows": dg.MetadataValue.int(invalid),
        "profile": dg.MetadataValue.md(profile_markdown(stats)),
        PROFILE: dg.MetadataValue.json(stats),
    }


def class_count_metadata(db: duckdb.DuckDBPyConnection, table: str, target: str) -> dict:
    counts = class_counts(db, table, target)
    return {CLASS_COUNTS: dg.MetadataValue.json({str(k): v for k, v in counts.items()})}


def content_version(db: duckdb.DuckDBPyConnection, table: str) -> str:
    """Rows and values, not ingested_at, order-independent: a sum of 64-bit row hashes (the
    in-memory path's sha256 would read every row through Python)."""
    names = [n for n in column_types(db, table) if n != "ingested_at"]
    row_hash = f"hash({', '.join(quote(n) for n in names)})::HUGEINT"
    sql = f"SELECT count(*), coalesce(sum({row_hash}), 0) FROM {quote(table)}"
    rows, total = db.execute(sql).fetchall()[0]
    return f"{rows:x}-{int(total) & ((1 << 128) - 1):032x}"
