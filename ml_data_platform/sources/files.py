"""Read CSV and Parquet sources through Arrow, refusing what would be silently wrong.

pandas' CSV reader renames a repeated header (`x`, `x.1`), fills short rows with NaN, turns
an extra leading field into the index, and its Parquet reader hands pyarrow a Python file
object, which can abort the process at exit (apache/arrow#50482). Arrow reads by path, counts
every row's fields and keeps the header as it is, so each of those becomes one clear error
naming the dataset, the file, the column or line, and the fix.
"""

from __future__ import annotations

import codecs
import csv
import difflib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

SNIFF_BYTES = 8192
OTHER_DELIMITERS = (";", "\t", "|", ",")
EXAMPLES = 3


class SourceError(ValueError):
    """The source could not be read as declared."""


@dataclass(frozen=True)
class FileReading:
    """How to read one dataset's files, and what it needs from them."""

    dataset: str
    format: str  # "csv" or "parquet"
    delimiter: str = ","
    encoding: str = "utf-8"
    text_columns: tuple[str, ...] = ()  # read as text whatever they look like ("007" stays)
    required: tuple[str, ...] = ()  # columns the catalog names: target, id, declared features
    columns: tuple[str, ...] | None = None  # read only these (None: every column)

    def fail(self, path: Path, problem: str) -> SourceError:
        return SourceError(f"dataset {self.dataset!r}: {path} {problem}")


def _sniff(reading: FileReading, path: Path) -> None:
    """Refuse a file that is not text in the declared encoding, naming what it looks like."""
    with path.open("rb") as handle:
        head = handle.read(SNIFF_BYTES)
    if reading.format == "parquet":
        if not head.startswith(b"PAR1"):
            hint = " it looks like CSV text: set source.format: csv" if b"\0" not in head else ""
            raise reading.fail(path, f"is not a Parquet file (no PAR1 header);{hint or ' check the file'}")
        return
    kinds = {
        b"PAR1": "a Parquet file: set source.format: parquet",
        b"PK\x03\x04": "a zip or Excel file: save it as CSV",
        b"\x1f\x8b": "gzip-compressed: decompress it first",
    }
    for magic, kind in kinds.items():
        if head.startswith(magic):
            raise reading.fail(path, f"is not CSV text; it is {kind}")
    wide = reading.encoding.lower().replace("-", "").startswith(("utf16", "utf32"))  # NUL bytes are text
    if b"\0" in head and not wide:
        raise reading.fail(path, "is not CSV text (it holds binary data); point source.path at a CSV file")
    try:
        codecs.getincrementaldecoder(reading.encoding)().decode(head, final=False)
    except UnicodeDecodeError as error:
        raise reading.fail(path, "is " + _encoding_problem(reading, error.start)) from None


def _encoding_problem(reading: FileReading, offset: int | None = None) -> str:
    where = f" (byte offset {offset})" if offset is not None else ""
    other = "latin-1" if reading.encoding.lower().replace("-", "") == "utf8" else "utf-8"
    return f"not valid {reading.encoding} text{where}: set source.encoding in the catalog (e.g. {other})"


def header(reading: FileReading, path: Path) -> list[str]:
    """The file's column names as written, refused when repeated or empty."""
    _sniff(reading, path)
    if reading.format == "parquet":
        try:
            names = list(pq.read_schema(path).names)
        except (pa.ArrowException, OSError) as error:
            raise reading.fail(path, f"is not a readable Parquet file ({error})") from None
    else:
        names = _names(path, reading)
        if not names:
            raise reading.fail(path, "is empty: it has no header row")
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise reading.fail(path, f"repeats column name(s) {repeated}; give every column its own name")
    unnamed = [i + 1 for i, n in enumerate(names) if not n.strip()]
    if unnamed:
        raise reading.fail(
            path,
            f"has column(s) with no name at position {unnamed} (a CSV saved with its index?); name "
            "them or remove them",
        )
    return names


def require_columns(reading: FileReading, path: Path, names: Sequence[str]) -> None:
    """Every column the catalog names is in the file; else say which, and the likely cause."""
    missing = [c for c in reading.required if c not in names]
    if not missing:
        return
    hints = []
    if reading.format == "csv" and len(names) == 1:
        found = [d for d in OTHER_DELIMITERS if d != reading.delimiter and d in names[0]]
        if found:
            shown = "\\t" if found[0] == "\t" else found[0]
            hints.append(
                f"the file looks '{shown}'-separated: set source.delimiter: '{shown}' in the catalog"
            )
    for column in missing if not hints else []:  # a wrong delimiter explains every miss
        close = difflib.get_close_matches(column, names, n=1, cutoff=0.6) or [
            n for n in names if n.strip().lower() == column.lower()
        ]
        if close:
            hints.append(f"{column!r} may be the file's {close[0]!r}")
    shown = list(names) if len(names) <= 12 else [*names[:12], f"… {len(names) - 12} more"]
    fix = "; ".join(hints) if hints else "fix the file or the catalog's target/id_column/feature_columns"
    raise reading.fail(path, f"lacks column(s) {missing} that the catalog names (it has {shown}); {fix}")


def _ragged_rows(reading: FileReading, path: Path, expected: int) -> SourceError:
    """Name the lines whose field count is not the header's (a second, single-threaded pass:
    only it numbers the lines)."""
    bad: list[pacsv.InvalidRow] = []

    def collect(row: pacsv.InvalidRow) -> str:
        bad.append(row)
        return "skip"

    pacsv.read_csv(
        path,
        read_options=pacsv.ReadOptions(encoding=reading.encoding, use_threads=False),
        parse_options=pacsv.ParseOptions(delimiter=reading.delimiter, invalid_row_handler=collect),
        convert_options=pacsv.ConvertOptions(column_types=dict.fromkeys(_names(path, reading), pa.string())),
    )
    lines = ", ".join(f"line {r.number} has {r.actual_columns}" for r in bad[:EXAMPLES])
    return reading.fail(
        path,
        f"has {len(bad)} row(s) without the header's {expected} fields ({lines}; e.g. {bad[0].text!r}); "
        "fix those rows (an unquoted delimiter inside a value?) or set source.delimiter",
    )


def _names(path: Path, reading: FileReading) -> list[str]:
    encoding = "utf-8-sig" if reading.encoding.lower().replace("-", "") == "utf8" else reading.encoding
    with path.open(newline="", encoding=encoding, errors="replace") as handle:
        return next(csv.reader(handle, delimiter=reading.delimiter), [])


def _read_csv(reading: FileReading, path: Path) -> pa.Table:
    ragged = 0

    def count(row: pacsv.InvalidRow) -> str:
        nonlocal ragged
        ragged += 1
        return "skip"

    try:
        table = pacsv.read_csv(
            path,
            read_options=pacsv.ReadOptions(encoding=reading.encoding),
            parse_options=pacsv.ParseOptions(delimiter=reading.delimiter, invalid_row_handler=count),
            convert_options=pacsv.ConvertOptions(
                column_types=dict.fromkeys(reading.text_columns, pa.string()),
                strings_can_be_null=True,
                include_columns=list(reading.columns) if reading.columns else None,
            ),
        )
    except (pa.ArrowInvalid, UnicodeDecodeError) as error:
        if "UTF8" in str(error) or isinstance(error, UnicodeDecodeError):
            raise reading.fail(path, "is " + _encoding_problem(reading)) from None
        raise reading.fail(
            path, f"cannot be parsed as CSV ({error}); fix the file or set source.format"
        ) from None
    if ragged:
        raise _ragged_rows(reading, path, len(_names(path, reading)))
    temporal = [f.name for f in table.schema if pa.types.is_temporal(f.type)]
    if temporal:  # keep dates and times as the text the file holds, as pandas did
        types = {**dict.fromkeys(reading.text_columns, pa.string()), **dict.fromkeys(temporal, pa.string())}
        table = pacsv.read_csv(
            path,
            read_options=pacsv.ReadOptions(encoding=reading.encoding),
            parse_options=pacsv.ParseOptions(delimiter=reading.delimiter),
            convert_options=pacsv.ConvertOptions(
                column_types=types,
                strings_can_be_null=True,
                include_columns=list(reading.columns) if reading.columns else None,
            ),
        )
    return table


def _plain_columns(reading: FileReading, path: Path, table: pa.Table) -> pa.Table:
    """One plain value per cell: categories decoded, decimals as floats, all-empty columns as
    float NaN (as pandas reads them); refuse lists/structs and undecodable bytes."""
    nested = [f.name for f in table.schema if pa.types.is_nested(f.type)]
    if nested:
        raise reading.fail(
            path,
            f"has column(s) {nested} holding lists or structs, not one value per cell; flatten them in the "
            "source or leave them out by listing feature_columns",
        )
    binary = [f.name for f in table.schema if pa.types.is_binary(f.type) or pa.types.is_large_binary(f.type)]
    if binary:
        problem = (
            "are " + _encoding_problem(reading) if reading.format == "csv" else "hold raw bytes, not text"
        )
        raise reading.fail(path, f"has column(s) {binary} that {problem}")
    for index, field in enumerate(table.schema):
        kind = field.type
        if pa.types.is_dictionary(kind):
            target = kind.value_type
        elif pa.types.is_decimal(kind):
            target = pa.float64()
        elif pa.types.is_null(kind):
            target = pa.string() if field.name in reading.text_columns else pa.float64()
        elif pa.types.is_temporal(kind):
            target = pa.string()
        else:
            continue
        table = table.set_column(index, field.name, table.column(index).cast(target))
    return table


def read_table(reading: FileReading, path: Path) -> pa.Table:
    """One file as Arrow, by path (never a Python file object: see the module docstring)."""
    if reading.format == "csv":
        table = _read_csv(reading, path)
    else:
        try:
            table = pq.read_table(path, columns=list(reading.columns) if reading.columns else None)
        except (pa.ArrowException, OSError) as error:
            raise reading.fail(path, f"is not a readable Parquet file ({error})") from None
    return _plain_columns(reading, path, table)


def read_files(reading: FileReading, files: Sequence[Path]) -> pd.DataFrame:
    """The files' rows as one frame; files read together must share their columns."""
    first: list[str] | None = None
    for file in files:
        if file.stat().st_size == 0:
            raise reading.fail(file, "is empty")
        names = header(reading, file)
        require_columns(reading, file, names)
        if first is None:
            first = names
        elif names != first:
            raise reading.fail(
                file,
                f"has columns {names}, but {files[0].name} has {first}; files read together must "
                "share their columns",
            )
    tables = [read_table(reading, file) for file in files]
    table = tables[0] if len(tables) == 1 else pa.concat_tables(tables, promote_options="permissive")
    if table.num_rows == 0:
        raise reading.fail(files[0], "has no rows" if len(files) == 1 else "these files hold no rows")
    return table.to_pandas()
