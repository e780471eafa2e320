"""Helpers for tests: run scripts in the real sandbox worker and validate them, and
materialize the assets in process."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from dagster import DagsterInstance, ExecuteInProcessResult, materialize

from benchgen_dagster.assets import ALL_ASSETS, PARTITIONED_ASSETS
from benchgen_dagster.assets.partitions import requests_partitions
from benchgen_dagster.resources import (
    AgentResource,
    BundleIOManager,
    PipelineSettings,
    SandboxResource,
    StorageResource,
)
from benchgen_dagster.resources.storage import S3Connection
from benchgen_dagster.sandbox.processes import SubprocessLauncher
from benchgen_dagster.sandbox.protocol import Job, JobOutcome
from benchgen_dagster.sandbox.runner import Limits, run_batch
from benchgen_dagster.schema.contract import Lineage, Split
from benchgen_dagster.validation.funnel import ValidatedVariant, validate_variant
from benchgen_dagster.validation.scene import VariantContext

SCRIPTS = Path(__file__).parent / "scripts"


def context_for(family: str, sandbox: str = "subprocess") -> VariantContext:
    lineage = Lineage(
        request_id=family,
        prompt_sha256="0" * 64,
        script_sha256="0" * 64,
        code_versions={"family": "test"},
        sandbox=sandbox,
        family_source="builtin",
    )
    return VariantContext(family, Split.train, lineage)


def run_script(source: str, jobs: list[Job], limits: Limits = Limits()) -> list[JobOutcome]:
    return run_batch(source, jobs, SubprocessLauncher(), limits).outcomes


def validate_all(family: str, outcomes: list[JobOutcome]) -> list[ValidatedVariant]:
    context = context_for(family)
    return [validate_variant(o, context) for o in outcomes]


def resources_for(
    settings: PipelineSettings, s3: S3Connection | None = None, s3_prefix: str = "benchgen"
) -> dict[str, object]:
    """The Dagster resources of the definitions, on a data folder or, given `s3`, a bucket."""
    bucket = "benchgen" if s3 else ""
    storage = StorageResource(settings=settings, s3=s3, s3_bucket=bucket, s3_prefix=s3_prefix)
    return {
        "settings": settings,
        "storage": storage,
        "io_manager": BundleIOManager(storage=storage),
        "sandbox": SandboxResource(),
        "agent": AgentResource(),
    }


def build_request(
    instance: DagsterInstance, partition: str, resources: Mapping[str, object], **options: Any
) -> ExecuteInProcessResult:
    """A request partition's assets materialized in process, the partition added first (adding
    it again is harmless); `options` go to `materialize` (`raise_on_error`, `selection`, …)."""
    instance.add_dynamic_partitions(requests_partitions.name, [partition])
    return materialize(
        PARTITIONED_ASSETS,
        partition_key=partition,
        instance=instance,
        resources=resources,
        **options,
    )


def release_dataset(
    instance: DagsterInstance, resources: Mapping[str, object], **options: Any
) -> ExecuteInProcessResult:
    """The dataset released from what the partitions packaged, in process."""
    return materialize(
        ALL_ASSETS,
        selection=["dataset_release"],
        instance=instance,
        resources=resources,
        **options,
    )
