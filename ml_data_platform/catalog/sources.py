"""Where a dataset's rows come from: synthetic generation, a CSV/Parquet file or folder, or a
database in the seed module's format."""

from __future__ import annotations

import codecs
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, field_validator, model_validator

from ml_data_platform.catalog.names import Strict


class SyntheticSource(Strict):
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


class SampleFiles(Strict):
    """Generated sample data for an empty landing folder (clearly marked: SAMPLE_* files)."""

    files: int = Field(3, ge=1, le=366, description="How many daily files to write.")
    rows_per_file: int = Field(500, ge=10, description="Rows in each file.")


class FileSource(Strict):
    """A CSV or Parquet file, or a folder of them read together (by name order); a relative
    path is resolved against the catalog's folder."""

    type: Literal["file"] = "file"
    path: str = Field(
        description="File or folder (absolute, or relative to datasets.yaml); a folder needs format."
    )
    format: FileFormat | None = Field(
        None, description="csv or parquet; inferred from the file suffix when omitted."
    )
    delimiter: str = Field(",", description="CSV field separator, one character (e.g. ';' or '\\t').")
    encoding: str = Field("utf-8", description="CSV text encoding (e.g. latin-1, cp1252, utf-16).")
    sample: SampleFiles | None = Field(
        None,
        description="Sample data: when the folder holds no files of its format, `ml-data-platform "
        "run` writes generated daily files (SAMPLE_*) into it first. Leave out for real data.",
    )

    @field_validator("delimiter")
    @classmethod
    def _one_character(cls, value: str) -> str:
        if len(value) != 1 or value in '"\r\n':
            raise ValueError(f"delimiter {value!r} must be one character other than a quote or newline")
        return value

    @field_validator("encoding")
    @classmethod
    def _known_encoding(cls, value: str) -> str:
        try:
            codecs.lookup(value)
        except LookupError:
            raise ValueError(
                f"encoding {value!r} is not a text encoding Python knows (e.g. utf-8, latin-1)"
            ) from None
        return value

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


class SeedDatabaseSource(Strict):
    """A SQLite database in the seed data module's format: `datasets` and `features` tables."""

    type: Literal["seed_sqlite"] = "seed_sqlite"
    path: str = Field(description="The .db file (absolute, or relative to datasets.yaml).")
    dataset_name: str = Field(description="Which row of the `datasets` table to read.")


Source = Annotated[SyntheticSource | FileSource | SeedDatabaseSource, Field(discriminator="type")]
