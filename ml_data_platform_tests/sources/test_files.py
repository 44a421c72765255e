"""Bad files get one clear error naming the dataset, the file, the column or line, and the fix."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from ml_data_platform.catalog import DatasetSpec
from ml_data_platform.sources.readers import SourceError, read_source

pytestmark = pytest.mark.fast


def spec_for(path: Path, **extra) -> DatasetSpec:
    source = {"type": "file", "path": str(path), **extra.pop("source", {})}
    return DatasetSpec.model_validate({"name": "ds", "source": source, **extra})


def write(path: Path, text: str | bytes) -> Path:
    path.write_bytes(text if isinstance(text, bytes) else text.encode())
    return path


def test_a_repeated_column_name_is_refused_not_renamed(tmp_path: Path):
    path = write(tmp_path / "rows.csv", "x,x,target\n1,2,0\n3,4,1\n")
    with pytest.raises(SourceError, match=r"dataset 'ds': .*rows.csv repeats column name\(s\) \['x'\]"):
        read_source(spec_for(path))
    table = pa.table([[1.0], [2.0], [0]], names=["x", "x", "target"])
    pq.write_table(table, tmp_path / "rows.parquet")
    with pytest.raises(SourceError, match=r"repeats column name\(s\) \['x'\]"):
        read_source(spec_for(tmp_path / "rows.parquet"))


def test_a_csv_saved_with_its_index_is_refused(tmp_path: Path):
    path = write(tmp_path / "rows.csv", ",a,target\n0,1.5,0\n1,2.5,1\n")
    with pytest.raises(SourceError, match=r"no name at position \[1\] \(a CSV saved with its index\?\)"):
        read_source(spec_for(path))


@pytest.mark.parametrize(("line", "fields"), [("4,5", 2), ("4,5,6,7", 4)])
def test_rows_without_the_headers_field_count_are_named_by_line(tmp_path: Path, line: str, fields: int):
    path = write(tmp_path / "rows.csv", f"a,b,target\n1,2,0\n{line}\n7,8,1\n")
    with pytest.raises(SourceError, match=rf"1 row\(s\) without the header's 3 fields \(line 3 has {fields}"):
        read_source(spec_for(path))


def test_a_semicolon_separated_file_is_recognized_and_readable_by_setting_the_delimiter(tmp_path: Path):
    path = write(tmp_path / "rows.csv", "a;b;label\n1,5;2;x\n3;4;y\n")
    with pytest.raises(SourceError, match=r"looks ';'-separated: set source.delimiter: ';'"):
        read_source(spec_for(path, target="label"))
    frame = read_source(spec_for(path, target="label", source={"delimiter": ";"}))
    assert frame.columns.tolist() == ["a", "b", "label"] and frame["b"].tolist() == [2, 4]


def test_a_latin1_file_needs_its_encoding_and_then_reads_exactly(tmp_path: Path):
    path = write(tmp_path / "rows.csv", "city,a,target\nZürich,1.5,0\nMálaga,2.5,1\n".encode("latin-1"))
    with pytest.raises(SourceError, match=r"not valid utf-8 text .*set source.encoding .*latin-1"):
        read_source(spec_for(path, categorical_columns=["city"], feature_columns=["city", "a"]))
    frame = read_source(
        spec_for(
            path, categorical_columns=["city"], feature_columns=["city", "a"], source={"encoding": "latin-1"}
        )
    )
    assert frame["city"].tolist() == ["Zürich", "Málaga"]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"PAR1\x00\x00", "it is a Parquet file: set source.format: parquet"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00IHDR", "is not CSV text \\(it holds binary data\\)"),
        (b"PK\x03\x04\x14\x00", "a zip or Excel file: save it as CSV"),
    ],
)
def test_a_file_that_is_not_csv_says_what_it_is(tmp_path: Path, content: bytes, message: str):
    with pytest.raises(SourceError, match=message):
        read_source(spec_for(write(tmp_path / "rows.csv", content)))


def test_a_missing_target_names_the_close_match(tmp_path: Path):
    path = write(tmp_path / "rows.csv", "a,Label\n1,0\n2,1\n")
    with pytest.raises(
        SourceError, match=r"lacks column\(s\) \['label'\] .*'label' may be the file's 'Label'"
    ):
        read_source(spec_for(path, target="label"))


def test_list_and_struct_columns_are_refused_unless_left_out(tmp_path: Path):
    table = pa.table({"a": [1.0, 2.0], "tags": [[1, 2], [3]], "meta": [{"k": 1}, {"k": 2}], "target": [0, 1]})
    pq.write_table(table, tmp_path / "rows.parquet")
    with pytest.raises(SourceError, match=r"column\(s\) \['tags', 'meta'\] holding lists or structs"):
        read_source(spec_for(tmp_path / "rows.parquet"))
    frame = read_source(spec_for(tmp_path / "rows.parquet", feature_columns=["a"]))
    assert frame.columns.tolist() == ["a", "target"]


def test_plain_values_come_out_of_parquet_categories_decimals_and_empty_columns(tmp_path: Path):
    import decimal

    table = pa.table(
        {
            "color": pa.array(["red", "blue"]).dictionary_encode(),
            "price": pa.array([decimal.Decimal("1.25"), decimal.Decimal("2.50")]),
            "empty": pa.array([None, None], type=pa.null()),
            "target": [0, 1],
        }
    )
    pq.write_table(table, tmp_path / "rows.parquet")
    frame = read_source(
        spec_for(
            tmp_path / "rows.parquet",
            categorical_columns=["color"],
            feature_columns=["color", "price", "empty"],
        )
    )
    assert frame["color"].tolist() == ["red", "blue"] and frame["price"].dtype == np.float64
    assert frame["empty"].dtype == np.float64 and frame["empty"].isna().all()


def test_dates_in_a_csv_stay_the_text_the_file_holds(tmp_path: Path):
    path = write(tmp_path / "rows.csv", "day,a,target\n2024-01-31,1.5,0\n2024-02-01,2.5,1\n")
    frame = read_source(spec_for(path))
    assert frame["day"].tolist() == ["2024-01-31", "2024-02-01"]


def test_csv_values_round_trip_exactly(tmp_path: Path):
    values = np.random.default_rng(0).normal(size=2000)
    pd.DataFrame({"a": values, "target": np.arange(2000) % 2}).to_csv(tmp_path / "rows.csv", index=False)
    np.testing.assert_array_equal(read_source(spec_for(tmp_path / "rows.csv"))["a"].to_numpy(), values)


def test_catalog_refuses_an_unknown_encoding_and_a_long_delimiter(tmp_path: Path):
    from ml_data_platform.catalog import CatalogError, parse_catalog

    for source, message in (
        ({"encoding": "klingon"}, "not a text encoding"),
        ({"delimiter": ";;"}, "one character"),
    ):
        entry = {"name": "ds", "source": {"type": "file", "path": "x.csv", **source}}
        with pytest.raises(CatalogError, match=message):
            parse_catalog({"datasets": [entry]})


def test_a_tab_separated_file_and_a_utf16_file(tmp_path: Path):
    tabbed = write(tmp_path / "tabs.csv", "a\tb\tlabel\n1\t2\t0\n3\t4\t1\n")
    with pytest.raises(SourceError, match=r"looks '\\t'-separated: set source.delimiter: '\\t'"):
        read_source(spec_for(tabbed, target="label"))
    wide = write(tmp_path / "wide.csv", "a,label\n1.5,0\n2.5,1\n".encode("utf-16"))
    frame = read_source(spec_for(wide, target="label", source={"encoding": "utf-16"}))
    assert frame["a"].tolist() == [1.5, 2.5]
