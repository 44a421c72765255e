"""DatasetPlan: every fact about one dataset's graph that more than one stage needs, in one
place: asset keys, op names, which columns are features, where the artifact lives, the
metadata keys stages pass to each other, and which op reads an in-run table copy last."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cached_property
from importlib.metadata import version
from pathlib import Path

import dagster as dg

from ml_data_platform.catalog import RESERVED_COLUMNS, SPLITS, DatasetSpec
from ml_data_platform.core.rules import TableRules
from ml_data_platform.dataset.partitioning import backfill_policy, partitions_def
from ml_data_platform.resources import ExportStore
from ml_data_platform.storage.artifacts import ARTIFACT
from ml_data_platform.storage.versions import PUBLISH_AFTER_AUDIT

STAGES: tuple[str, ...] = ("raw", "features", *SPLITS, "preprocessor", "baseline_model", "export")
TABLE_STAGES: tuple[str, ...] = ("raw", "features", *SPLITS)  # stored by the table IO manager

# Metadata one stage records and a later stage or check reads.
PROFILE = "profile_json"  # per-feature profile: drift and learned bounds compare with it
# On a partitioned dataset's train split: the profile of every partition the splits read, the
# reference a new partition's drift is measured against.
UNION_PROFILE = "union_profile_json"
LABEL_CODES = "label_codes"  # text label -> code, recorded by features, exported in the manifest
CLASS_COUNTS = "class_counts"  # rows per class code: the next class-balance check's reference
SCORES = "scores"  # the baseline's scores per split, read by its checks
COLUMN_SCHEMA = "dagster/column_schema"  # recorded by the IO managers on every write
# Definition metadata of the table assets: the IO manager stages them; their check step
# publishes (or quarantines) what it audited.
AUDITED = {PUBLISH_AFTER_AUDIT: True}


# The catalog fields each stage's output depends on: its code version hashes them (with the
# platform's version), so editing a field marks exactly the stages it feeds as changed.
STAGE_FIELDS: dict[str, tuple[str, ...]] = {
    "raw": (
        "source",
        "target",
        "feature_columns",
        "categorical_columns",
        "id_column",
        "classes",
        "partitions",
    ),
    "features": (
        "target",
        "feature_columns",
        "categorical_columns",
        "classes",
        "on_duplicates",
        "on_non_finite",
    ),
    "splits": ("split", "seed", "target"),
    "preprocessor": ("preprocessing", "target"),
    "baseline_model": ("seed", "target"),
    "export": ("target",),
}
PLATFORM_VERSION = version("ml_data_platform")


def check_op_name(dataset: str, stage: str) -> str:
    """The op (step) that runs every check of `<dataset>/<stage>`."""
    return f"{dataset}__{stage}_checks"


@dataclass(frozen=True)
class DatasetPlan:
    spec: DatasetSpec
    # Stages run as SQL inside the database (catalog/execution.py): each table stage reads
    # EngineTables and returns a TableQuery instead of a DataFrame.
    in_database: bool = False

    @cached_property
    def rules(self) -> TableRules:
        """What the core's validation and contracts need, derived from the spec once."""
        return self.spec.rules()

    @property
    def name(self) -> str:
        return self.spec.name

    def key(self, stage: str) -> dg.AssetKey:
        return dg.AssetKey([self.name, stage])

    def table(self, stage: str) -> str:
        """The stored table's name (the IO managers name tables after asset keys)."""
        return "__".join(self.key(stage).path)

    def op_name(self, stage: str) -> str:
        """The op Dagster names after an asset's key (`<dataset>__<stage>`)."""
        return "__".join(self.key(stage).path)

    def code_version(self, stage: str) -> str:
        """What defines the stage's output: its catalog fields and the platform's version."""
        fields = self.spec.model_dump(mode="json", include=set(STAGE_FIELDS[stage]))
        text = json.dumps({"platform": PLATFORM_VERSION, "stage": stage, **fields}, sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()[:16]

    def check_op(self, stage: str) -> str:
        return check_op_name(self.name, stage)

    def features_of(self, columns: Iterable[str]) -> list[str]:
        """The feature columns among a stored table's columns (a frame iterates over its names)."""
        return [c for c in columns if c != self.spec.target and c not in RESERVED_COLUMNS]

    def ins(self, *stages: str) -> dict[str, dg.AssetIn]:
        """Inputs named after stages (`train=...`), for assets and check steps that read them."""
        return {stage: dg.AssetIn(key=self.key(stage)) for stage in stages}

    def artifact_path(self, exports: ExportStore) -> Path:
        return exports.artifact_path(self.name, ARTIFACT)

    @property
    def partitioned(self) -> bool:
        return self.spec.partitions is not None

    @cached_property
    def partitions(self) -> dg.PartitionsDefinition | None:
        """raw's and features' partitions (None: one table per stage)."""
        return partitions_def(self.spec)

    def table_asset(self, stage: str) -> dict:
        """The `dg.asset` arguments raw and features share: key, code version, group, the
        audit that publishes them, and their partitions (when the dataset has any)."""
        arguments = {
            "key": self.key(stage),
            "code_version": self.code_version(stage),
            "metadata": AUDITED,
            "group_name": self.name,
            "kinds": {"duckdb" if self.in_database else "pandas"},
        }
        if self.partitioned:
            arguments |= {"partitions_def": self.partitions, "backfill_policy": backfill_policy(self.spec)}
        return arguments

    def last_readers(self) -> dict[str, str]:
        """Table -> the op that reads its in-run copy last: raw's checks gate features, so the
        features asset reads raw last; the split checks gate train, so they read features
        after every other reader (partitioned: the features checks; the splits read every
        partition from storage)."""
        features_reader = self.check_op("features" if self.partitioned else "train")
        return {self.table("raw"): self.op_name("features"), self.table("features"): features_reader}

    def audit_readers(self) -> dict[str, str]:
        """Partitioned table -> its check step, which audits just the partitions its run wrote."""
        if not self.partitioned:
            return {}
        return {self.table(stage): self.check_op(stage) for stage in ("raw", "features")}
