"""The release: shard names that never change under a consumer, no scenario released twice, and
counts and metadata that read right. The partitions are the shared dataset's, released again."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from dagster import (
    AssetKey,
    AssetRecordsFilter,
    DagsterInstance,
    ExecuteInProcessResult,
)

from benchgen_dagster.assets.metadata import VALIDATION_STAGES, funnel_metadata
from benchgen_dagster.assets.packaging import NO_DUPLICATES, REVIEW_BACKLOG, TIER_MIX
from benchgen_dagster.dataset import read_index, read_manifest
from benchgen_dagster.dataset.release import exact_duplicates, write_release
from benchgen_dagster.dataset.summary import family_table
from benchgen_dagster.resources import PipelineSettings
from benchgen_dagster.resources.storage import asset_prefix
from benchgen_dagster.schema.contract import REPORTED_STAGES, PartitionLineage, scenario_id_for
from benchgen_dagster.schema.records import RECORD_TYPES, ShardBatch
from benchgen_dagster.stores.bundles import Bundle, read_bundle, write_bundle
from benchgen_dagster.stores.local import LocalStore
from tests.helpers import build_request, release_dataset, resources_for

UPSTREAM = ("generation_requests", "family_scripts", "validated_simulations", "scenario_renders")


def shard_batches(built_dataset: Path) -> dict[str, Bundle[ShardBatch]]:
    store = LocalStore(built_dataset.parents[1])
    partitions = sorted(p.request_id for p in read_manifest(built_dataset).partitions)
    return {
        p: read_bundle(store, asset_prefix("dataset_shards", p), RECORD_TYPES)  # type: ignore[misc]
        for p in partitions
    }


def lineage_of(batches: dict[str, Bundle[ShardBatch]]) -> list[PartitionLineage]:
    return [
        PartitionLineage(
            request_id=request_id,
            family=bundle.record.family,
            run_id=None,
            materialized_at=None,
            family_code_version="",
            funnel=bundle.record.funnel,
        )
        for request_id, bundle in batches.items()
    ]


def as_request(bundle: Bundle[ShardBatch], request_id: str) -> Bundle[ShardBatch]:
    """The same shards as another request's: named and indexed under `request_id`."""
    batch = bundle.record
    names = {s.name: s.name.replace(batch.request_id, request_id, 1) for s in batch.shards}
    record = batch.model_copy(
        update={
            "request_id": request_id,
            "shards": [s.model_copy(update={"name": names[s.name]}) for s in batch.shards],
            "rows": [
                r.model_copy(
                    update={
                        "shard": names[r.shard],
                        "request_id": request_id,
                        "scenario_id": scenario_id_for(request_id, r.seed),
                    }
                )
                for r in batch.rows
            ],
        }
    )
    return Bundle(record, {names[name]: bundle.files[name] for name in names})


def test_adding_a_partition_leaves_every_shard_under_its_name_with_its_bytes(
    built_dataset: Path, tmp_path: Path
) -> None:
    batches = shard_batches(built_dataset)
    # the first partition of the first split: before it, every other shard of its split
    # was renumbered when it came
    added = min(batches, key=lambda p: (batches[p].record.split, p))
    store = LocalStore(tmp_path)
    earlier = {p: b for p, b in batches.items() if p != added}
    before = write_release(store, "stable", earlier, lineage_of(earlier), {})
    folder = tmp_path / "datasets" / "stable"
    old = {s.path: (folder / s.path).read_bytes() for s in before.shards}

    after = write_release(store, "stable", batches, lineage_of(batches), {})

    assert len(after.shards) == len(before.shards) + len(batches[added].record.shards)
    for path, data in old.items():
        assert (folder / path).read_bytes() == data, f"{path} changed"
    listed = {s.path: s.sha256 for s in after.shards}
    assert all(listed[s.path] == s.sha256 for s in before.shards)
    split = batches[added].record.split.value
    new = sorted(set(listed) - set(old))
    assert new == [f"shards/{split}-{added}-{n:05d}.tar" for n in range(len(new))]
    _, rows = read_index(folder)
    assert {r["shard"] for r in rows} == set(listed)


def test_a_family_with_several_partitions_is_counted_with_all_of_them(
    built_dataset: Path, tmp_path: Path
) -> None:
    one = shard_batches(built_dataset)["ball_bin"]
    batches = {"ball_bin": one, "ball_bin-more": as_request(one, "ball_bin-more")}
    manifest = write_release(LocalStore(tmp_path), "twice", batches, lineage_of(batches), {})
    _, rows = read_index(tmp_path / "datasets" / "twice")

    columns = {c.header: list(c.cells) for c in family_table(manifest, rows).columns}

    assert columns["family"] == ["ball_bin"]
    assert columns["tried"] == [str(2 * one.record.funnel["generated"])]
    assert columns["packaged"] == [str(2 * len(one.record.rows))]


def test_a_release_of_partitions_that_packaged_nothing_is_refused_before_a_file_is_written(
    built_dataset: Path, tmp_path: Path
) -> None:
    one = shard_batches(built_dataset)["ball_bin"]
    empty = Bundle(one.record.model_copy(update={"rows": [], "shards": []}), {})
    with pytest.raises(ValueError, match="nothing to release as 'none': no partition packaged"):
        write_release(LocalStore(tmp_path), "none", {"ball_bin": empty}, lineage_of({}), {})
    assert not list(tmp_path.iterdir())


def test_validation_metadata_lists_its_stages_in_funnel_order_and_not_the_later_render(
    built_dataset: Path,
) -> None:
    store = LocalStore(built_dataset.parents[1])
    validated = read_bundle(store, asset_prefix("validated_simulations", "ball_bin"), RECORD_TYPES)
    metadata = funnel_metadata(validated.record.reports)  # type: ignore[union-attr]

    assert "passed_render" not in metadata
    passed = [key.removeprefix("passed_") for key in metadata if key.startswith("passed_")]
    assert passed == [stage.value for stage in VALIDATION_STAGES]
    table = metadata["funnel"].value  # type: ignore[attr-defined]
    assert [line.split(" | ")[0].strip("| ") for line in table.splitlines()[2:]] == [
        "generated",
        *passed,
    ]


# --- the release asset, run by Dagster on the shared dataset's partitions ---------------------


@pytest.fixture
def home(built_dataset: Path, tmp_path: Path) -> Path:
    """A data folder holding two of the shared dataset's partitions, up to their renders, and
    `ball_bin-again`: a request repeating ball_bin's family and seeds under another id."""
    source, data = built_dataset.parents[1], tmp_path / "data"
    for asset in UPSTREAM:
        for partition in ("ball_bin", "cube_gap"):
            shutil.copytree(
                source / "assets" / asset / partition, data / "assets" / asset / partition
            )
    store = LocalStore(data)
    for asset in UPSTREAM:
        value = read_bundle(store, asset_prefix(asset, "ball_bin"), RECORD_TYPES)
        if asset == "generation_requests":
            value = value.model_copy(update={"request_id": "ball_bin-again"})  # type: ignore[union-attr]
        elif isinstance(value, Bundle):
            value = Bundle(value.record, dict(value.files))
        write_bundle(store, asset_prefix(asset, "ball_bin-again"), value)  # type: ignore[arg-type]
    return data


@pytest.fixture
def instance() -> Iterator[DagsterInstance]:
    with DagsterInstance.ephemeral() as instance:
        yield instance


def release(data: Path, partitions: list[str], instance: DagsterInstance) -> ExecuteInProcessResult:
    """Package each partition's shards, then release the dataset, through Dagster."""
    resources = resources_for(PipelineSettings(data_dir=str(data), builtin_variants=2))
    for partition in partitions:
        assert build_request(instance, partition, resources, selection=["dataset_shards"]).success
    return release_dataset(instance, resources, raise_on_error=False)


def test_a_release_that_would_hold_a_scenario_twice_is_not_written(
    home: Path, instance: DagsterInstance
) -> None:
    result = release(home, ["ball_bin", "ball_bin-again"], instance)

    assert not result.success
    (check,) = result.get_asset_check_evaluations()
    assert check.check_name == NO_DUPLICATES and not check.passed
    assert check.metadata["duplicates"].value == 2  # both of ball_bin's variants
    assert not (home / "datasets" / "default").exists()


def test_a_release_of_distinct_partitions_passes_and_its_metadata_reads_right(
    home: Path, instance: DagsterInstance
) -> None:
    result = release(home, ["ball_bin", "cube_gap"], instance)

    assert result.success
    checks = {c.check_name: c for c in result.get_asset_check_evaluations()}
    assert set(checks) == {NO_DUPLICATES, TIER_MIX, REVIEW_BACKLOG}
    assert checks[REVIEW_BACKLOG].passed  # the auto policy: nothing waits
    assert checks[NO_DUPLICATES].passed and checks[TIER_MIX].passed
    assert checks[TIER_MIX].metadata["problems"].value == 0
    metadata = result.asset_materializations_for_node("dataset_release")[0].metadata
    folder = home / "datasets" / "default"
    assert metadata["path"].value == folder.as_uri()
    assert metadata["stored_at"].value.endswith("assets/dataset_release/_")
    funnel = metadata["funnel"].value.splitlines()[2:]
    stages = [line.split(" | ")[0].strip("| ") for line in funnel]
    assert stages == [s for s in REPORTED_STAGES if s in read_manifest(folder).counts["stages"]]
    (shards,) = instance.fetch_materializations(
        AssetRecordsFilter(asset_key=AssetKey("dataset_shards"), asset_partitions=["cube_gap"]),
        limit=1,
    ).records
    preview = shards.asset_materialization.metadata["preview"].value  # type: ignore[union-attr]
    assert preview.count("data:image/png;base64,") >= len(PipelineSettings().cameras)


def test_exact_duplicates_are_found_only_across_partitions(built_dataset: Path) -> None:
    one = shard_batches(built_dataset)["ball_bin"]
    assert exact_duplicates({"ball_bin": one}) == []
    groups = exact_duplicates(
        {"ball_bin": one, "ball_bin-again": as_request(one, "ball_bin-again")}
    )
    assert len(groups) == len(one.record.rows)
    assert groups[0] == ["ball_bin-again/ball_bin-again-s00000", "ball_bin/ball_bin-s00000"]
