"""Write, audit, publish for exports: each run writes its files into a version folder of its
own beside `exports/<dataset>`, which is a symlink; publishing swaps the link to the audited
folder in one rename, so readers see the complete old set or the complete new one.

  .<dataset>.v-<time>-<run>            a version; `staged.json` in it while it awaits audit
  .<dataset>.quarantine-<run>          rejected by its checks; `quarantine.json` says why
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import socket
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from ml_data_platform.storage.exports import WRITERS, LazyFrame, ensure_inside, fsync_dir, write_version
from ml_data_platform.storage.versions import QUARANTINED, STAGED, Version, run_process_id, run_tag

STAGED_MARK = "staged.json"
QUARANTINE_MARK = "quarantine.json"


@contextmanager
def publishing_lock(out_dir: Path) -> Iterator[None]:
    """One publisher per dataset across processes (released by the OS if the writer dies):
    a run publishes its tables and its export under it, so two runs finishing together do
    not leave one's tables beside the other's export."""
    link = Path(os.path.abspath(out_dir))
    link.parent.mkdir(parents=True, exist_ok=True)
    with (link.parent / f".{link.name}.lock").open("a") as handle:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


def _versions(link: Path) -> list[Path]:
    return [p for p in link.parent.glob(f".{link.name}.v-*") if p.is_dir() and not p.is_symlink()]


def _swap_link(link: Path, version: Path) -> None:
    """Point `link` at `version` with one rename, so readers see the old set or the new one."""
    staged = link.parent / f".{link.name}.link-{uuid.uuid4().hex[:8]}"
    os.symlink(version.name, staged)
    if link.exists() and not link.is_symlink():  # a plain folder from an older layout
        os.rename(link, link.parent / f".{link.name}.v-legacy-{uuid.uuid4().hex[:8]}")
    os.replace(staged, link)
    fsync_dir(link.parent)


def _mark(folder: Path, name: str, record: Mapping[str, Any]) -> None:
    (folder / name).write_text(json.dumps(record, default=str))


def _version_of(folder: Path, mark: str, state: str) -> Version | None:
    try:
        record = json.loads((folder / mark).read_text())
    except (OSError, json.JSONDecodeError):
        return None
    return Version(
        name=folder.name,
        base=record.get("dataset", ""),
        state=state,
        run_id=record["run_id"],
        created_at=datetime.fromisoformat(record["created_at"]),
        host=record["host"],
        pid=int(record["pid"]),
        details=record.get("details", {}),
    )


def stage_exports(
    splits: Mapping[str, LazyFrame],
    out_dir: Path,
    data_dir: Path,
    lineage: Mapping[str, Any],
    run_id: str,
    model_ready: Mapping[str, LazyFrame] | None = None,
    writers: int = WRITERS,
) -> tuple[dict[str, Any], Path]:
    """Write every split (and model-ready file) and the manifest into a new version folder
    that nobody reads until it is published (`writers` files at a time). Returns the
    manifest and the folder."""
    link = Path(os.path.abspath(out_dir))
    ensure_inside(link.parent, data_dir)
    link.parent.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%f")
    version = link.parent / f".{link.name}.v-{stamp}-{run_tag(run_id)}"
    record = {
        "dataset": link.name,
        "run_id": run_id,
        "created_at": datetime.now(UTC).isoformat(),
        "host": socket.gethostname(),
        "pid": run_process_id(),
    }
    # The folder appears under its version name with its staged mark already in it: a
    # concurrent run's publish removes version folders without one as superseded.
    fresh = link.parent / f".{link.name}.new-{uuid.uuid4().hex[:12]}"
    fresh.mkdir()
    _mark(fresh, STAGED_MARK, record)
    os.rename(fresh, version)
    try:
        manifest = write_version(splits, model_ready or {}, version, lineage, writers)
    except BaseException:
        shutil.rmtree(version, ignore_errors=True)
        raise
    return manifest, version


def staged_export(out_dir: Path, run_id: str) -> Path | None:
    """The version folder run `run_id` staged for this dataset and nobody has published."""
    link = Path(os.path.abspath(out_dir))
    found = [p for p in _versions(link) if p.name.endswith(run_tag(run_id)) and (p / STAGED_MARK).is_file()]
    return found[-1] if found else None


def quarantine_folder(out_dir: Path, run_id: str) -> Path:
    link = Path(os.path.abspath(out_dir))
    return link.parent / f".{link.name}.quarantine-{run_tag(run_id)}"


def publish_export(
    out_dir: Path, version: Path, staging_ttl: timedelta = timedelta(hours=24), locked: bool = False
) -> None:
    """Swap the link to `version`, then remove superseded versions and abandoned staged ones
    (a staged folder whose writer is still alive belongs to a concurrent run: kept).
    `locked`: the caller holds publishing_lock already."""
    if not locked:
        with publishing_lock(out_dir):
            return publish_export(out_dir, version, staging_ttl, locked=True)
    link = Path(os.path.abspath(out_dir))
    (version / STAGED_MARK).unlink(missing_ok=True)
    fsync_dir(version)
    _swap_link(link, version)
    now = datetime.now(UTC)
    for other in _versions(link):
        if other == version:
            continue
        staged = _version_of(other, STAGED_MARK, STAGED)
        if staged is None or staged.writer_is_gone(now, staging_ttl):
            shutil.rmtree(other, ignore_errors=True)


def quarantine_export(out_dir: Path, version: Path, details: Mapping[str, Any]) -> Path:
    """Keep a rejected version folder, with why, under a name no reader follows."""
    link = Path(os.path.abspath(out_dir))
    record = json.loads((version / STAGED_MARK).read_text())
    target = quarantine_folder(link, record["run_id"])
    shutil.rmtree(target, ignore_errors=True)
    record.update(created_at=datetime.now(UTC).isoformat(), details=dict(details))
    _mark(version, QUARANTINE_MARK, record)
    (version / STAGED_MARK).unlink()
    os.rename(version, target)
    return target


def quarantined_exports(exports_dir: Path) -> list[Version]:
    """Every quarantined export version under `exports_dir`, oldest first."""
    found = [
        v
        for folder in sorted(exports_dir.glob(".*.quarantine-*"))
        if folder.is_dir() and (v := _version_of(folder, QUARANTINE_MARK, QUARANTINED))
    ]
    return sorted(found, key=lambda v: v.created_at)


def release_export(exports_dir: Path, name: str, locked: bool = False) -> Version:
    """Publish a quarantined version on purpose (`locked`: the caller holds publishing_lock)."""
    folder = exports_dir / name
    version = _version_of(folder, QUARANTINE_MARK, QUARANTINED)
    if version is None:
        raise LookupError(f"no quarantined export named {name!r} in {exports_dir}")
    link = exports_dir / version.base
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%f")
    target = exports_dir / f".{version.base}.v-{stamp}-{run_tag(version.run_id)}"
    os.rename(folder, target)
    (target / QUARANTINE_MARK).unlink()
    publish_export(link, target, locked=locked)
    return version


def drop_export(exports_dir: Path, name: str) -> Version:
    folder = exports_dir / name
    version = _version_of(folder, QUARANTINE_MARK, QUARANTINED)
    if version is None:
        raise LookupError(f"no quarantined export named {name!r} in {exports_dir}")
    shutil.rmtree(folder)
    return version


def prune_quarantined_exports(exports_dir: Path, retention: timedelta) -> list[str]:
    now = datetime.now(UTC)
    old = [v for v in quarantined_exports(exports_dir) if now - v.created_at > retention]
    for version in old:
        shutil.rmtree(exports_dir / version.name, ignore_errors=True)
    return [v.name for v in old]
