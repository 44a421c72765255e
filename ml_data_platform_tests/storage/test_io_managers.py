"""IO managers on both backends: exact round trips, replace-not-append, metadata, failure safety."""

import sqlite3
import threading
import uuid
from pathlib import Path

import dagster as dg
import duckdb
import numpy as np
import pandas as pd
import psycopg2
import pytest

from ml_data_platform.definitions import table_io_manager
from ml_data_platform.settings import Storage
from ml_data_platform.storage import versions as v
from ml_data_platform.storage.base import table_name_for
from ml_data_platform.storage.columns import UnsupportedColumnError
from ml_data_platform.storage.errors import StorageError, TableNotFoundError, TableTooWideError
from ml_data_platform_tests.conftest import ALL_BACKENDS, backend_settings

pytestmark = pytest.mark.fast  # storage round trips on both backends, in-process


def frame(n: int, offset: float = 0.0) -> pd.DataFrame:
    rng = np.random.default_rng(n)
    return pd.DataFrame(
        {
            "sample_index": np.arange(n, dtype=np.int64),
            "x": rng.normal(size=n) * 1e6 + offset,  # full-precision floats must survive exactly
            "tiny": np.array([5e-324, -0.0, 1.7976931348623157e308] * n)[:n],
            "flag": np.arange(n) % 2 == 0,
            "label": [f"c{i % 3}" if i % 4 else None for i in range(n)],
            "target": (np.arange(n) % 3).astype(np.int64),
            "ingested_at": pd.Series(
                pd.Timestamp("2026-11-22 10:11:12.123456", tz="UTC"), index=range(n)
            ).astype("datetime64[ns, UTC]"),
            "seen_at": pd.Series(  # distinct values and a missing one
                [
                    pd.Timestamp("2026-01-01", tz="UTC") + pd.Timedelta(microseconds=7 * i)
                    if i % 5
                    else pd.NaT
                    for i in range(n)
                ]
            ).astype("datetime64[ns, UTC]"),
        }
    )


@pytest.fixture(params=ALL_BACKENDS, ids=lambda s: s.value)
def storage(request) -> Storage:
    return request.param


def io_manager(tmp_path: Path, storage: Storage):
    return table_io_manager(backend_settings(storage, tmp_path, tmp_path / "datasets.yaml"))


def raw_rows(storage: Storage, database: str, table: str) -> list[tuple]:
    """The stored rows, read with the engine's own client (not through the IO manager)."""
    sql = f'SELECT sample_index, x FROM "{table}" ORDER BY 1'
    if storage is Storage.sqlite:
        with sqlite3.connect(database) as connection:
            return connection.execute(sql).fetchall()
    if storage is Storage.postgres:
        with psycopg2.connect(database) as connection, connection.cursor() as cursor:
            cursor.execute(sql)
            return cursor.fetchall()
    with duckdb.connect(database, read_only=True) as connection:
        return connection.execute(f'SELECT sample_index, x FROM "{table}" ORDER BY 1').fetchall()


def materialize(manager, value: pd.DataFrame) -> tuple[dg.ExecuteInProcessResult, pd.DataFrame]:
    """Write `value` as asset ds/stage, then read it back the way a downstream asset does."""
    seen = {}

    @dg.asset(key=["ds", "stage"])
    def stage() -> pd.DataFrame:
        return value

    @dg.asset(key=["ds", "reader"], ins={"stage": dg.AssetIn(key=["ds", "stage"])})
    def reader(stage: pd.DataFrame) -> None:
        seen["frame"] = stage

    result = dg.materialize([stage, reader], resources={"io_manager": manager})
    return result, seen["frame"]


def test_round_trip_is_exact(tmp_path: Path, storage: Storage):
    manager = io_manager(tmp_path, storage)
    original = frame(50)
    _, loaded = materialize(manager, original)
    pd.testing.assert_frame_equal(loaded, original, check_exact=True)


def test_second_materialization_replaces_not_appends(tmp_path: Path, storage: Storage):
    manager = io_manager(tmp_path, storage)
    materialize(manager, frame(40))
    _, loaded = materialize(manager, frame(25, offset=1.0))
    rows = raw_rows(storage, manager.database, "ds__stage")
    assert len(rows) == 25 and len(loaded) == 25
    assert rows[3][1] == frame(25, offset=1.0)["x"][3]


def test_every_write_records_the_same_metadata_keys(tmp_path: Path, storage: Storage):
    result, _ = materialize(io_manager(tmp_path, storage), frame(12))
    metadata = result.asset_materializations_for_node("ds__stage")[0].metadata
    assert metadata["dagster/row_count"].value == 12
    assert metadata["dagster/table_name"].value == "ds__stage"
    columns = {c.name: c.type for c in metadata["dagster/column_schema"].schema.columns}
    assert columns == {
        "sample_index": "int64",
        "x": "float64",
        "tiny": "float64",
        "flag": "bool",
        "label": "string",
        "target": "int64",
        "ingested_at": "datetime64[ns, UTC]",
        "seen_at": "datetime64[ns, UTC]",
    }
    preview = metadata["preview"].value.splitlines()
    assert "sample_index" in preview[0] and len(preview) == 2 + 5


def test_reordered_columns_are_stored_by_name(tmp_path: Path, storage: Storage):
    manager = io_manager(tmp_path, storage)
    materialize(manager, frame(10))
    reordered = frame(10)[["x", "sample_index", "target", "tiny", "flag", "label", "ingested_at", "seen_at"]]
    _, loaded = materialize(manager, reordered)
    pd.testing.assert_frame_equal(loaded, reordered)


def test_unstorable_column_fails_before_touching_the_old_table(tmp_path: Path, storage: Storage):
    manager = io_manager(tmp_path, storage)
    materialize(manager, frame(10))
    bad = frame(5).assign(span=pd.to_timedelta(np.arange(5), unit="s"))
    with pytest.raises(UnsupportedColumnError, match="column 'span' has dtype timedelta64"):
        materialize(manager, bad)
    assert len(raw_rows(storage, manager.database, "ds__stage")) == 10


def test_text_columns_must_hold_only_strings(tmp_path: Path, storage: Storage):
    manager = io_manager(tmp_path, storage)
    with pytest.raises(UnsupportedColumnError, match="column 'label' holds mixed"):
        materialize(manager, frame(5).assign(label=[1, "a", 2.5, None, "b"]))


class Crash(RuntimeError):
    pass


def test_failure_inside_the_write_rolls_back(tmp_path: Path, storage: Storage):
    """A crash after the new table is in place but before commit leaves the old rows."""
    base = type(io_manager(tmp_path, storage))

    class CrashAfterReplace(base):
        def _replace(self, connection, table_name, *args):
            super()._replace(connection, table_name, *args)
            raise Crash("injected after replace, before commit")

    manager = io_manager(tmp_path, storage)
    materialize(manager, frame(10))
    faulty = CrashAfterReplace(database=manager.database)
    with pytest.raises(Crash):
        faulty.write_table("ds__stage", frame(5))
    assert len(raw_rows(storage, faulty.database, "ds__stage")) == 10


def test_sqlite_rolls_back_an_engine_error_after_drop(tmp_path: Path):
    """SQLite column names are case-insensitive: CREATE fails after DROP already ran."""
    manager = io_manager(tmp_path, Storage.sqlite)
    materialize(manager, frame(10))
    with pytest.raises(Exception, match="duplicate column name"):
        manager.write_table("ds__stage", frame(5).assign(X=1.0))
    assert len(raw_rows(Storage.sqlite, manager.database, "ds__stage")) == 10


def test_missing_table_says_what_to_materialize(tmp_path: Path, storage: Storage):
    manager = io_manager(tmp_path, storage)
    materialize(manager, frame(3))
    context = dg.build_input_context(asset_key=dg.AssetKey(["other", "raw"]))
    with pytest.raises(TableNotFoundError, match="materialize other/raw first"):
        manager.load_input(context)


@pytest.mark.parametrize("path", [["Bad"], ["a", "b;drop"], ["a__b", "c"], ["x y"]])
def test_unsafe_asset_keys_never_become_table_names(path):
    with pytest.raises(ValueError, match="not a safe table-name identifier"):
        table_name_for(dg.AssetKey(path))


def test_same_run_readers_get_the_written_frame_without_a_read(tmp_path: Path, storage: Storage, monkeypatch):
    manager = io_manager(tmp_path, storage)
    reads = []
    original = type(manager).read_table
    monkeypatch.setattr(
        type(manager), "read_table", lambda self, name: reads.append(name) or original(self, name)
    )
    _, loaded = materialize(manager, frame(20))
    assert reads == []
    pd.testing.assert_frame_equal(loaded, frame(20))
    # a later run (here: a plain input context with no upstream run) reads from storage
    manager.load_input(dg.build_input_context(asset_key=dg.AssetKey(["ds", "stage"])))
    assert reads == ["ds__stage"]


def test_cache_can_be_turned_off(tmp_path: Path, storage: Storage, monkeypatch):
    database = io_manager(tmp_path, storage).database
    manager = type(io_manager(tmp_path, storage))(database=database, memory_cache_mb=0)
    reads = []
    original = type(manager).read_table
    monkeypatch.setattr(
        type(manager), "read_table", lambda self, name: reads.append(name) or original(self, name)
    )
    materialize(manager, frame(20))
    assert reads == ["ds__stage"]


def test_in_run_copy_is_dropped_after_its_last_reader_and_at_run_end(tmp_path: Path, monkeypatch):
    """`last_readers` names the op after which a table's in-run copy goes: a reader after it
    reads storage; every copy of the run is gone once the run ends."""
    manager = type(io_manager(tmp_path, Storage.duckdb))(
        database=str(tmp_path / "warehouse.duckdb"), last_readers={"ds__stage": "ds__first"}
    )
    reads = []
    original = type(manager).read_table
    monkeypatch.setattr(
        type(manager), "read_table", lambda self, name: reads.append(name) or original(self, name)
    )

    @dg.asset(key=["ds", "stage"])
    def stage() -> pd.DataFrame:
        return frame(20)

    @dg.asset(key=["ds", "first"], ins={"stage": dg.AssetIn(key=["ds", "stage"])})
    def first(stage: pd.DataFrame) -> pd.DataFrame:
        assert reads == []  # handed over from memory
        return stage.head(5)

    @dg.asset(key=["ds", "second"], ins={"stage": dg.AssetIn(key=["ds", "first"])}, deps=[first])
    def second(stage: pd.DataFrame) -> None:
        return None

    @dg.asset(key=["ds", "late"], ins={"stage": dg.AssetIn(key=["ds", "stage"])}, deps=[second])
    def late(stage: pd.DataFrame) -> None:
        assert reads == ["ds__stage"]  # after its last reader: from storage
        pd.testing.assert_frame_equal(stage, frame(20))

    result = dg.materialize(
        [stage, first, second, late],
        resources={"io_manager": manager},
        selection=[dg.AssetKey(["ds", n]) for n in ("stage", "first", "second", "late")],
    )
    assert result.success


def test_a_table_wider_than_sqlite_allows_is_refused_with_the_fix(tmp_path: Path, storage: Storage):
    manager = io_manager(tmp_path, storage)
    materialize(manager, frame(10))
    wide = pd.DataFrame(np.ones((3, 2001)), columns=[f"c{i}" for i in range(2001)])
    if storage is Storage.duckdb:
        _, loaded = materialize(manager, wide)
        assert loaded.shape == (3, 2001)
        return
    limit = {
        Storage.sqlite: "2001 columns, more than SQLite's limit of 2000; use DuckDB",
        Storage.postgres: "2001 columns, more than PostgreSQL's limit of 1600; list fewer",
    }[storage]
    with pytest.raises(TableTooWideError, match=limit):
        materialize(manager, wide)
    assert len(raw_rows(storage, manager.database, "ds__stage")) == 10  # the old table stays


def test_an_engine_error_keeps_its_reason_not_the_statement(tmp_path: Path, storage: Storage):
    (tmp_path / "warehouse.sqlite").mkdir()  # a folder where the database file should be
    (tmp_path / "warehouse.duckdb").mkdir()
    manager = io_manager(tmp_path, storage)
    if storage is Storage.postgres:  # a database the server does not have, behind a password
        missing = manager.database.rsplit("/", 1)[0].replace("platform@", "platform:s3cret@") + "/nowhere"
        manager = type(manager)(database=missing)
    with pytest.raises(StorageError, match="asset ds/stage: writing table ds__stage to .* failed") as raised:
        materialize(manager, frame(5))
    assert len(str(raised.value)) < 600 and "s3cret" not in str(raised.value)


def test_engine_reason_drops_the_statement_an_engine_appends():
    from ml_data_platform.storage.errors import engine_reason

    error = Exception("[SQLite] too many columns on t\nquery: CREATE TABLE " + '"c0" REAL, ' * 5000)
    assert engine_reason(error) == "[SQLite] too many columns on t"
    assert len(engine_reason(Exception("x" * 1000))) == 300


def test_postgres_publishing_lock_holds_off_a_second_host(tmp_path: Path):
    """Runs on other hosts share only the server: its per-dataset advisory lock keeps a
    second publisher waiting (bounded by lock_timeout_s), and frees the dataset after."""
    first = io_manager(tmp_path, Storage.postgres)
    second = type(first)(database=first.database, lock_timeout_s=0.5)
    with first.publishing_lock("ds"):
        with pytest.raises(Exception, match="lock timeout"), second.publishing_lock("ds"):
            pass
        with second.publishing_lock("other"):  # another dataset is not held up
            pass
    with second.publishing_lock("ds"):
        pass


def test_postgres_refuses_names_it_would_cut_before_writing(tmp_path: Path):
    """PostgreSQL silently truncates identifiers past 63 bytes: two long column names could
    become one, a long table's staged and quarantined names could collide."""
    manager = io_manager(tmp_path, Storage.postgres)
    materialize(manager, frame(10))
    long_column = frame(5).assign(**{"x" * 64: 1.0})
    with pytest.raises(TableTooWideError, match="column names longer than PostgreSQL's 63 bytes"):
        materialize(manager, long_column)
    assert len(raw_rows(Storage.postgres, manager.database, "ds__stage")) == 10  # kept
    with pytest.raises(TableTooWideError, match="use a shorter dataset name"):
        manager.refuse_shape("a" * 28 + "/features", "a" * 28 + "__features", frame(5))
    manager.refuse_shape("a" * 27 + "/features", "a" * 27 + "__features", frame(5))  # fits


def test_postgres_reader_blocked_by_a_publish_sees_the_new_table(tmp_path: Path):
    """The README's claim: a reader that arrives while a publish swaps the table waits for
    the lock, then reads the new table (not an error about the dropped one)."""
    manager = io_manager(tmp_path, Storage.postgres)
    manager.write_table("ds__stage", frame(10))
    staged, register = v.register_staged("ds__stage", str(uuid.uuid4()))
    manager.write_table(staged, frame(4, offset=1.0), before=register)
    publisher = psycopg2.connect(manager.database)
    with publisher.cursor() as cursor:  # the publish, held open mid-transaction
        for sql, params in v.publish_statements(manager.version(staged), v.quote_identifier):
            cursor.execute(sql.replace("?", "%s"), params or None)
    seen: dict = {}
    reader = threading.Thread(target=lambda: seen.update(frame=manager.read_table("ds__stage")))
    reader.start()
    reader.join(timeout=1.0)
    assert reader.is_alive(), "the reader should wait for the publish's lock"
    publisher.commit()
    reader.join(timeout=30)
    publisher.close()
    pd.testing.assert_frame_equal(seen["frame"], frame(4, offset=1.0))
