"""Forgetting a request, from the shell (`benchgen forget`) and from the UI (the
`forget_request` job), against a real Dagster instance and a real build of one variant."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner
from dagster import AssetKey, AssetRecordsFilter, DagsterInstance, build_sensor_context

from benchgen_dagster.assets import PARTITIONED_ASSETS
from benchgen_dagster.assets.partitions import requests_partitions
from benchgen_dagster.cli import main
from benchgen_dagster.dataset.reader import read_index
from benchgen_dagster.errors import UserError
from benchgen_dagster.orchestration.build import dagster_home
from benchgen_dagster.orchestration.definitions import defs
from benchgen_dagster.orchestration.jobs import run_forget
from benchgen_dagster.orchestration.sensors import new_requests
from benchgen_dagster.resources import PipelineSettings
from tests.helpers import build_request, release_dataset, resources_for

REQUEST = "prompt: a ball must clear a wall\nfamily: over_wall\nvariants: 1\n"
KEPT = "ball_bin"


@pytest.fixture
def data(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A data folder with its own persistent Dagster home, as `benchgen build` makes it."""
    root = tmp_path / "data"
    for name, value in {
        "DAGSTER_HOME": str(tmp_path / "dagster"),
        "BENCHGEN_DATA_DIR": str(root),
        "BENCHGEN_VARIANTS": "1",
    }.items():
        monkeypatch.setenv(name, value)  # restored afterwards, whatever the command sets
    monkeypatch.delenv("BENCHGEN_S3_BUCKET", raising=False)
    dagster_home(root)
    return root


def settings_of(data: Path) -> PipelineSettings:
    return PipelineSettings(data_dir=str(data), builtin_variants=1)


def submit(data: Path, instance: DagsterInstance, cursor: str | None = None):  # type: ignore[no-untyped-def]
    """Drop the request in the requests folder and let `new_requests` take it in."""
    (data / "requests").mkdir(parents=True, exist_ok=True)
    (data / "requests" / "wall.yaml").write_text(REQUEST)
    context = build_sensor_context(
        instance=instance, cursor=cursor, resources={"settings": settings_of(data)}
    )
    result = new_requests(context)
    for added in result.dynamic_partitions_requests:
        instance.add_dynamic_partitions(requests_partitions.name, list(added.partition_keys))
    return result


def release(data: Path, instance: DagsterInstance) -> set[str]:
    """Release the dataset; the requests its scenarios come from."""
    resources = resources_for(settings_of(data))
    assert release_dataset(instance, resources).success
    _, rows = read_index(data / "datasets" / "default")
    return {str(row["request_id"]) for row in rows}


def test_benchgen_forget_removes_a_built_partition_and_the_next_release_drops_it(
    data: Path,
) -> None:
    with DagsterInstance.get() as instance:
        [run] = submit(data, instance).run_requests
        forgotten = run.partition_key
        for partition in (forgotten, KEPT):
            assert build_request(instance, partition, resources_for(settings_of(data))).success
        assert release(data, instance) == {forgotten, KEPT}

        result = CliRunner().invoke(main, ["forget", forgotten, "--data-dir", str(data)])
        assert result.exit_code == 0, result.output
        assert f"partition '{forgotten}'" in result.output and "accepted request" in result.output

        assert instance.get_dynamic_partitions(requests_partitions.name) == [KEPT]
        for asset in PARTITIONED_ASSETS:
            filters = AssetRecordsFilter(asset_key=asset.key, asset_partitions=[forgotten])
            assert instance.fetch_materializations(filters, limit=1).records == []
            assert not (data / "assets" / asset.key.to_user_string() / forgotten).exists()
            assert (data / "assets" / asset.key.to_user_string() / KEPT).is_dir()
        shards = AssetKey("dataset_shards")
        assert instance.get_materialized_partitions(shards) == {KEPT}
        assert not (data / "requests" / "accepted" / f"{forgotten}.yaml").exists()
        assert release(data, instance) == {KEPT}


def test_a_request_forgotten_from_the_ui_and_sent_again_runs_again(data: Path) -> None:
    assert defs.resolve_job_def("forget_request")  # the UI's launchpad has it
    resources = resources_for(settings_of(data))
    with DagsterInstance.get() as instance:
        first = submit(data, instance)
        [run] = first.run_requests
        removed = run_forget(run.partition_key, instance, resources)
        assert removed[0] == f"partition '{run.partition_key}' of 'requests'"
        assert not instance.has_dynamic_partition(requests_partitions.name, run.partition_key)
        [again] = submit(data, instance, cursor=first.cursor).run_requests
    assert again.partition_key == run.partition_key and again.run_key != run.run_key


def test_forgetting_what_does_not_exist_is_a_usage_error(data: Path) -> None:
    with DagsterInstance.get() as instance, pytest.raises(UserError, match="nothing to forget"):
        run_forget("no-such-request", instance, resources_for(settings_of(data)))
    result = CliRunner().invoke(main, ["forget", "no-such-request", "--data-dir", str(data)])
    assert result.exit_code == 2 and "nothing to forget for 'no-such-request'" in result.output
