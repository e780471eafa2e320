"""The sensors against a real Dagster instance: requests in, stale partitions out, repairs."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from dagster import (
    AssetKey,
    AssetRecordsFilter,
    DagsterEventType,
    DagsterInstance,
    RunFailureSensorContext,
    RunRequest,
    SkipReason,
    build_run_status_sensor_context,
    build_sensor_context,
)

import benchgen_dagster.catalogue.registry as registry_module
import benchgen_dagster.validation.steps as steps_module
from benchgen_dagster.assets.partitions import requests_partitions
from benchgen_dagster.catalogue.requests import RequestBook
from benchgen_dagster.orchestration.definitions import defs
from benchgen_dagster.orchestration.sensors import (
    new_requests,
    repair_failed_partition,
    stale_partitions_sensor,
)
from benchgen_dagster.orchestration.staleness import stale_partitions
from benchgen_dagster.orchestration.tags import REPAIR_TAG
from benchgen_dagster.resources import PipelineSettings
from tests.helpers import build_request, resources_for

TOUCHED, UNTOUCHED = "ball_sideways", "cube_gap"


def shard_materializations(instance: DagsterInstance, partition: str) -> int:
    key = AssetKey("dataset_shards")
    filters = AssetRecordsFilter(asset_key=key, asset_partitions=[partition])
    return len(instance.fetch_materializations(filters, limit=100).records)


def touch_family(monkeypatch: pytest.MonkeyPatch, name: str, edit: str) -> None:
    """`edit` appended to a built-in family's script on disk, as the registry reads it (each
    test makes an edit of its own: the partitions of this module's instance are rebuilt)."""
    families = registry_module.registry()
    touched = dataclasses.replace(families[name], source=families[name].source + edit)
    monkeypatch.setattr(registry_module, "registry", lambda: {**families, name: touched})


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    """Two families, one variant each, materialized into an instance of their own."""
    root = tmp_path_factory.mktemp("sensors")
    settings = PipelineSettings(data_dir=str(root / "data"), builtin_variants=1)
    with DagsterInstance.ephemeral() as instance:
        for partition in (TOUCHED, UNTOUCHED):
            assert build_request(instance, partition, resources_for(settings)).success
        yield instance, settings


def test_a_request_file_becomes_one_partition_and_one_run_and_a_bad_one_is_set_aside(
    tmp_path: Path,
) -> None:
    settings = PipelineSettings(data_dir=str(tmp_path))
    inbox = tmp_path / "requests"
    inbox.mkdir()
    (inbox / "good.yaml").write_text("prompt: a ball into a bin\nfamily: ball_bin\nvariants: 2\n")
    (inbox / "bad.yaml").write_text("prompt: a cube\nvariants: many\n")
    with DagsterInstance.ephemeral() as instance:
        context = build_sensor_context(instance=instance, resources={"settings": settings})
        result = new_requests(context)
        [run] = result.run_requests
        assert run.partition_key.startswith("ball-bin-")
        assert result.dynamic_partitions_requests[0].partition_keys == [run.partition_key]
        assert (inbox / "accepted" / f"{run.partition_key}.yaml").is_file()
        reason = (inbox / "rejected" / "bad.yaml.reason.txt").read_text()
        assert "variants" in reason and "integer" in reason
        assert not list(inbox.glob("*.yaml"))

        again = new_requests(
            build_sensor_context(
                instance=instance, cursor=result.cursor, resources={"settings": settings}
            )
        )
        assert again.run_requests == []  # the cursor holds it: nothing is repeated

        lost_cursor = new_requests(
            build_sensor_context(instance=instance, resources={"settings": settings})
        )
        # a tick whose cursor was never committed asks again, under the same run key, so the
        # request is not lost and Dagster does not run it twice
        assert [r.run_key for r in lost_cursor.run_requests] == [run.run_key]


def test_touching_one_family_reruns_that_partition_and_nothing_of_another(
    built, monkeypatch: pytest.MonkeyPatch
) -> None:
    instance, settings = built
    assert stale_partitions(instance, settings) == {}
    touch_family(monkeypatch, TOUCHED, "\n# ok\n")
    context = build_sensor_context(instance=instance, resources={"settings": settings})
    result = stale_partitions_sensor(context)
    assert [r.partition_key for r in result.run_requests] == [TOUCHED]

    before = shard_materializations(instance, UNTOUCHED)
    assert build_request(instance, TOUCHED, resources_for(settings)).success
    assert shard_materializations(instance, UNTOUCHED) == before
    assert shard_materializations(instance, TOUCHED) == 2
    assert stale_partitions(instance, settings) == {}


def test_a_new_validator_makes_every_partition_stale(
    built, monkeypatch: pytest.MonkeyPatch
) -> None:
    instance, settings = built
    monkeypatch.setattr(steps_module, "validator_version", lambda: "a-new-rule")
    assert set(stale_partitions(instance, settings)) == {TOUCHED, UNTOUCHED}


def failed_run(
    instance: DagsterInstance,
    settings: PipelineSettings,
    partition: str,
    tags: dict[str, str] | None = None,
) -> RunFailureSensorContext:
    """A real `build_partition` run of the partition that fails, as the repair sensor sees it."""
    result = defs.resolve_job_def("build_partition").execute_in_process(
        instance=instance,
        partition_key=partition,
        resources=resources_for(settings),
        raise_on_error=False,
        tags=tags or {},
    )
    assert not result.success
    [failure] = instance.get_records_for_run(
        result.run_id, of_type=DagsterEventType.RUN_FAILURE
    ).records
    return build_run_status_sensor_context(
        sensor_name="repair_failed_partition",
        dagster_event=failure.event_log_entry.dagster_event,
        dagster_instance=instance,
        dagster_run=result.dagster_run,
    ).for_run_failure()


def test_a_partition_failed_by_a_passing_fault_is_repaired_a_bounded_number_of_times(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = PipelineSettings(data_dir=str(tmp_path))

    def disk_hiccup(book: RequestBook, request_id: str) -> None:
        raise OSError("the disk went away for a moment")

    monkeypatch.setattr(RequestBook, "load", disk_hiccup)
    with DagsterInstance.ephemeral() as instance:
        instance.add_dynamic_partitions(requests_partitions.name, ["ball_bin"])
        first = repair_failed_partition(failed_run(instance, settings, "ball_bin"))
        assert isinstance(first, RunRequest) and first.partition_key == "ball_bin"
        assert first.tags[REPAIR_TAG] == "1"
        last = failed_run(instance, settings, "ball_bin", {REPAIR_TAG: "2"})
        assert isinstance(repair_failed_partition(last), SkipReason)


# Partitions whose request is bad: accepted before intake checked it, or its file removed.
BROKEN = {
    "unknown-family": ("family: nope\n", "unknown family 'nope'"),
    "out-of-range": ("family: over_wall\nparams: {wall_height: 999}\n", "999 is outside"),
    "request-gone": (None, "no request 'request-gone'"),
}


def break_partition(settings: PipelineSettings, partition: str) -> None:
    fields, _ = BROKEN[partition]
    if fields is not None:
        path = settings.requests.accepted_path(partition)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(f"request_id: {partition}\nprompt: a bad request\n{fields}")


@pytest.mark.parametrize("partition", sorted(BROKEN))
def test_a_partition_failed_on_bad_input_fails_once_with_its_message_and_is_not_repaired(
    tmp_path: Path, partition: str
) -> None:
    settings = PipelineSettings(data_dir=str(tmp_path))
    break_partition(settings, partition)
    with DagsterInstance.ephemeral() as instance:
        instance.add_dynamic_partitions(requests_partitions.name, [partition])
        context = failed_run(instance, settings, partition)
        [failure] = context.get_step_failure_events()
        retries = instance.get_records_for_run(
            context.dagster_run.run_id, of_type=DagsterEventType.STEP_UP_FOR_RETRY
        ).records
        outcome = repair_failed_partition(context)
    assert failure.step_key == "generation_requests" and retries == []
    message = failure.step_failure_data.user_failure_data.description
    assert message.startswith(f"partition {partition}: ") and BROKEN[partition][1] in message
    assert isinstance(outcome, SkipReason) and message in outcome.skip_message


def test_a_broken_partition_never_stops_the_others_going_stale(
    built, monkeypatch: pytest.MonkeyPatch
) -> None:
    instance, settings = built
    for partition in BROKEN:
        break_partition(settings, partition)
    instance.add_dynamic_partitions(requests_partitions.name, sorted(BROKEN))
    try:
        touch_family(monkeypatch, TOUCHED, "\n#\n")
        context = build_sensor_context(instance=instance, resources={"settings": settings})
        result = stale_partitions_sensor(context)
        assert [r.partition_key for r in result.run_requests] == [TOUCHED]
        assert build_request(instance, TOUCHED, resources_for(settings)).success
        assert stale_partitions(instance, settings) == {}
    finally:
        for partition in BROKEN:
            instance.delete_dynamic_partition(requests_partitions.name, partition)
            settings.requests.forget(partition)
