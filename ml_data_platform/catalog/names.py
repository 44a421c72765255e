"""Names the catalog checks before they reach SQL or the file system, and the strict base
every catalog model shares."""

from __future__ import annotations

import re

from pydantic import BaseModel, ConfigDict

from ml_data_platform.core.rules import RESERVED_COLUMNS

SAFE_NAME = re.compile(r"^[a-z][a-z0-9_]*$")
SPLITS: tuple[str, ...] = ("train", "val", "test")


def check_safe_name(value: str, what: str) -> str:
    if not SAFE_NAME.fullmatch(value) or "__" in value:
        raise ValueError(
            f"{what} {value!r} is not a safe identifier: use lowercase letters, digits and single "
            "underscores, starting with a letter (e.g. 'churn_v2')"
        )
    return value


def safe_columns(value: list[str], field: str, what: str) -> list[str]:
    for column in value:
        check_safe_name(column, what)
        if column in RESERVED_COLUMNS:
            raise ValueError(f"{what} {column!r} is reserved by the platform")
    if len(set(value)) != len(value):
        raise ValueError(f"{field} lists a column twice")
    return value


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
