"""Shared behaviour of the table IO managers: names from asset keys, metadata on every write."""

from __future__ import annotations

import re
from abc import abstractmethod

import dagster as dg
import pandas as pd
from pydantic import Field

from ml_data_platform.io_managers.columns import logical_type

_SAFE_PART = re.compile(r"^[a-z][a-z0-9_]*$")
PREVIEW_ROWS = 5


class TableNotFoundError(LookupError):
    """The table an input needs was never written."""


def table_name_for(asset_key: dg.AssetKey) -> str:
    """`classification_data/raw` -> `classification_data__raw`; refuses anything unsafe for SQL."""
    for part in asset_key.path:
        if not _SAFE_PART.fullmatch(part) or "__" in part:
            raise ValueError(
                f"asset key {asset_key.to_user_string()!r} has part {part!r}, which is not a safe "
                "table-name identifier ([a-z][a-z0-9_]*, no double underscore)"
            )
    return "__".join(asset_key.path)


def table_metadata(frame: pd.DataFrame, table_name: str) -> dict[str, object]:
    """The same keys on every backend, so Dagster's schema-change and bounds checks work on both."""
    columns = [
        dg.TableColumn(name=str(name), type=logical_type(str(name), frame[name]).name)
        for name in frame.columns
    ]
    preview = frame.head(PREVIEW_ROWS).to_markdown(index=False, floatfmt=".4g")
    return {
        "dagster/row_count": dg.MetadataValue.int(len(frame)),
        "dagster/column_schema": dg.TableSchema(columns=columns),
        "dagster/table_name": dg.MetadataValue.text(table_name),
        "preview": dg.MetadataValue.md(preview),
    }


class TableIOManager(dg.ConfigurableIOManager):
    """Stores each asset's DataFrame as one table; a new materialization replaces the old one."""

    database: str = Field(description="Path of the database file; its folder is created on demand.")

    @abstractmethod
    def write_table(self, table_name: str, frame: pd.DataFrame) -> None:
        """Replace `table_name` with `frame` in one transaction (old rows stay on any error)."""

    @abstractmethod
    def read_table(self, table_name: str) -> pd.DataFrame:
        """The table with the dtypes it was written with; TableNotFoundError when absent."""

    def handle_output(self, context: dg.OutputContext, obj: pd.DataFrame) -> None:
        if not isinstance(obj, pd.DataFrame):
            raise TypeError(
                f"{type(self).__name__} stores pandas DataFrames; asset "
                f"{context.asset_key.to_user_string()} returned {type(obj).__name__}"
            )
        table_name = table_name_for(context.asset_key)
        for name in obj.columns:  # fail on an unstorable column before touching the old table
            logical_type(str(name), obj[name])
        self.write_table(table_name, obj)
        context.add_output_metadata(table_metadata(obj, table_name))

    def load_input(self, context: dg.InputContext) -> pd.DataFrame:
        table_name = table_name_for(context.asset_key)
        try:
            return self.read_table(table_name)
        except TableNotFoundError:
            raise TableNotFoundError(
                f"table {table_name} is not in {self.database}: materialize "
                f"{context.asset_key.to_user_string()} first (e.g. dagster asset materialize "
                f"-m ml_data_platform.definitions --select '{context.asset_key.to_user_string()}')"
            ) from None
