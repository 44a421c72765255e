"""The catalog file: YAML read, validated into DatasetSpecs, errors named by dataset and field,
file-source paths made absolute against the catalog's folder."""

from __future__ import annotations

from pathlib import Path

import yaml
from pydantic import Field, ValidationError, model_validator

from ml_data_platform.catalog.names import Strict
from ml_data_platform.catalog.sources import FileSource, SeedDatabaseSource
from ml_data_platform.catalog.spec import DatasetSpec


class CatalogError(ValueError):
    """The catalog file is missing or one of its dataset specs is invalid."""


class Catalog(Strict):
    datasets: list[DatasetSpec] = Field(min_length=1, description="The datasets to build.")

    @model_validator(mode="after")
    def _unique_names(self) -> Catalog:
        names = [d.name for d in self.datasets]
        duplicated = sorted({n for n in names if names.count(n) > 1})
        if duplicated:
            raise ValueError(f"dataset names must be unique; repeated: {', '.join(duplicated)}")
        return self

    def get(self, name: str) -> DatasetSpec:
        for spec in self.datasets:
            if spec.name == name:
                return spec
        raise KeyError(f"dataset {name!r} is not in the catalog; known: {', '.join(self.names())}")

    def names(self) -> list[str]:
        return [d.name for d in self.datasets]


def _describe(error: ValidationError, raw: dict) -> str:
    lines = []
    entries = raw.get("datasets") if isinstance(raw, dict) else None
    for item in error.errors():
        loc = list(item["loc"])
        where = ".".join(str(p) for p in loc)
        if len(loc) >= 2 and loc[0] == "datasets" and isinstance(loc[1], int) and entries:
            entry = entries[loc[1]] if loc[1] < len(entries) else {}
            name = entry.get("name", f"#{loc[1]}") if isinstance(entry, dict) else f"#{loc[1]}"
            field = ".".join(str(p) for p in loc[2:]) or "(spec)"
            where = f"dataset {name!r}, field {field}"
        lines.append(f"  - {where}: {item['msg']}")
    return "\n".join(lines)


def parse_catalog(raw: object, origin: str = "<catalog>") -> Catalog:
    if not isinstance(raw, dict):
        raise CatalogError(f"{origin}: expected a mapping with a 'datasets' list at the top level")
    try:
        return Catalog.model_validate(raw)
    except ValidationError as error:
        raise CatalogError(f"{origin} is invalid:\n{_describe(error, raw)}") from None


def load_catalog(path: Path) -> Catalog:
    """Read and validate the catalog; file-source paths become absolute against its folder."""
    if not path.is_file():
        raise CatalogError(
            f"dataset catalog not found at {path}: create it (see README, 'The catalog') or set "
            "ML_PLATFORM_CATALOG to its path"
        )
    try:
        raw = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as error:
        raise CatalogError(f"{path} is not valid YAML: {error}") from None
    catalog = parse_catalog(raw, str(path))
    resolved = []
    for spec in catalog.datasets:
        if (
            isinstance(spec.source, FileSource | SeedDatabaseSource)
            and not Path(spec.source.path).is_absolute()
        ):
            source = spec.source.model_copy(update={"path": str((path.parent / spec.source.path).resolve())})
            spec = spec.model_copy(update={"source": source})
        resolved.append(spec)
    return catalog.model_copy(update={"datasets": resolved})
