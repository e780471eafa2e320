"""Shared fixtures: real build123d in a sandboxed worker, real MuJoCo, a real Dagster run."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("MUJOCO_GL", "egl")

from dagster import DagsterInstance, materialize

from benchgen_dagster.assets import ALL_ASSETS, PARTITIONED_ASSETS
from benchgen_dagster.registry import registry
from benchgen_dagster.resources import (
    BundleIOManager,
    PipelineSettings,
    SandboxResource,
    StorageResource,
)
from tests.helpers import SCRIPTS

VARIANTS = 2  # per family in the shared dataset


@pytest.fixture(scope="session")
def breakable_source() -> str:
    return (SCRIPTS / "breakable.py").read_text()


@pytest.fixture(scope="session")
def built_dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Every built-in family materialized through Dagster into a temporary home and released."""
    root = tmp_path_factory.mktemp("benchgen")
    settings = PipelineSettings(data_dir=str(root / "data"), builtin_variants=VARIANTS)
    storage = StorageResource(settings=settings)
    resources = {
        "settings": settings,
        "storage": storage,
        "io_manager": BundleIOManager(storage=storage),
        "sandbox": SandboxResource(),
    }
    with DagsterInstance.ephemeral() as instance:
        instance.add_dynamic_partitions("requests", sorted(registry()))
        for partition in sorted(registry()):
            result = materialize(
                PARTITIONED_ASSETS, partition_key=partition, instance=instance, resources=resources
            )
            assert result.success
            checks = result.get_asset_check_evaluations()
            assert checks and all(c.passed for c in checks)
        assert materialize(
            ALL_ASSETS, selection=["dataset_release"], instance=instance, resources=resources
        ).success
    return root / "data" / "datasets" / "default"
