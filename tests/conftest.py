"""Shared fixtures: real build123d in a sandboxed worker, real MuJoCo, a real Dagster run."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("MUJOCO_GL", "egl")

from dagster import DagsterInstance

from benchgen_dagster.catalogue.registry import registry
from benchgen_dagster.resources import PipelineSettings
from tests.helpers import SCRIPTS, build_request, release_dataset, resources_for

VARIANTS = 2  # per family in the shared dataset


@pytest.hookimpl(tryfirst=True)  # before xdist reads the groups
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """`make test` runs the suite on several workers (pytest-xdist, `--dist loadgroup`); tests
    that share an expensive fixture stay on one worker: each module's tests together, and every
    user of the shared dataset together, unless a test names its own group."""
    for item in items:
        if item.get_closest_marker("xdist_group"):
            continue
        uses_dataset = "built_dataset" in getattr(item, "fixturenames", ())
        group = "dataset" if uses_dataset else item.nodeid.split("::")[0]
        item.add_marker(pytest.mark.xdist_group(group))


def pytest_collection_finish(session: pytest.Session) -> None:
    """On an xdist worker, the groups must show in the test ids, or every worker builds every
    shared fixture again (pytest 9.2 with xdist 3.8 drops them silently)."""
    if getattr(session.config.option, "loadgroup", False):
        lost = [item.nodeid for item in session.items if "@" not in item.nodeid]
        if lost:
            raise pytest.UsageError(
                f"pytest-xdist did not group {lost[0]}; use the pytest of constraints.txt"
            )


@pytest.fixture(scope="session")
def breakable_source() -> str:
    return (SCRIPTS / "breakable.py").read_text()


@pytest.fixture(scope="session")
def built_dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Every built-in family materialized through Dagster into a temporary home and released."""
    root = tmp_path_factory.mktemp("benchgen")
    settings = PipelineSettings(data_dir=str(root / "data"), builtin_variants=VARIANTS)
    resources = resources_for(settings)
    with DagsterInstance.ephemeral() as instance:
        for partition in sorted(registry()):
            result = build_request(instance, partition, resources)
            assert result.success
            checks = result.get_asset_check_evaluations()
            assert checks and all(c.passed for c in checks)
        assert release_dataset(instance, resources).success
    return root / "data" / "datasets" / "default"
