"""The Dagster shell: the definitions load, and the asset graph builds a dataset in-process."""

from __future__ import annotations

from pathlib import Path

import mujoco
from dagster import DagsterInstance

from benchgen_dagster.catalogue.registry import registry
from benchgen_dagster.dataset import load, read_manifest
from benchgen_dagster.orchestration.definitions import defs
from benchgen_dagster.resources import PipelineSettings
from tests.conftest import VARIANTS
from tests.helpers import build_request, resources_for

# The asset graph of the design: each asset and what it is made from.
CONTRACT = {
    "generation_requests": set(),
    "scenario_plans": {"generation_requests"},
    "family_scripts": {"generation_requests", "scenario_plans"},
    "scenario_variants": {"generation_requests", "family_scripts"},
    "validated_simulations": {"generation_requests", "family_scripts", "scenario_variants"},
    "scenario_renders": {"validated_simulations"},
    "dataset_shards": {
        "generation_requests",
        "family_scripts",
        "validated_simulations",
        "scenario_renders",
    },
    "dataset_release": {"dataset_shards"},
    "solver_baselines": {"dataset_release"},
}


def test_the_definitions_load_with_the_asset_graph_of_the_design() -> None:
    graph = defs.resolve_asset_graph()
    upstream = {
        key.to_user_string(): {parent.to_user_string() for parent in graph.get(key).parent_keys}
        for key in graph.get_all_asset_keys()
    }
    assert upstream == CONTRACT
    assert defs.resolve_job_def("build_partition") and defs.resolve_job_def("release_dataset")
    assert defs.resolve_job_def("score_baselines")


def test_the_graph_releases_a_dataset_with_the_contracted_layout(built_dataset: Path) -> None:
    manifest = read_manifest(built_dataset)
    assert (built_dataset / "index.parquet").is_file()
    assert [s.path for s in manifest.shards] == sorted(
        p.relative_to(built_dataset).as_posix() for p in (built_dataset / "shards").iterdir()
    )
    assert manifest.counts["families"] == {name: VARIANTS for name in registry()}


def test_the_loader_reads_back_every_scenario_as_a_mujoco_model(built_dataset: Path) -> None:
    samples = list(load(built_dataset))
    assert len(samples) == VARIANTS * len(registry())
    for sample in samples:
        model = mujoco.MjModel.from_xml_string(sample.mjcf)
        assert model.body(sample.scenario.payload.body_name).jntnum[0] == 1
        assert sample.validation.accepted and sample.renders
        assert sample.scenario.units == "m"
        assert sample.script.startswith('"""')


def test_a_misspelt_camera_fails_the_run_by_its_name_instead_of_every_render(
    tmp_path: Path,
) -> None:
    """Each scenario's render would fail on it, and the partition would package nothing."""
    settings = PipelineSettings(
        data_dir=str(tmp_path), builtin_variants=1, render_cameras="iso,tpo"
    )
    with DagsterInstance.ephemeral() as instance:
        result = build_request(instance, "over_wall", resources_for(settings), raise_on_error=False)
    assert not result.success
    [failure] = [event for event in result.all_events if event.is_step_failure]
    error = failure.step_failure_data.error
    assert error is not None
    messages = [error.message, *(cause.message for cause in [error.cause] if cause)]
    assert any("unknown camera 'tpo' in 'iso,tpo'; the cameras are" in m for m in messages)
    assert not list(tmp_path.rglob("*.tar"))  # no shard was packaged
