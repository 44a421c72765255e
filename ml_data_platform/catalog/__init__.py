"""The dataset catalog: `datasets.yaml` parsed into validated specs.

Every name that later becomes part of a table name or a path is checked here, so nothing
unsafe ever reaches SQL or the file system.
"""

from ml_data_platform.catalog.loading import Catalog, CatalogError, load_catalog, parse_catalog
from ml_data_platform.catalog.names import SAFE_NAME, SPLITS, check_safe_name
from ml_data_platform.catalog.sources import FileFormat, FileSource, SeedDatabaseSource, SyntheticSource
from ml_data_platform.catalog.spec import DatasetSpec, Policy, PreprocessingSpec, QualitySpec, SplitRatios
from ml_data_platform.core.rules import RESERVED_COLUMNS

__all__ = [
    "RESERVED_COLUMNS",
    "SAFE_NAME",
    "SPLITS",
    "Catalog",
    "CatalogError",
    "DatasetSpec",
    "FileFormat",
    "FileSource",
    "Policy",
    "PreprocessingSpec",
    "QualitySpec",
    "SeedDatabaseSource",
    "SplitRatios",
    "SyntheticSource",
    "check_safe_name",
    "load_catalog",
    "parse_catalog",
]
