"""Partitioned tables on every backend: a partition's rows are replaced in one transaction,
the others stay, readers of every partition get the union; keys are bound, never spliced."""

from pathlib import Path

import dagster as dg
import numpy as np
import pandas as pd
import pytest

from ml_data_platform.definitions import table_io_manager
from ml_data_platform.settings import Settings
from ml_data_platform.storage.partitions import PartitionError, check_partition_rows
from ml_data_platform_tests.conftest import ALL_BACKENDS, backend_settings

QUOTED = "it's'); DROP TABLE parts__rows; --"  # a key that would break spliced SQL
KEYS = ["a.csv", "b.csv", QUOTED]
PARTS = dg.StaticPartitionsDefinition(KEYS)

pytestmark = pytest.mark.fast  # in-process, small tables


def rows_for(key: str, version: int, extra_column: bool = False) -> pd.DataFrame:
    base = KEYS.index(key) * 1000
    frame = pd.DataFrame(
        {
            "sample_index": np.arange(base, base + 50, dtype=np.int64),
            "value": np.full(50, float(version)),
            "partition_key": key,
        }
    )
    return frame.assign(extra=1.0) if extra_column else frame


def definitions(settings: Settings, version: int, extra_column: bool = False) -> dg.Definitions:
    @dg.asset(key=["parts", "rows"], partitions_def=PARTS, backfill_policy=dg.BackfillPolicy.single_run())
    def rows(context: dg.AssetExecutionContext) -> pd.DataFrame:
        return pd.concat(
            [rows_for(k, version, extra_column) for k in context.partition_keys], ignore_index=True
        )

    @dg.asset(key=["parts", "union"], ins={"rows": dg.AssetIn(key=["parts", "rows"])})
    def union(rows: pd.DataFrame) -> pd.DataFrame:
        return rows.sort_values("sample_index", ignore_index=True)

    return dg.Definitions(assets=[rows, union], resources={"io_manager": table_io_manager(settings)})


def materialize(settings, instance, first, last, version, extra_column=False, with_union=True):
    defs = definitions(settings, version, extra_column)
    selection = ["parts/rows", "parts/union"] if with_union else ["parts/rows"]
    job = dg.define_asset_job("j", selection=selection, partitions_def=PARTS)
    defs = dg.Definitions.merge(defs, dg.Definitions(jobs=[job]))
    tags = {"dagster/asset_partition_range_start": first, "dagster/asset_partition_range_end": last}
    return defs.resolve_job_def("j").execute_in_process(instance=instance, tags=tags, raise_on_error=False)


@pytest.fixture(params=ALL_BACKENDS, ids=lambda s: s.value)
def settings(request, tmp_path: Path) -> Settings:
    return backend_settings(request.param, tmp_path / "data", tmp_path / "datasets.yaml")


def stored(settings: Settings, table: str = "parts__rows") -> pd.DataFrame:
    frame = table_io_manager(settings).read_table(table)
    return frame.sort_values("sample_index", ignore_index=True)


def test_rewriting_one_partition_replaces_exactly_its_rows(settings, instance):
    assert materialize(settings, instance, KEYS[0], KEYS[-1], version=1).success
    first = stored(settings)
    assert first.groupby("partition_key").size().to_dict() == dict.fromkeys(KEYS, 50)
    assert materialize(settings, instance, "a.csv", "a.csv", version=2).success
    after = stored(settings)
    assert len(after) == 150
    assert (after.loc[after["partition_key"] == "a.csv", "value"] == 2.0).all()
    untouched = after["partition_key"] != "a.csv"
    pd.testing.assert_frame_equal(
        after[untouched].reset_index(drop=True), first[untouched].reset_index(drop=True)
    )
    # the unpartitioned reader got every partition: the union as stored
    pd.testing.assert_frame_equal(stored(settings, "parts__union"), after)
    assert materialize(settings, instance, "a.csv", "a.csv", version=2).success  # twice: same rows
    pd.testing.assert_frame_equal(stored(settings), after)
    tables = table_io_manager(settings).query("SELECT name FROM _platform_versions")
    assert tables == []  # nothing left staged
    if settings.storage.value == "sqlite":  # replacing a partition deletes through an index
        indexes = table_io_manager(settings).query(
            "SELECT name FROM sqlite_master WHERE tbl_name = 'parts__rows' AND type = 'index'"
        )
        assert indexes == [("parts__rows__by_partition",)]
    if settings.storage.value == "postgres":
        indexes = table_io_manager(settings).query(
            "SELECT indexname FROM pg_indexes WHERE tablename = ?", ("parts__rows",)
        )
        assert indexes == [("parts__rows__by_partition",)]


def test_a_key_with_quotes_and_sql_is_data_not_code(settings, instance):
    assert materialize(settings, instance, QUOTED, QUOTED, version=3, with_union=False).success
    assert materialize(settings, instance, QUOTED, QUOTED, version=4, with_union=False).success
    frame = stored(settings)
    assert set(frame["partition_key"]) == {QUOTED} and (frame["value"] == 4.0).all()


def test_a_new_column_in_one_partition_is_refused_and_the_others_stay(settings, instance):
    assert materialize(settings, instance, KEYS[0], KEYS[-1], version=1).success
    before = stored(settings)
    result = materialize(settings, instance, "b.csv", "b.csv", version=5, extra_column=True)
    assert not result.success
    error = next(e for e in result.all_events if e.is_step_failure).step_failure_data.error
    assert "PartitionError" in error.cls_name or "PartitionError" in str(error.cause)
    message = error.message + str(error.cause.message if error.cause else "")
    assert "added ['extra']" in message and "--partition-range" in message
    pd.testing.assert_frame_equal(stored(settings), before)
    # every partition at once may change the schema
    assert materialize(settings, instance, KEYS[0], KEYS[-1], version=6, extra_column=True).success
    assert list(stored(settings).columns) == ["sample_index", "value", "partition_key", "extra"]


def test_rows_of_a_partition_outside_the_run_are_refused():
    with pytest.raises(PartitionError, match=r"rows of partition\(s\) \['b.csv'\]"):
        check_partition_rows("parts/rows", rows_for("b.csv", 1), ["a.csv"])
    with pytest.raises(PartitionError, match="no 'partition_key' column"):
        check_partition_rows("parts/rows", rows_for("b.csv", 1).drop(columns="partition_key"), ["b.csv"])


def test_a_table_written_before_partitioning_is_replaced_by_the_first_partitioned_run(settings, instance):
    table_io_manager(settings).write_table("parts__rows", pd.DataFrame({"sample_index": [1], "old": [0.0]}))
    assert materialize(settings, instance, "a.csv", "a.csv", version=1, with_union=False).success
    assert list(stored(settings).columns) == ["sample_index", "value", "partition_key"]
