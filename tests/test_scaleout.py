"""A partition run with one container per step through dagster-docker's docker_executor, on
the local Docker daemon, sharing the data folder and the Dagster instance."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import docker
import pytest
import yaml
from dagster import AssetKey, DagsterEventType, DagsterInstance, DagsterRunStatus

from benchgen_dagster.assets.partitions import requests_partitions
from benchgen_dagster.orchestration.build import dagster_home
from benchgen_dagster.orchestration.scaleout import (
    STEP_IMAGE,
    docker_executor_config,
    ensure_step_image,
)
from benchgen_dagster.sandbox.docker import docker_available
from benchgen_dagster.sandbox.runner import PACKAGE_ROOT

JOB = "build_partition_in_docker"


@pytest.fixture
def daemon() -> docker.DockerClient:
    if not docker_available():
        if os.environ.get("CI") == "true":
            pytest.fail("no Docker daemon; `make test` installs and starts it")
        pytest.skip("no Docker daemon")
    return docker.from_env()


def test_each_step_of_a_partition_runs_in_its_own_container(
    daemon: docker.DockerClient, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = tmp_path / "data"
    monkeypatch.setenv("DAGSTER_HOME", str(data / "dagster"))  # restored after the test
    home = dagster_home(data)
    config = tmp_path / "run.yaml"
    config.write_text(yaml.safe_dump(docker_executor_config(data, home, ensure_step_image())))
    with DagsterInstance.get() as instance:
        instance.add_dynamic_partitions(requests_partitions.name, ["ball_bin"])

    command = [
        str(Path(sys.executable).parent / "dagster"), "job", "execute",
        "-m", "benchgen_dagster.orchestration.definitions", "-j", JOB, "-c", str(config),
        "--tags", json.dumps({"dagster/partition": "ball_bin"}),
    ]  # fmt: skip
    environment = {**os.environ, "BENCHGEN_DATA_DIR": str(data), "BENCHGEN_VARIANTS": "2"}
    done = subprocess.run(
        command, cwd=PACKAGE_ROOT, env=environment, capture_output=True, text=True, timeout=1200
    )

    with DagsterInstance.get() as instance:
        [run] = instance.get_runs()
        events = [e.dagster_event for e in instance.all_logs(run.run_id) if e.dagster_event]
        shards = instance.get_latest_materialization_event(AssetKey("dataset_shards"))
    containers = {
        e.step_key: e.event_specific_data.metadata["Docker container id"].value  # type: ignore[union-attr]
        for e in events
        if e.event_type == DagsterEventType.STEP_WORKER_STARTING
    }
    try:
        assert done.returncode == 0, done.stderr[-3000:]
        assert run.status == DagsterRunStatus.SUCCESS and run.job_name == JOB
        succeeded = {e.step_key for e in events if e.event_type == DagsterEventType.STEP_SUCCESS}
        assert "scenario_variants" in succeeded and "dataset_shards" in succeeded
        assert set(containers) == succeeded and len(set(containers.values())) == len(succeeded)
        for container_id in containers.values():
            container = daemon.containers.get(container_id)
            assert container.image.tags == [STEP_IMAGE]
            assert container.attrs["HostConfig"]["NetworkMode"] == "none"
            assert container.attrs["State"]["ExitCode"] == 0
        assert shards is not None and shards.dagster_event.partition == "ball_bin"  # type: ignore[union-attr]
        assert list((data / "assets" / "dataset_shards" / "ball_bin").glob("*.tar"))
    finally:
        for container_id in containers.values():
            daemon.containers.get(container_id).remove(force=True)
