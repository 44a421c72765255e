"""Resources the assets use, so they never read the environment themselves."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
from pydantic import Field

from ml_data_platform.catalog import check_safe_name
from ml_data_platform.storage.exports import ensure_inside
from ml_data_platform.storage.object_exports import ObjectExports


class ExportStore(dg.ConfigurableResource):
    """Where exports and fitted artifacts go: `<data_dir>/exports/<dataset>/`, `.../artifacts/`."""

    data_dir: str = Field(description="Root of all platform data; exports never leave it.")
    quarantine_days: float = Field(
        14.0,
        ge=0,
        description="How long a rejected (quarantined) export version is kept before a later "
        "export prunes it.",
    )

    export_url: str = Field(
        "",
        description="Object-storage URL (e.g. s3://bucket/prefix) every published export is also "
        "written to, behind a pointer object; empty: the data directory only.",
    )
    retention_days: float = Field(
        7.0,
        ge=0,
        description="How long a superseded export version stays readable in object storage.",
    )

    def remote(self) -> ObjectExports | None:
        return ObjectExports(self.export_url) if self.export_url else None

    @property
    def root(self) -> Path:
        return Path(self.data_dir).resolve()

    def artifact_path(self, dataset: str, name: str) -> Path:
        """`<root>/artifacts/<dataset>/<name>`, unresolved: serving loads it, and it is the
        symlink each publish swaps to the published run's file."""
        check_safe_name(dataset, "dataset name")
        return ensure_inside(self.root / "artifacts" / dataset, self.root) / name

    def dataset_dir(self, dataset: str) -> Path:
        """`<root>/exports/<dataset>`, unresolved: it is the symlink each export swaps."""
        check_safe_name(dataset, "dataset name")
        ensure_inside(self.root / "exports", self.root)
        return self.root / "exports" / dataset
