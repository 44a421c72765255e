"""The landing sensor of a dataset partitioned by file: each new file becomes a partition and
a run of just that partition; a rewritten file runs again; nothing new, no run."""

import os

import dagster as dg
import pandas as pd
import pytest

from ml_data_platform.catalog import parse_catalog
from ml_data_platform.sensors import build_landing_sensor

pytestmark = pytest.mark.fast  # a sensor evaluation, no run


def test_new_and_rewritten_files_each_request_their_own_partition(tmp_path, instance):
    landing = tmp_path / "landing"
    landing.mkdir()
    spec = parse_catalog(
        {
            "datasets": [
                {
                    "name": "events",
                    "source": {"type": "file", "path": str(landing), "format": "csv"},
                    "partitions": {"by": "file"},
                    "id_column": "id",
                }
            ]
        }
    ).get("events")
    sensor = build_landing_sensor(spec, "events_job")
    rows = pd.DataFrame({"id": [1, 2], "a": [0.5, 1.5], "target": [0, 1]})
    assert isinstance(sensor(dg.build_sensor_context(instance=instance)), dg.SkipReason)

    rows.to_csv(landing / "day1.csv", index=False)
    rows.to_csv(landing / "day2.csv", index=False)
    context = dg.build_sensor_context(instance=instance)
    result = sensor(context)
    assert [r.partition_key for r in result.run_requests] == ["day1.csv", "day2.csv"]
    assert result.dynamic_partitions_requests[0].partition_keys == ["day1.csv", "day2.csv"]
    instance.add_dynamic_partitions("events_files", ["day1.csv", "day2.csv"])

    cursor = context.cursor
    assert isinstance(sensor(dg.build_sensor_context(instance=instance, cursor=cursor)), dg.SkipReason)
    rows.assign(a=[9.0, 9.0]).to_csv(landing / "day1.csv", index=False)
    os.utime(landing / "day1.csv", ns=(1, 10**18))
    again = sensor(dg.build_sensor_context(instance=instance, cursor=cursor))
    assert [r.partition_key for r in again.run_requests] == ["day1.csv"]
    assert again.dynamic_partitions_requests == []
