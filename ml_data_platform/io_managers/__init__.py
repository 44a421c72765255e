"""Table IO managers: one base owns naming and metadata, small subclasses own the SQL."""

from ml_data_platform.io_managers.base import (
    EmptyResultError,
    TableIOManager,
    TableNotFoundError,
    table_name_for,
)
from ml_data_platform.io_managers.duckdb import DuckDBTableIOManager
from ml_data_platform.io_managers.sqlite import SQLiteTableIOManager

__all__ = [
    "DuckDBTableIOManager",
    "EmptyResultError",
    "SQLiteTableIOManager",
    "TableIOManager",
    "TableNotFoundError",
    "table_name_for",
]
