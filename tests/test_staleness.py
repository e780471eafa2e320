"""Staleness: a partition's fingerprint, and Dagster's own unsynced status of its assets,
against a real (ephemeral) Dagster instance."""

from __future__ import annotations

import dataclasses

import pytest
from dagster import AssetKey, AssetsDefinition, DagsterInstance
from dagster._core.definitions.assets.graph.asset_graph import AssetGraph
from dagster._core.definitions.data_version import CachingStaleStatusResolver, StaleStatus
from dagster._core.loader import LoadingContextForTest

import benchgen_dagster.catalogue.registry as registry_module
from benchgen_dagster.assets import ALL_ASSETS
from benchgen_dagster.assets.partitions import requests_partitions
from benchgen_dagster.catalogue.registry import get_family, script_for
from benchgen_dagster.resources import PipelineSettings
from benchgen_dagster.schema.records import GenerationRequest
from benchgen_dagster.validation import steps
from benchgen_dagster.validation.funnel import FunnelSettings
from tests.helpers import build_request, resources_for

HEAD = ["generation_requests", "scenario_plans", "family_scripts", "scenario_variants"]
VARIANTS = AssetKey("scenario_variants")
TOUCHED, UNTOUCHED = "ball_bin", "cube_gap"
REQUEST = GenerationRequest(
    request_id="ball_bin", prompt="a ball into a bin", family="ball_bin", variants=4
)


def fingerprint(**change: object) -> str:
    inputs: dict[str, object] = {
        "request": REQUEST,
        "script": get_family("ball_bin").script(),
        "funnel": FunnelSettings(),
        "cameras": ("iso", "side"),
        "width": 320,
        "height": 240,
    }
    return steps.inputs_fingerprint(**{**inputs, **change})  # type: ignore[arg-type]


def test_the_same_inputs_give_the_same_fingerprint() -> None:
    assert fingerprint() == fingerprint(request=REQUEST.model_copy())


@pytest.mark.parametrize(
    "change",
    [
        {"request": REQUEST.model_copy(update={"seed_start": 4})},
        {"request": REQUEST.model_copy(update={"params": {"material": "steel"}})},
        {"script": script_for("ball_bin", get_family("ball_bin").source + "\n# ok\n", "builtin")},
        {"funnel": FunnelSettings(robust_trials=7)},
        {"cameras": ("iso",)},
        {"width": 640},
    ],
    ids=["seeds", "params", "script", "robustness", "cameras", "render size"],
)
def test_each_input_of_a_partition_changes_its_fingerprint(change: dict[str, object]) -> None:
    assert fingerprint(**change) != fingerprint()


def test_a_new_validator_changes_the_fingerprint(monkeypatch: pytest.MonkeyPatch) -> None:
    before = fingerprint()
    monkeypatch.setattr(steps, "validator_version", lambda: "a-new-rule")
    assert fingerprint() != before


def resolver(
    instance: DagsterInstance, assets: list[AssetsDefinition] = ALL_ASSETS
) -> CachingStaleStatusResolver:
    """What the UI asks for a partition's unsynced mark (its `stale_status_loader`)."""
    return CachingStaleStatusResolver(
        instance, AssetGraph.from_assets(assets), LoadingContextForTest(instance)
    )


def with_code_version(key: AssetKey, code_version: str) -> list[AssetsDefinition]:
    """The asset graph after an edit to the code of one asset."""
    return [
        a.map_asset_specs(lambda spec: spec.replace_attributes(code_version=code_version))
        if a.key == key
        else a
        for a in ALL_ASSETS
    ]


@pytest.fixture(scope="module")
def head(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    """The generation stage of two families, one variant each, in an instance of their own."""
    root = tmp_path_factory.mktemp("staleness")
    settings = PipelineSettings(data_dir=str(root / "data"), builtin_variants=1)
    with DagsterInstance.ephemeral() as instance:
        instance.add_dynamic_partitions(requests_partitions.name, [TOUCHED, UNTOUCHED])
        for partition in (TOUCHED, UNTOUCHED):
            assert materialize_head(instance, settings, partition, HEAD)
        yield instance, settings


def materialize_head(
    instance: DagsterInstance, settings: PipelineSettings, partition: str, selection: list[str]
) -> bool:
    return build_request(instance, partition, resources_for(settings), selection=selection).success


def test_a_materialized_partition_is_in_sync_and_versioned_by_its_inputs(head) -> None:  # type: ignore[no-untyped-def]
    instance, settings = head
    status = resolver(instance)
    for partition in (TOUCHED, UNTOUCHED):
        for name in HEAD:
            assert status.get_status(AssetKey(name), partition) is StaleStatus.FRESH
        request = settings.requests.load(partition)
        versions = {
            name: status.get_current_data_version(AssetKey(name), partition).value
            for name in ("generation_requests", "family_scripts")
        }
        assert versions == {
            "generation_requests": steps.request_version(request),
            "family_scripts": get_family(partition).script().code_version,
        }


def test_a_new_code_version_makes_that_asset_unsynced_in_every_partition(head) -> None:  # type: ignore[no-untyped-def]
    instance, _ = head
    edited = resolver(instance, with_code_version(VARIANTS, "edited"))
    for partition in (TOUCHED, UNTOUCHED):
        assert edited.get_status(VARIANTS, partition) is StaleStatus.STALE
        [cause] = edited.get_stale_causes(VARIANTS, partition)
        assert cause.reason == "has a new code version"


def test_a_new_upstream_data_version_makes_only_that_partition_unsynced(
    head,  # type: ignore[no-untyped-def]
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    instance, settings = head
    families = registry_module.registry()
    touched = dataclasses.replace(families[TOUCHED], source=families[TOUCHED].source + "\n# ok\n")
    monkeypatch.setattr(registry_module, "registry", lambda: {**families, TOUCHED: touched})
    for partition in (TOUCHED, UNTOUCHED):  # the untouched script keeps its data version
        assert materialize_head(instance, settings, partition, ["family_scripts"])

    status = resolver(instance)
    assert status.get_status(VARIANTS, TOUCHED) is StaleStatus.STALE
    [cause] = status.get_stale_causes(VARIANTS, TOUCHED)
    assert cause.dependency is not None and cause.dependency.asset_key == AssetKey("family_scripts")
    assert status.get_status(VARIANTS, UNTOUCHED) is StaleStatus.FRESH

    assert materialize_head(instance, settings, TOUCHED, ["scenario_variants"])
    assert resolver(instance).get_status(VARIANTS, TOUCHED) is StaleStatus.FRESH
