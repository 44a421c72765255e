from pathlib import Path

import pytest

from ml_data_platform.catalog import (
    CatalogError,
    DatasetSpec,
    FileSource,
    SyntheticSource,
    load_catalog,
    parse_catalog,
)
from ml_data_platform_tests.conftest import REPO, write_catalog

pytestmark = pytest.mark.fast  # pure functions and files: no Dagster run, no subprocess


def entry(**overrides) -> dict:
    spec = {"name": "churn", "source": {"type": "synthetic"}}
    spec.update(overrides)
    return spec


def parse_error(*entries: dict) -> str:
    with pytest.raises(CatalogError) as raised:
        parse_catalog({"datasets": list(entries)})
    return str(raised.value)


def test_shipped_catalog_has_the_seed_dataset_and_a_multiclass_one():
    catalog = load_catalog(REPO / "datasets.yaml")
    seed = catalog.get("classification_data")
    assert isinstance(seed.source, SyntheticSource)
    assert (seed.source.n_samples, seed.source.n_features) == (1000, 20)
    assert (seed.source.n_informative, seed.source.n_redundant, seed.source.n_classes) == (10, 5, 2)
    assert seed.seed == 42
    assert seed.split.as_dict() == {"train": 0.7, "val": 0.15, "test": 0.15}
    assert catalog.get("multiclass_data").source.n_classes == 5


def test_defaults_follow_the_seed_module():
    spec = DatasetSpec.model_validate(entry())
    assert spec.target == "target"
    assert spec.split.as_dict() == {"train": 0.7, "val": 0.15, "test": 0.15}
    assert spec.declared_classes() == [0, 1]


def test_ratios_that_do_not_sum_to_one_name_dataset_and_field():
    message = parse_error(entry(split={"train": 0.8, "val": 0.15, "test": 0.15}))
    assert "'churn'" in message and "split" in message and "sum to 1" in message


def test_infeasible_make_classification_params_are_refused():
    message = parse_error(
        entry(source={"type": "synthetic", "n_features": 10, "n_informative": 8, "n_redundant": 5})
    )
    assert "'churn'" in message and "exceeds n_features" in message


def test_unknown_source_type_is_refused():
    message = parse_error(entry(source={"type": "kafka"}))
    assert "'churn'" in message and "source" in message and "kafka" in message


@pytest.mark.parametrize("name", ["Churn", "churn-v2", "1churn", "drop table", "a__b", "x;--"])
def test_unsafe_dataset_names_are_refused(name):
    message = parse_error(entry(name=name))
    assert "not a safe identifier" in message


def test_unsafe_or_reserved_column_names_are_refused():
    assert "not a safe identifier" in parse_error(entry(target="label; drop"))
    assert "reserved" in parse_error(entry(target="sample_index"))


def test_duplicate_dataset_names_are_refused():
    assert "repeated: churn" in parse_error(entry(), entry())


def test_unknown_fields_are_refused_not_ignored():
    message = parse_error(entry(sed=3))
    assert "sed" in message


def test_file_source_format_is_inferred_or_required():
    assert FileSource(path="x.csv").format.value == "csv"
    assert FileSource(path="x.parquet").format.value == "parquet"
    assert "format" in parse_error(entry(source={"type": "file", "path": "x.txt"}))


def test_relative_file_paths_resolve_against_the_catalog(tmp_path: Path):
    path = write_catalog(tmp_path, {"datasets": [entry(source={"type": "file", "path": "in/a.csv"})]})
    spec = load_catalog(path).get("churn")
    assert spec.source.path == str(tmp_path / "in" / "a.csv")


def test_missing_catalog_says_how_to_fix(tmp_path: Path):
    with pytest.raises(CatalogError, match="ML_PLATFORM_CATALOG"):
        load_catalog(tmp_path / "nope.yaml")


def test_unknown_dataset_lookup_lists_known():
    catalog = parse_catalog({"datasets": [entry()]})
    with pytest.raises(KeyError, match="known: churn"):
        catalog.get("other")


def test_id_column_needs_a_real_source_and_a_distinct_safe_name():
    assert "id_column needs a file or database source" in parse_error(entry(id_column="uid"))
    files = {"type": "file", "path": "x.csv"}
    assert "also the target" in parse_error(entry(source=files, id_column="target"))
    assert "not a safe identifier" in parse_error(entry(source=files, id_column="User ID"))


PARTITIONED = {
    "name": "events",
    "source": {"type": "file", "path": "landing", "format": "csv"},
    "id_column": "event_id",
    "partitions": {"by": "file"},
}


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"id_column": None}, "partitions need an id_column"),
        ({"source": {"type": "synthetic"}, "id_column": None}, "partitions need a file source"),
        ({"split": {"method": "exact"}}, "split.method exact re-deals rows"),
        ({"partitions": {"by": "day"}}, "need `column`"),
        ({"partitions": {"by": "file", "column": "t"}}, "apply to partitions by day"),
        (
            {"partitions": {"by": "day", "column": "event_id", "start": "2026-01-01"}},
            "also the target, the id",
        ),
        ({"freshness": {"fail_after": "1d", "warn_after": "2d"}}, "shorter than fail_after"),
        ({"freshness": {"fail_after": "soon"}}, "fail_after"),
    ],
)
def test_partitioned_and_freshness_entries_are_refused_with_the_fix(change, message):
    entry = {**PARTITIONED, **change}
    with pytest.raises(CatalogError, match=message):
        parse_catalog({"datasets": [entry]})


def test_split_method_auto_hashes_rows_with_an_identity():
    catalog = parse_catalog(
        {"datasets": [{**PARTITIONED, "freshness": {"warn_after": "26h", "fail_after": "1d12h"}}]}
    )
    spec = catalog.get("events")
    assert spec.split_method().value == "hash"
    assert spec.freshness.fail_after.total_seconds() == 36 * 3600
    synthetic = parse_catalog({"datasets": [{"name": "s", "source": {"type": "synthetic"}}]}).get("s")
    assert synthetic.split_method().value == "exact"
