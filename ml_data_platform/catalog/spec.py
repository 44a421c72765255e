"""One dataset of the catalog (DatasetSpec): its source, split, policies and check
thresholds, validated across fields, and what it derives for the core (TableRules, label
codes, expected class shares, the identity column)."""

from __future__ import annotations

import math
from enum import StrEnum

from pydantic import Field, field_validator, model_validator

from ml_data_platform.catalog.execution import Execution, database_problems
from ml_data_platform.catalog.incremental import FreshnessSpec, PartitionBy, PartitionSpec, SplitMethod
from ml_data_platform.catalog.names import SPLITS, Strict, check_safe_name, safe_columns
from ml_data_platform.catalog.sources import FileSource, SeedDatabaseSource, Source, SyntheticSource
from ml_data_platform.core.rules import RESERVED_COLUMNS, TableRules


class SplitRatios(Strict):
    train: float = Field(0.7, gt=0, lt=1, description="Share of rows in the train split.")
    val: float = Field(0.15, gt=0, lt=1, description="Share of rows in the validation split.")
    test: float = Field(0.15, gt=0, lt=1, description="Share of rows in the test split.")
    method: SplitMethod = Field(
        SplitMethod.auto,
        description="hash: a keyed hash of each row's sample_index and the seed picks its split, so "
        "no row ever moves as data grows (class shares within 5 binomial std of the ratios); "
        "exact: a seeded per-class shuffle, class shares exact to one row but re-dealt when rows "
        "change; auto: hash when rows have an identity (id_column, seed database, partitions), "
        "else exact.",
    )

    @model_validator(mode="after")
    def _sums_to_one(self) -> SplitRatios:
        total = self.train + self.val + self.test
        if not math.isclose(total, 1.0, abs_tol=1e-9):
            raise ValueError(f"train + val + test = {total:g}, must sum to 1 (e.g. 0.7 / 0.15 / 0.15)")
        return self

    def as_dict(self) -> dict[str, float]:
        return {name: getattr(self, name) for name in SPLITS}


class QualitySpec(Strict):
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


class PreprocessingSpec(Strict):
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


class DatasetSpec(Strict):
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
    partitions: PartitionSpec | None = Field(
        None,
        description="Store raw and features per partition (per landing file, or per day of an "
        "event-time column); needs a file source and an id_column. None: one table per stage.",
    )
    freshness: FreshnessSpec | None = Field(
        None, description="How old the last published data may get before it is stale."
    )
    execution: Execution = Field(
        Execution.auto,
        description="Where the stages run: memory (pandas), database (SQL inside DuckDB, for data "
        "bigger than memory), or auto (the database for large sources on DuckDB storage).",
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
        return safe_columns(value, "feature_columns", "feature column")

    @field_validator("categorical_columns")
    @classmethod
    def _safe_categoricals(cls, value: list[str]) -> list[str]:
        return safe_columns(value, "categorical_columns", "categorical column")

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
        self._partitions_fit()
        problems = database_problems(self) if self.execution is Execution.database else []
        if problems:
            raise ValueError("execution: database: " + "; ".join(problems))
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

    def _partitions_fit(self) -> None:
        parts = self.partitions
        if parts is None:
            return
        if not isinstance(self.source, FileSource):
            raise ValueError("partitions need a file source (a landing folder of CSV or Parquet files)")
        if self.id_column is None:
            raise ValueError(
                "partitions need an id_column: a row's identity must be unique across partitions "
                "(row positions restart in every file)"
            )
        if self.split.method is SplitMethod.exact:
            raise ValueError(
                "split.method exact re-deals rows whenever a partition is added; partitioned "
                "datasets use hash (omit split.method)"
            )
        if parts.by is PartitionBy.day:
            named = {self.target, self.id_column, *(self.feature_columns or [])}
            if parts.column in named:
                raise ValueError(f"partition column {parts.column!r} is also the target, the id or a feature")

    def split_method(self) -> SplitMethod:
        """hash or exact: auto picks hash when rows carry an identity of their own."""
        if self.split.method is not SplitMethod.auto:
            return self.split.method
        return SplitMethod.exact if self.identity_column() is None else SplitMethod.hash

    def rules(self) -> TableRules:
        """What validation and the contracts need, as plain values for the pure core."""
        codes = self.target_codes()
        labels = self.declared_classes()
        return TableRules(
            dataset=self.name,
            target=self.target,
            feature_columns=tuple(self.feature_columns) if self.feature_columns is not None else None,
            categorical_columns=tuple(self.categorical_columns),
            label_mapping=self.label_mapping(),
            target_codes=tuple(codes) if codes is not None else None,
            declared_labels=tuple(labels) if labels is not None else None,
            feature_bounds=dict(self.quality.feature_bounds),
            drop_duplicates=self.on_duplicates is Policy.drop,
            drop_non_finite=self.on_non_finite is Policy.drop,
            partitioned=self.partitions is not None,
            extra_columns=(self.partitions.column,) if self.partitions and self.partitions.column else (),
        )

    def identity_column(self) -> str | None:
        """The source column whose values become sample_index: id_column, or a seed database's
        own sample_index; None means row positions 0..n-1."""
        if self.id_column is not None:
            return self.id_column
        return "sample_index" if isinstance(self.source, SeedDatabaseSource) else None

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
