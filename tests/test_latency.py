"""`benchgen bench --latency` in parts (the whole runs `dagster dev` for minutes; its numbers
are never asserted), and the settings that make the UI's path quick."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner
from dagster import DagsterInstance, Failure, in_process_executor, job, op

from benchgen_dagster.cli import main
from benchgen_dagster.orchestration.build import init_dagster_home
from benchgen_dagster.orchestration.definitions import defs
from benchgen_dagster.orchestration.latency import (
    STAGES,
    LatencyError,
    build_run,
    latency_table,
    release_run,
    stages,
    step_seconds,
)
from benchgen_dagster.orchestration.sensors import new_requests, release_after_build


@op
def make_shards() -> None:
    pass


@op
def break_down() -> None:
    raise Failure("a broken step")


@job(name="build_partition")
def toy_build() -> None:
    make_shards()


@job(name="release_dataset")
def toy_release() -> None:
    make_shards()


@job(name="build_partition")
def broken_build() -> None:
    break_down()


def test_the_stages_of_a_request_come_from_its_runs_records() -> None:
    with DagsterInstance.ephemeral() as instance:
        build = toy_build.execute_in_process(
            instance=instance, tags={"dagster/partition": "a-request"}
        )
        toy_release.execute_in_process(
            instance=instance, tags={"dagster/run_key": f"release-after:{build.run_id}"}
        )
        build_record = build_run(instance, "a-request")
        release_record = release_run(instance, build.run_id)
        assert build_record and release_record
        steps = step_seconds(instance, build.run_id)
        dropped_at = build_record.create_timestamp.timestamp() - 1.0
        result = stages(dropped_at, build_record, release_record, steps)
    assert list(steps) == ["make_shards"]
    assert list(result["seconds"]) == [key for key, _ in STAGES]
    assert result["seconds"]["tick"] == pytest.approx(1.0)
    assert sum(result["seconds"].values()) == pytest.approx(result["total_s"])
    assert result["runs"] == {"build": build.run_id, "release": release_record.dagster_run.run_id}


def test_a_request_whose_run_fails_ends_the_measurement_with_the_run_named() -> None:
    with DagsterInstance.ephemeral() as instance:
        failed = broken_build.execute_in_process(
            instance=instance, tags={"dagster/partition": "a-request"}, raise_on_error=False
        )
        assert build_run(instance, "elsewhere") is None  # not there yet: keep waiting
        with pytest.raises(LatencyError, match=failed.run_id):
            build_run(instance, "a-request")


def test_the_table_shows_every_stage_each_build_step_the_total_and_the_ratio() -> None:
    seconds = {key: float(n) for n, (key, _) in enumerate(STAGES, 1)}
    result = {
        "family": "over_wall",
        "variants": 3,
        "cores": 2,
        "load_average": {"start": 2.5, "end": 3.0},
        "ui": {"seconds": seconds, "total_s": 21.0, "build_steps_s": {"dataset_shards": 0.4}},
        "cli": {"total_s": 10.5, "command": "build --family over_wall --variants 3"},
        "ui_to_cli": 2.0,
    }
    text = latency_table(result)
    for _, what in STAGES:
        assert what in text
    assert "dataset_shards" in text and "21.0" in text and "2.00×" in text


def test_the_deployments_table_shows_the_stacks_start_up_apart_from_the_total() -> None:
    seconds = {key: 1.0 for key, _ in STAGES}
    result = {
        "family": "over_wall",
        "variants": 1,
        "cores": 2,
        "load_average": {"start": 2.5, "end": 3.0},
        "path": "deployment",
        "ui": {"seconds": seconds, "total_s": 6.0, "build_steps_s": {}, "startup_s": 17.5},
        "cli": {"total_s": 3.0, "command": "build --family over_wall --variants 1"},
        "ui_to_cli": 2.0,
    }
    text = latency_table(result)
    assert "the stack started (not in the total)" in text and "17.5" in text
    assert "deployment / CLI: 2.00×" in text


def test_the_request_and_release_sensors_react_in_seconds_and_a_run_keeps_to_one_process() -> None:
    assert new_requests.minimum_interval_seconds <= 2
    assert release_after_build.minimum_interval_seconds <= 2
    for name in ("build_partition", "release_dataset"):
        assert defs.resolve_job_def(name).executor_def is in_process_executor, name
    assert defs.resolve_job_def("build_partition_in_docker").executor_def is not in_process_executor


def test_a_new_dagster_home_dequeues_runs_every_second_and_an_old_default_one_is_brought_up_to_date(
    tmp_path: Path,
) -> None:
    fresh = init_dagster_home(tmp_path / "fresh")
    old = tmp_path / "old"
    old.mkdir()
    (old / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    own = tmp_path / "own"
    own.mkdir()
    (own / "dagster.yaml").write_text("telemetry:\n  enabled: true\n")
    for home in (fresh, init_dagster_home(old)):
        with DagsterInstance.from_config(str(home)) as instance:
            assert instance.run_coordinator.dequeue_interval_seconds == 1  # type: ignore[attr-defined]
    init_dagster_home(own)
    assert (own / "dagster.yaml").read_text() == "telemetry:\n  enabled: true\n"  # a user's own


def test_a_latency_run_of_an_unknown_family_is_a_usage_error_before_anything_starts(
    tmp_path: Path,
) -> None:
    result = CliRunner().invoke(
        main, ["bench", "--latency", "--family", "nope", "--out", str(tmp_path)]
    )
    assert result.exit_code == 2 and "unknown family 'nope'" in result.output
    assert not list(tmp_path.iterdir())
