"""The dataset catalog: `datasets.yaml` parsed into validated specs.

Every name that later becomes part of a table name or a path is checked here, so
nothing unsafe ever reaches SQL or the file system.
"""

from __future__ import annotations

import math
import re
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

SAFE_NAME = re.compile(r"^[a-z][a-z0-9_]*$")
SPLITS: tuple[str, ...] = ("train", "val", "test")
# Columns the platform adds to every table; a source may not bring its own.
RESERVED_COLUMNS: frozenset[str] = frozenset({"sample_index", "ingested_at", "event_timestamp"})


class CatalogError(ValueError):
    """The catalog file is missing or one of its dataset specs is invalid."""


def check_safe_name(value: str, what: str) -> str:
    if not SAFE_NAME.fullmatch(value) or "__" in value:
        raise ValueError(
            f"{what} {value!r} is not a safe identifier: use lowercase letters, digits and single "
            "underscores, starting with a letter (e.g. 'churn_v2')"
        )
    return value


def _safe_columns(value: list[str], field: str, what: str) -> list[str]:
    for column in value:
        check_safe_name(column, what)
        if column in RESERVED_COLUMNS:
            raise ValueError(f"{what} {column!r} is reserved by the platform")
    if len(set(value)) != len(value):
        raise ValueError(f"{field} lists a column twice")
    return value


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SyntheticSource(_Strict):
    """`sklearn.datasets.make_classification`, every parameter exposed; seeded by the spec's seed."""

    type: Literal["synthetic"] = "synthetic"
    n_samples: int = Field(1000, gt=0, description="Number of rows to generate.")
    n_features: int = Field(20, gt=0, description="Total number of feature columns.")
    n_informative: int = Field(10, gt=0, description="Features that carry class signal.")
    n_redundant: int = Field(5, ge=0, description="Linear combinations of informative features.")
    n_repeated: int = Field(0, ge=0, description="Duplicated informative/redundant features.")
    n_classes: int = Field(2, ge=2, description="Number of target classes (labels 0..n_classes-1).")
    n_clusters_per_class: int = Field(2, gt=0, description="Gaussian clusters per class.")
    weights: list[float] | None = Field(
        None, description="Class proportions (n_classes or n_classes-1 values); None = balanced."
    )
    flip_y: float = Field(0.01, ge=0, le=1, description="Fraction of labels flipped at random.")
    class_sep: float = Field(1.0, gt=0, description="Spread between class clusters.")
    hypercube: bool = Field(True, description="Place cluster centers on hypercube vertices.")
    shift: float = Field(0.0, description="Added to every feature.")
    scale: float = Field(1.0, gt=0, description="Multiplies every feature.")
    shuffle: bool = Field(True, description="Shuffle rows and features.")

    @model_validator(mode="after")
    def _feasible(self) -> SyntheticSource:
        used = self.n_informative + self.n_redundant + self.n_repeated
        if used > self.n_features:
            raise ValueError(
                f"n_informative + n_redundant + n_repeated = {used} exceeds n_features = "
                f"{self.n_features}: raise n_features or lower the others"
            )
        if self.n_classes * self.n_clusters_per_class > 2**self.n_informative:
            raise ValueError(
                f"n_classes * n_clusters_per_class = {self.n_classes * self.n_clusters_per_class} "
                f"must be <= 2**n_informative = {2**self.n_informative}"
            )
        if self.weights is not None:
            if len(self.weights) not in (self.n_classes, self.n_classes - 1):
                raise ValueError(
                    f"weights has {len(self.weights)} values; give n_classes ({self.n_classes}) "
                    f"or n_classes - 1 values"
                )
            if any(w < 0 for w in self.weights) or sum(self.weights) > 1 + 1e-9:
                raise ValueError("weights must be non-negative and sum to at most 1")
        return self

    def declared_classes(self) -> list[int]:
        return list(range(self.n_classes))


class FileFormat(StrEnum):
    csv = "csv"
    parquet = "parquet"


class FileSource(_Strict):
    """A CSV or Parquet file, or a folder of them read together (by name order); a relative
    path is resolved against the catalog's folder."""

    type: Literal["file"] = "file"
    path: str = Field(
        description="File or folder (absolute, or relative to datasets.yaml); a folder needs format."
    )
    format: FileFormat | None = Field(
        None, description="csv or parquet; inferred from the file suffix when omitted."
    )

    @model_validator(mode="after")
    def _format_known(self) -> FileSource:
        if self.format is None:
            suffix = Path(self.path).suffix.lower().lstrip(".")
            if suffix not in FileFormat.__members__:
                raise ValueError(
                    f"cannot infer the format of {self.path!r} from its suffix; "
                    "set format: csv or format: parquet"
                )
            object.__setattr__(self, "format", FileFormat(suffix))
        return self


class SeedDatabaseSource(_Strict):
    """A SQLite database in the seed data module's format: `datasets` and `features` tables."""

    type: Literal["seed_sqlite"] = "seed_sqlite"
    path: str = Field(description="The .db file (absolute, or relative to datasets.yaml).")
    dataset_name: str = Field(description="Which row of the `datasets` table to read.")


Source = Annotated[SyntheticSource | FileSource | SeedDatabaseSource, Field(discriminator="type")]


class SplitRatios(_Strict):
    train: float = Field(0.7, gt=0, lt=1, description="Share of rows in the train split.")
    val: float = Field(0.15, gt=0, lt=1, description="Share of rows in the validation split.")
    test: float = Field(0.15, gt=0, lt=1, description="Share of rows in the test split.")

    @model_validator(mode="after")
    def _sums_to_one(self) -> SplitRatios:
        total = self.train + self.val + self.test
        if not math.isclose(total, 1.0, abs_tol=1e-9):
            raise ValueError(f"train + val + test = {total:g}, must sum to 1 (e.g. 0.7 / 0.15 / 0.15)")
        return self

    def as_dict(self) -> dict[str, float]:
        return {name: getattr(self, name) for name in SPLITS}


class QualitySpec(_Strict):
    """Thresholds of the data-quality checks; every check reports them beside what it saw."""

    dqs_threshold: float = Field(
        95.0, ge=0, le=100, description="Data quality score (valid rows / rows × 100) below this is an ERROR."
    )
    max_null_fraction: float = Field(
        0.05, ge=0, le=1, description="Largest share of nulls/non-finite values a raw column may hold."
    )
    feature_bounds: dict[str, tuple[float, float]] = Field(
        default_factory=dict, description="Declared [min, max] per feature; a value outside is an ERROR."
    )
    learned_bounds_margin: float = Field(
        4.0, ge=0, description="Learned bounds: previous min/max widened by this many std (WARN)."
    )
    class_weights: list[float] | None = Field(
        None,
        description="Expected share per class (sorted labels); default: the synthetic weights or balanced.",
    )
    class_balance_tolerance: float = Field(
        0.1, gt=0, le=1, description="Largest |observed - expected| class share before a WARN."
    )
    drift_psi_threshold: float = Field(
        0.2, gt=0, description="Population stability index per feature above this is a WARN."
    )
    split_psi_threshold: float = Field(
        0.25, gt=0, description="Train vs test PSI per feature above this is a WARN."
    )
    max_rows: int | None = Field(None, gt=0, description="Upper row-count bound for raw (None: none).")
    baseline_margin: float = Field(
        0.02, ge=0, le=1, description="Val accuracy the baseline model must add over the majority class."
    )

    @field_validator("feature_bounds")
    @classmethod
    def _ordered(cls, value: dict[str, tuple[float, float]]) -> dict[str, tuple[float, float]]:
        for column, (low, high) in value.items():
            if not low <= high:
                raise ValueError(f"feature_bounds[{column!r}]: min {low} is above max {high}")
        return value

    @field_validator("class_weights")
    @classmethod
    def _shares(cls, value: list[float] | None) -> list[float] | None:
        if value is not None and (any(w < 0 for w in value) or not math.isclose(sum(value), 1, abs_tol=1e-6)):
            raise ValueError("class_weights must be non-negative and sum to 1")
        return value


class PreprocessingSpec(_Strict):
    """How the `<ds>/preprocessor` asset encodes features (fitted on the train split only)."""

    max_categories: int = Field(
        20,
        ge=2,
        description="One-hot columns per categorical feature at most; rarer categories share one "
        "'infrequent' column, and categories unseen in train map there too (or to all zeros).",
    )


class Policy(StrEnum):
    drop = "drop"
    fail = "fail"


class DatasetSpec(_Strict):
    """One dataset of the catalog: where its rows come from and how they are validated and split."""

    name: str = Field(description="Safe identifier; prefixes every asset key and table name.")
    description: str = Field("", description="Shown on the assets in the Dagster UI.")
    source: Source = Field(description="Where the raw rows come from.")
    target: str = Field("target", description="Name of the class-label column (integer or text labels).")
    feature_columns: list[str] | None = Field(
        None, description="Feature columns in order; None = every source column but the target."
    )
    categorical_columns: list[str] = Field(
        default_factory=list,
        description="Feature columns holding categories (text, or numbers used as labels); they are "
        "kept as text and one-hot encoded by the preprocessor. Every other feature must be numeric.",
    )
    id_column: str | None = Field(
        None, description="Unique integer id column of the source; becomes sample_index (else 0..n-1)."
    )
    classes: list[int] | list[str] | None = Field(
        None,
        description="Allowed target labels: integers (used as codes) or strings (coded 0..k-1 in "
        "this order); synthetic sources default to 0..n_classes-1.",
    )
    split: SplitRatios = Field(default_factory=SplitRatios, description="Split ratios.")
    seed: int = Field(42, ge=0, description="Seeds generation and splitting: same seed, same rows.")
    min_rows: int = Field(
        10, ge=1, description="Fewest raw rows accepted (file sources; synthetic expects n_samples)."
    )
    on_duplicates: Policy = Field(
        Policy.drop, description="Rows with identical features and target: drop extras, or fail."
    )
    on_non_finite: Policy = Field(
        Policy.fail, description="Rows with NaN/inf in a feature or target: drop them, or fail."
    )
    quality: QualitySpec = Field(default_factory=QualitySpec, description="Quality-check thresholds.")
    preprocessing: PreprocessingSpec = Field(
        default_factory=PreprocessingSpec, description="Encoding settings of the preprocessor."
    )

    @field_validator("name")
    @classmethod
    def _safe_name(cls, value: str) -> str:
        return check_safe_name(value, "dataset name")

    @field_validator("target")
    @classmethod
    def _safe_target(cls, value: str) -> str:
        check_safe_name(value, "target column")
        if value in RESERVED_COLUMNS:
            raise ValueError(f"target column {value!r} is reserved by the platform")
        return value

    @field_validator("id_column")
    @classmethod
    def _safe_id(cls, value: str | None) -> str | None:
        if value is not None:
            check_safe_name(value, "id column")
            if value in RESERVED_COLUMNS:
                raise ValueError(f"id column {value!r} is reserved by the platform")
        return value

    @field_validator("feature_columns")
    @classmethod
    def _safe_features(cls, value: list[str] | None) -> list[str] | None:
        if value is None:
            return None
        if not value:
            raise ValueError("feature_columns is empty; list at least one column or omit it")
        return _safe_columns(value, "feature_columns", "feature column")

    @field_validator("categorical_columns")
    @classmethod
    def _safe_categoricals(cls, value: list[str]) -> list[str]:
        return _safe_columns(value, "categorical_columns", "categorical column")

    @model_validator(mode="after")
    def _consistent(self) -> DatasetSpec:
        if self.feature_columns and self.target in self.feature_columns:
            raise ValueError(f"target {self.target!r} is also listed in feature_columns")
        if self.id_column is not None and (
            self.id_column == self.target or self.id_column in (self.feature_columns or [])
        ):
            raise ValueError(f"id_column {self.id_column!r} is also the target or a feature")
        if self.categorical_columns:
            if self.target in self.categorical_columns or self.id_column in self.categorical_columns:
                raise ValueError("categorical_columns lists the target or the id column")
            outside = [c for c in self.categorical_columns if c not in (self.feature_columns or [c])]
            if outside:
                raise ValueError(f"categorical_columns {outside} are not in feature_columns; add them there")
            if isinstance(self.source, SyntheticSource):
                raise ValueError(
                    "categorical_columns needs a file or database source; synthetic rows are numeric"
                )
            bounded = sorted(set(self.quality.feature_bounds) & set(self.categorical_columns))
            if bounded:
                raise ValueError(f"quality.feature_bounds names categorical column(s) {bounded}")
        if self.id_column is not None and isinstance(self.source, SyntheticSource):
            raise ValueError("id_column needs a file or database source; synthetic rows have none")
        if isinstance(self.source, SyntheticSource):
            if self.classes is not None and sorted(self.classes) != self.source.declared_classes():
                raise ValueError(
                    f"classes {self.classes} disagree with the synthetic source's n_classes="
                    f"{self.source.n_classes}; omit classes or make them 0..n_classes-1"
                )
            if self.feature_columns is not None and len(self.feature_columns) != (self.source.n_features):
                raise ValueError("feature_columns must have n_features names for a synthetic source")
        if self.classes is not None and len(set(self.classes)) < 2:
            raise ValueError("classes must hold at least two distinct labels")
        declared = self.declared_classes()
        weights = self.quality.class_weights
        if weights is not None and declared is not None and len(weights) != len(declared):
            raise ValueError(f"quality.class_weights has {len(weights)} values for {len(declared)} classes")
        if self.feature_columns is not None:
            unknown = sorted(set(self.quality.feature_bounds) - set(self.feature_columns))
            if unknown:
                raise ValueError(f"quality.feature_bounds names unknown feature(s) {unknown}")
        return self

    def expected_class_shares(self) -> dict[int, float] | None:
        """Declared class weights, else the synthetic source's weights, else balanced."""
        classes = self.target_codes()
        if classes is None:
            return None
        weights = self.quality.class_weights
        source = self.source
        if weights is None and isinstance(source, SyntheticSource) and source.weights is not None:
            weights = list(source.weights)
            if len(weights) == len(classes) - 1:
                weights.append(1 - sum(weights))
        if weights is None:
            weights = [1 / len(classes)] * len(classes)
        return dict(zip(classes, weights, strict=True))

    def declared_classes(self) -> list[int] | list[str] | None:
        """Declared labels: integers sorted, strings in their declared (code) order."""
        if self.classes is not None:
            return sorted(self.classes) if self.label_mapping() is None else list(self.classes)
        if isinstance(self.source, SyntheticSource):
            return self.source.declared_classes()
        return None

    def label_mapping(self) -> dict[str, int] | None:
        """String labels -> integer codes, when the catalog declares string classes."""
        if self.classes and isinstance(self.classes[0], str):
            return {label: code for code, label in enumerate(self.classes)}
        return None

    def target_codes(self) -> list[int] | None:
        """The integer codes the feature table's target may hold."""
        mapping = self.label_mapping()
        return list(mapping.values()) if mapping else self.declared_classes()


class Catalog(_Strict):
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
