"""Staged and quarantined table versions on both backends, without a Dagster run: names,
publish and quarantine as one transaction each, what cleanup drops and what it keeps."""

import functools
import multiprocessing
import os
import socket
import subprocess
import sys
import uuid
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pandas as pd
import pytest

from ml_data_platform.definitions import table_io_manager
from ml_data_platform.settings import Settings, Storage
from ml_data_platform.storage import versions as v
from ml_data_platform_tests.conftest import ALL_BACKENDS, backend_settings

pytestmark = pytest.mark.fast

FRAME = pd.DataFrame({"a": [1.0, 2.0, 3.0], "target": [0, 1, 0]})


@functools.cache
def settings_in(tmp_path: Path, storage: Storage) -> Settings:
    """One database per test (a fresh one on the PostgreSQL server)."""
    return backend_settings(storage, tmp_path, tmp_path / "datasets.yaml")


def manager(tmp_path: Path, storage: Storage, quarantine_days: float = 14.0):
    return table_io_manager(replace(settings_in(tmp_path, storage), quarantine_days=quarantine_days))


def stage(store, table: str, frame: pd.DataFrame, run_id: str) -> v.Version:
    name, register = v.register_staged(table, run_id)
    store.write_table(name, frame, before=register)
    return store.version(name)


def a_dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_names_carry_the_table_and_the_run():
    run_id = "5214984f-44a0-4d0c-bccc-9d4bb274afb8"
    assert v.staged_name("ds__raw", run_id) == "staging__ds__raw__5214984f44a0"
    assert v.quarantine_name("ds__raw", run_id) == "quarantine__ds__raw__5214984f44a0"


@pytest.mark.parametrize("storage", ALL_BACKENDS, ids=[b.value for b in ALL_BACKENDS])
def test_publish_renames_the_staged_version_over_the_table(tmp_path: Path, storage: Storage):
    store = manager(tmp_path, storage)
    store.write_table("ds__raw", FRAME)
    run_id = str(uuid.uuid4())
    staged = stage(store, "ds__raw", FRAME.assign(a=[7.0, 8.0, 9.0]), run_id)
    assert store.read_table("ds__raw")["a"].tolist() == [1.0, 2.0, 3.0]  # untouched until published
    assert store.staged_in_run(run_id) == {"ds__raw": staged}
    store.publish([staged])
    assert store.read_table("ds__raw")["a"].tolist() == [7.0, 8.0, 9.0]
    assert store.versions() == []


@pytest.mark.parametrize("storage", ALL_BACKENDS, ids=[b.value for b in ALL_BACKENDS])
def test_quarantine_keeps_the_rows_and_why(tmp_path: Path, storage: Storage):
    store = manager(tmp_path, storage)
    store.write_table("ds__raw", FRAME)
    run_id = str(uuid.uuid4())
    staged = stage(store, "ds__raw", FRAME.head(1), run_id)
    [name] = store.quarantine([staged], {"failed_checks": {"raw_validates": "one class"}})
    assert store.read_table("ds__raw").equals(FRAME)
    assert store.read_table(name).equals(FRAME.head(1))
    kept = store.version(name)
    assert kept.state == v.QUARANTINED and kept.details["failed_checks"] == {"raw_validates": "one class"}
    store.release([name])
    assert store.read_table("ds__raw").equals(FRAME.head(1))
    with pytest.raises(v.VersionNotFoundError, match="quarantine list"):
        store.version(name)


@pytest.mark.parametrize("storage", ALL_BACKENDS, ids=[b.value for b in ALL_BACKENDS])
def test_cleanup_drops_what_nobody_will_publish_and_keeps_the_rest(tmp_path: Path, storage: Storage):
    store = manager(tmp_path, storage)
    alive = stage(store, "ds__raw", FRAME, str(uuid.uuid4()))  # this process: still running
    dead = stage(store, "ds__features", FRAME, str(uuid.uuid4()))
    store.execute([(f"UPDATE {v.LOG} SET pid = ? WHERE name = ?", (a_dead_pid(), dead.name))])
    rejected = stage(store, "ds__train", FRAME, str(uuid.uuid4()))
    [kept] = store.quarantine([rejected], {})
    assert store.clean_up() == [dead.name]
    assert {x.name for x in store.versions()} == {alive.name, kept}
    assert manager(tmp_path, storage, quarantine_days=0).clean_up() == [kept]  # past retention


def test_a_staged_version_on_another_host_waits_for_the_ttl():
    version = v.Version("n", "t", v.STAGED, "r", v.now_utc(), socket.gethostname() + "-other", 1, {})
    now = v.now_utc()
    assert not version.writer_is_gone(now, timedelta(hours=24))
    assert version.writer_is_gone(now + timedelta(hours=25), timedelta(hours=24))
    mine = replace(version, host=socket.gethostname(), pid=os.getpid())
    assert not mine.writer_is_gone(now, timedelta(hours=24))


def _report_run_process(queue) -> None:
    queue.put(v.run_process_id())


def test_a_step_worker_records_the_run_process_not_its_own():
    """Dagster's multiprocess executor starts each step through multiprocessing: the staged
    version must name the run's process, which outlives the step (else the next step's cleanup
    drops it mid-run as "writer gone")."""
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    worker = context.Process(target=_report_run_process, args=(queue,))
    worker.start()
    assert queue.get(timeout=120) == os.getpid()
    worker.join()
    assert v.run_process_id() == os.getpid()
