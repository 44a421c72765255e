"""Published exports mirrored to object storage (`ML_PLATFORM_EXPORT_URL=s3://bucket/prefix`),
where no rename exists. A version is audited on local disk first (export_versions.py); at
publish its files go under a prefix of their own, the manifest last, and then one small
pointer object names it:

  <prefix>/<dataset>/versions/<stamp>-<run>/train.parquet, …, preprocessor.joblib, manifest.json
  <prefix>/<dataset>/CURRENT.json      {"version": "<stamp>-<run>", "published_at": …}

A single PUT replaces an object whole, so a reader that follows the pointer sees the old
version or the new one, never a mix; a writer killed before the pointer leaves the old one
published. Superseded versions stay readable for a retention period, then are pruned.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cached_property
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.fs as pafs
import pyarrow.parquet as pq

from ml_data_platform.settings import mask_password
from ml_data_platform.storage.exports import MANIFEST, ExportError

POINTER = "CURRENT.json"
VERSIONS = "versions"
_MARKS = {"staged.json", "quarantine.json"}  # local bookkeeping, never published
_STAMP = "%Y%m%dT%H%M%S%f"


def version_name(folder: Path) -> str:
    """`.<dataset>.v-<stamp>-<run>` -> `<stamp>-<run>`: the version's name in the bucket."""
    return folder.name.split(".v-", 1)[-1]


@dataclass(frozen=True)
class ObjectExports:
    url: str  # e.g. s3://bucket/prefix; credentials and endpoint come from the environment

    @cached_property
    def _fs(self) -> tuple[pafs.FileSystem, str]:
        """The filesystem and root path, resolved once (credentials and region included)."""
        try:
            filesystem, root = pafs.FileSystem.from_uri(self.url)
        except (pa.ArrowInvalid, ValueError, OSError) as error:
            raise ExportError(
                f"export URL {mask_password(self.url)} cannot be opened: {error}. Use e.g. "
                "s3://bucket/prefix (credentials and endpoint from AWS_* variables)"
            ) from None
        return filesystem, root.rstrip("/")

    def location(self, dataset: str) -> str:
        return f"{mask_password(self.url).rstrip('/')}/{dataset}"

    def upload(self, dataset: str, folder: Path, extra: Mapping[str, Path] | None = None) -> str:
        """Copy an audited version folder under its own prefix (data files and `extra` files
        under their given names, then the manifest), checking each object's size; nobody
        reads it until `point` names it."""
        try:
            return self._upload(dataset, folder, dict(extra or {}))
        except OSError as error:
            raise ExportError(
                f"dataset {dataset}: uploading its export to {self.location(dataset)} failed, so "
                f"nothing was published (the published tables and exports are kept): {error}. "
                "Check the bucket, the credentials (AWS_* variables) and the endpoint, then re-run"
            ) from None

    def _upload(self, dataset: str, folder: Path, extra: dict[str, Path]) -> str:
        filesystem, root = self._fs
        target = f"{root}/{dataset}/{VERSIONS}/{version_name(folder)}"
        files = {p.name: p for p in folder.iterdir() if p.is_file() and p.name not in _MARKS} | extra
        for name in sorted(files, key=lambda n: n == MANIFEST):
            path = files[name]
            destination = f"{target}/{name}"
            pafs.copy_files(str(path), destination, destination_filesystem=filesystem)
            stored = filesystem.get_file_info(destination).size
            if stored != path.stat().st_size:
                raise ExportError(
                    f"{self.location(dataset)}: {path.name} stored {stored} bytes of {path.stat().st_size}"
                )
        return version_name(folder)

    def point(self, dataset: str, version: str) -> None:
        """Publish `version`: one PUT of the pointer object."""
        filesystem, root = self._fs
        record = {"version": version, "published_at": datetime.now(UTC).isoformat()}
        with filesystem.open_output_stream(f"{root}/{dataset}/{POINTER}") as stream:
            stream.write(json.dumps(record).encode())

    def current(self, dataset: str) -> str | None:
        """The published version's name (None: never published here)."""
        filesystem, root = self._fs
        try:
            with filesystem.open_input_stream(f"{root}/{dataset}/{POINTER}") as stream:
                return json.loads(stream.read())["version"]
        except FileNotFoundError:
            return None

    def read_manifest(self, dataset: str) -> tuple[str, dict[str, Any]]:
        """The published version's name and its manifest."""
        version = self.current(dataset)
        if version is None:
            raise ExportError(f"no published export at {self.location(dataset)} ({POINTER} is missing)")
        filesystem, root = self._fs
        with filesystem.open_input_stream(f"{root}/{dataset}/{VERSIONS}/{version}/{MANIFEST}") as stream:
            return version, json.loads(stream.read())

    def read_file(self, dataset: str, version: str, file: str) -> pa.Table:
        """One file of `version` (the one whose manifest was read, not whatever is current now)."""
        filesystem, root = self._fs
        return pq.read_table(f"{root}/{dataset}/{VERSIONS}/{version}/{file}", filesystem=filesystem)

    def prune(self, dataset: str, retention: timedelta) -> list[str]:
        """Delete versions older than `retention` that the pointer does not name (a reader
        that opened one just before the pointer moved has that long to finish)."""
        filesystem, root = self._fs
        current = self.current(dataset)
        selector = pafs.FileSelector(f"{root}/{dataset}/{VERSIONS}", allow_not_found=True)
        now, pruned = datetime.now(UTC), []
        for info in filesystem.get_file_info(selector):
            name = info.base_name
            try:
                stamped = datetime.strptime(name.split("-", 1)[0], _STAMP).replace(tzinfo=UTC)
            except ValueError:
                continue  # not one of ours
            if name != current and now - stamped > retention:
                filesystem.delete_dir(info.path)
                pruned.append(name)
        return pruned
