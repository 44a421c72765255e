"""train / val / test in the database: each split a filtered copy of the stored features by
the keyed hash (bit for bit core.splitting.hash_assignment), and the split checks computed by
the engine (the same outcomes as dataset/splits.py's)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass

import dagster as dg
import duckdb

from ml_data_platform.catalog import SPLITS
from ml_data_platform.core.drift import check_split_distribution
from ml_data_platform.core.engine.profile import TableColumns, class_counts
from ml_data_platform.core.engine.sql import column_types, columns, hash_unit_select, quote, split_position
from ml_data_platform.core.quality import WARN, Outcome, SplitStats, splits_outcome
from ml_data_platform.core.stability import stability_outcome
from ml_data_platform.dataset.in_database.metadata import class_count_metadata
from ml_data_platform.dataset.plan import DatasetPlan
from ml_data_platform.storage.engine_tables import EngineTable, TableQuery


def split_select(table: str, names: list[str], ratios: Mapping[str, float], seed: int, position: int) -> str:
    """The rows of `table` whose hash falls in split number `position`, in table order."""
    hashed = (
        f"SELECT *, {hash_unit_select('sample_index', seed)}, {split_position('_unit', ratios)} AS _split"
    )
    return f"SELECT {columns(names)} FROM ({hashed} FROM {quote(table)}) WHERE _split = {position}"


def split_outputs(plan: DatasetPlan, features: EngineTable, definition: dict) -> Iterator[dg.Output]:
    spec = plan.spec
    with features.connect() as db:
        names = list(column_types(db, features.name))

    def describe(table: EngineTable) -> dict:
        with table.connect() as db:
            return class_count_metadata(db, table.name, spec.target)

    for position, name in enumerate(SPLITS):
        sql = split_select(features.name, names, spec.split.as_dict(), spec.seed, position)
        yield dg.Output(TableQuery(sql, describe=describe), output_name=name, metadata=definition)


@dataclass(frozen=True)
class EngineSplits:
    """This run's stored splits and features as the split checks read them."""

    context: dg.AssetCheckExecutionContext
    db: duckdb.DuckDBPyConnection
    tables: dict[str, str]  # split -> table audited
    features: str
    definition: dict  # this run's split definition
    published_definition: dict | None  # the published splits' (None: unknown)


def _union(tables: Mapping[str, str]) -> str:
    return " UNION ALL ".join(
        f"SELECT sample_index, '{name}' AS split FROM {quote(table)}" for name, table in tables.items()
    )


def _number(db: duckdb.DuckDBPyConnection, sql: str) -> int:
    """The single number a counting query returns."""
    return int(db.execute(sql).fetchall()[0][0])


def fingerprint(db: duckdb.DuckDBPyConnection, source: str) -> tuple[int, ...]:
    """Rows and three exact sums over the sample_index multiset of `source` (a table or a
    subquery): the ids, and two 64-bit hashes of them. Equal fingerprints mean equal
    multisets but for a chance near 2^-128; one streaming scan, no hash table."""
    sums = "count(*), sum(sample_index::HUGEINT), sum(hash(sample_index)::HUGEINT), "
    sums += "sum(hash(sample_index, 'split-check')::HUGEINT)"
    return tuple(int(x or 0) for x in db.execute(f"SELECT {sums} FROM {source}").fetchall()[0])


def split_stats(
    db: duckdb.DuckDBPyConnection, tables: Mapping[str, str], features: str, target: str
) -> SplitStats:
    """core.quality.split_stats of stored tables: the engine counts every number. When the
    splits' ids are, as a multiset, the features' ids (fingerprints), there is no overlap
    and nothing missing or unknown (a repeated id is hashed into one split), so only a
    mismatch pays for the exact distinct count and joins that say what is wrong."""
    sizes = {name: _number(db, f"SELECT count(*) FROM {quote(t)}") for name, t in tables.items()}
    rows = _number(db, f"SELECT count(*) FROM {quote(features)}")
    overlaps: dict[str, int] = {}
    missing = unknown = 0
    if fingerprint(db, f"({_union(tables)})") != fingerprint(db, quote(features)):
        overlaps, missing, unknown = _coverage(db, tables, features, sizes, rows)
    return SplitStats(
        sizes=sizes,
        overlaps=overlaps,
        missing=missing,
        unknown=unknown,
        feature_rows=rows,
        class_counts=class_counts(db, features, target),
        split_class_counts={name: class_counts(db, t, target) for name, t in tables.items()},
    )


def _coverage(
    db: duckdb.DuckDBPyConnection, tables: Mapping[str, str], features: str, sizes: dict, rows: int
) -> tuple[dict[str, int], int, int]:
    """(overlaps, missing, unknown) counted exactly, as core.quality.split_stats does."""
    distinct = _number(db, f"SELECT count(DISTINCT sample_index) FROM ({_union(tables)})")
    overlaps: dict[str, int] = {}
    if distinct < sum(sizes.values()):
        names = list(tables)
        for i, a in enumerate(names):
            for b in names[i + 1 :]:
                both = f"{quote(tables[a])} SEMI JOIN {quote(tables[b])} USING (sample_index)"
                shared = _number(db, f"SELECT count(DISTINCT sample_index) FROM {both}")
                if shared:
                    overlaps[f"{a}/{b}"] = shared
    outside = f"({_union(tables)}) ANTI JOIN {quote(features)} USING (sample_index)"
    unknown = _number(db, f"SELECT count(DISTINCT sample_index) FROM {outside}")
    return overlaps, rows - distinct + unknown, unknown


def _disjoint(plan: DatasetPlan, i: EngineSplits) -> Outcome:
    stats = split_stats(i.db, i.tables, i.features, plan.spec.target)
    return splits_outcome(stats, plan.spec.split.as_dict(), hashed=True)


def _stability(plan: DatasetPlan, i: EngineSplits) -> Outcome:
    """This run's splits against the published ones (joined in the engine)."""
    published = {name: plan.table(name) for name in SPLITS}
    stored = {r[0] for r in i.db.execute("SELECT table_name FROM information_schema.tables").fetchall()}
    if not set(published.values()) <= stored:
        return Outcome(True, "no published splits to compare with", severity=WARN)
    moved, kept = moves(i.db, published, i.tables)
    return stability_outcome(moved, kept, i.definition, i.published_definition, True)


def moves(
    db: duckdb.DuckDBPyConnection, published: Mapping[str, str], current: Mapping[str, str]
) -> tuple[dict[str, int], int]:
    """("from->to" -> rows that changed split, rows published). When every split holds the
    same ids as its published version (fingerprints), nothing moved; only then is the join
    of every published row with every current one skipped."""
    kept = _number(db, f"SELECT count(*) FROM ({_union(published)})")
    if all(fingerprint(db, quote(published[n])) == fingerprint(db, quote(current[n])) for n in current):
        return {}, kept
    found = db.execute(
        f"SELECT p.split || '->' || c.split, count(*) FROM ({_union(published)}) p "
        f"JOIN ({_union(current)}) c USING (sample_index) WHERE p.split <> c.split GROUP BY 1 ORDER BY 1"
    ).fetchall()
    return dict(found), kept


def _distribution(plan: DatasetPlan, i: EngineSplits) -> Outcome:
    train, test = TableColumns(i.db, i.tables["train"]), TableColumns(i.db, i.tables["test"])
    names = plan.features_of(column_types(i.db, i.tables["train"]))
    return check_split_distribution(train, test, names, plan.spec.quality.split_psi_threshold)


IN_DATABASE = {
    "splits_disjoint_complete_stratified": _disjoint,
    "splits_stable": _stability,
    "train_test_distribution": _distribution,
}
