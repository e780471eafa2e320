"""The production stack of `deploy/`, for real: PostgreSQL from Debian's packages, the S3
server, the code server, the daemon and the web server, started by `Stack.up` as `benchgen
stack up` starts them. Three requests are dropped for the `new_requests` sensor at once; the
daemon launches each run in a container through the queue (two at a time), each step runs in
a container of its own, the shards land on S3 only, and the release's lineage is read back
from PostgreSQL through Dagster's GraphQL API. Faults on the way: the database restarts while
runs are in a step; one run's step container is killed mid-step (the step is retried in
another), then that run's own container (the run fails, and its repair completes).

One stack serves every test of the module; the tests read what its runs did, in order.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import docker
import pytest

from benchgen_dagster.catalogue.requests import RequestBook
from benchgen_dagster.orchestration.scaleout import STEP_IMAGE, host_mounts, step_environment
from benchgen_dagster.sandbox.docker import docker_available
from benchgen_dagster.sandbox.runner import PACKAGE_ROOT
from benchgen_dagster.schema.records import GenerationRequest
from benchgen_dagster.stack.postgres import postgres_bin
from benchgen_dagster.stack.s3server import free_ports
from benchgen_dagster.stack.services import (
    LOCATION,
    Stack,
    StackError,
    code_server_answers,
    graphql,
    stack_environment,
)

pytestmark = [pytest.mark.docker, pytest.mark.slow]

MAX_RUNS = 2
FAMILY = "over_wall"
DEADLINE = 1500.0  # seconds for a run on a busy machine; polled, never slept
RUNS = """query($partition: String!) { runsOrError(filter: {tags: [
  {key: "dagster/partition", value: $partition}]}) { ... on Runs { results {
  runId status jobName startTime endTime tags { key value } } } } }"""
ALL_RUNS = """{ runsOrError { ... on Runs { results {
  runId status jobName startTime endTime } } } }"""
STEP_WORKERS = """query($run: ID!) { logsForRun(runId: $run) { __typename
  ... on PythonError { message } ... on EventConnection {
  events { __typename ... on StepWorkerStartingEvent { stepKey metadataEntries { label
  ... on TextMetadataEntry { text } } } ... on ExecutionStepSuccessEvent { stepKey }
  ... on ExecutionStepUpForRetryEvent { stepKey } } } } }"""
RELEASE = """{ assetOrError(assetKey: {path: ["dataset_release"]}) { ... on Asset {
  assetMaterializations(limit: 1) { runId metadataEntries { label
  ... on JsonMetadataEntry { jsonString } } } } } }"""
TERMINAL = {"SUCCESS", "FAILURE", "CANCELED"}
SECOND_SERVER = ["-h", "0.0.0.0", "-p", "4000", "-m", "benchgen_dagster.orchestration.definitions"]


@dataclass
class Deployment:
    stack: Stack
    requests: list[str]  # request ids: the first two run at once, the third waits
    started_in: float
    killed: dict[str, str] = field(default_factory=dict)  # what the kill test found
    restarted_at: float | None = None  # when the database restarted

    @property
    def victim(self) -> str:
        """The request whose run is killed: one of the two that start at once."""
        return self.requests[1]

    def query(self, text: str, **variables: Any) -> dict:
        return graphql(self.stack.web_url, text, variables)

    def runs(self, partition: str) -> list[dict]:
        return self.query(RUNS, partition=partition)["runsOrError"]["results"]

    def wait_for(self, what: str, found: Callable[[], Any], deadline: float = DEADLINE) -> Any:
        """Poll `found` until it returns something; an answer the web server could not give
        (its database restarting) counts as not yet."""
        until = time.monotonic() + deadline
        while True:
            with contextlib.suppress(StackError):
                if result := found():
                    return result
            if time.monotonic() > until:
                pytest.fail(f"{what}: not within {deadline:.0f} s")
            time.sleep(1)

    def successful_run(self, partition: str) -> dict:
        return self.wait_for(
            f"a successful run of {partition}",
            lambda: next((r for r in self.runs(partition) if r["status"] == "SUCCESS"), None),
        )

    def events(self, run_id: str) -> list[dict]:
        answer = self.query(STEP_WORKERS, run=run_id)["logsForRun"]
        if "events" not in answer:  # the web server could not read them this time
            raise StackError(f"the events of run {run_id}: {answer}")
        return answer["events"]

    def step_containers(self, run_id: str) -> dict[str, str]:
        """Step key → the id of the container the step ran in (its latest attempt)."""
        events = self.events(run_id)
        return {
            e["stepKey"]: entry["text"]
            for e in events
            if e["__typename"] == "StepWorkerStartingEvent"
            for entry in e["metadataEntries"]
            if entry["label"] == "Docker container id"
        }

    def s3(self) -> Any:
        import boto3

        env = self.stack.env
        return boto3.client(
            "s3",
            endpoint_url=env["BENCHGEN_S3_ENDPOINT"],
            aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"],
            region_name=env["AWS_REGION"],
        )

    def s3_keys(self, under: str = "") -> list[str]:
        env = self.stack.env
        prefix = f"{env['BENCHGEN_S3_PREFIX']}/{under}"
        pages = (
            self.s3()
            .get_paginator("list_objects_v2")
            .paginate(Bucket=env["BENCHGEN_S3_BUCKET"], Prefix=prefix)
        )
        return [item["Key"] for page in pages for item in page.get("Contents", [])]

    def step_event(self, run_id: str, kind: str, step: str) -> bool:
        return any(
            e["__typename"] == kind and e.get("stepKey") == step for e in self.events(run_id)
        )

    def step_succeeded(self, run_id: str, step: str) -> bool:
        return self.step_event(run_id, "ExecutionStepSuccessEvent", step)


def _require_services() -> None:
    missing = []
    if not docker_available():
        missing.append("a Docker daemon")
    try:
        postgres_bin()
    except Exception:
        missing.append("PostgreSQL (postgresql-15)")
    if missing:
        if os.environ.get("CI") == "true":
            pytest.fail(f"missing {', '.join(missing)}; `make test` installs them")
        pytest.skip(f"missing {', '.join(missing)}")


@pytest.fixture(scope="module")
def deployment() -> Iterator[Deployment]:
    _require_services()
    # PostgreSQL runs as `postgres`, which must reach its folder: not under pytest's private
    # temporary folder.
    root = Path(tempfile.mkdtemp(prefix="benchgen-deploy-"))
    root.chmod(0o755)
    pg, s3, code, web = free_ports(4)
    overrides = {
        "BENCHGEN_STACK_DIR": str(root / "stack"),
        "BENCHGEN_DATA_DIR": str(root / "data"),
        "BENCHGEN_VARIANTS": "1",
        "BENCHGEN_WORKERS": "1",
        "BENCHGEN_MAX_RUNS": str(MAX_RUNS),
        "BENCHGEN_PG_PORT": str(pg),
        "BENCHGEN_S3_ENDPOINT": f"http://127.0.0.1:{s3}",
        "BENCHGEN_S3_PREFIX": f"deploy-{secrets.token_hex(4)}",
        "BENCHGEN_CODE_PORT": str(code),
        "BENCHGEN_WEB_PORT": str(web),
    }
    environ = {k: v for k, v in os.environ.items() if k not in ("BENCHGEN_PG_PASSWORD",)}
    stack = Stack(stack_environment({**environ, **overrides}), say=lambda _: None)
    started = time.perf_counter()
    try:
        stack.up()
        started_in = time.perf_counter() - started
        book = RequestBook(root / "data" / "requests", builtin_variants=1)
        requests = []
        for number in range(3):
            request = GenerationRequest(
                request_id=f"wall-{number}",
                prompt=f"a ball must clear a wall ({number})",
                family=FAMILY,
                variants=1,
                seed_start=1 + number,
            )
            book.submit(request)
            requests.append(request.request_id)
        yield Deployment(stack, requests, started_in)
    finally:
        stack.down()
        shutil.rmtree(root, ignore_errors=True)


def test_the_stack_comes_up_and_every_daemon_beats(deployment: Deployment) -> None:
    state = deployment.stack.status()
    assert all(state.values()), state
    assert deployment.started_in > 0


def test_a_second_code_server_in_its_own_network_namespace_serves_the_same_definitions(
    deployment: Deployment,
) -> None:
    from dagster import DagsterInstance
    from dagster._core.remote_origin import GrpcServerCodeLocationOrigin

    client = docker.from_env()
    [port] = free_ports(1)
    container = client.containers.run(
        STEP_IMAGE,
        [str(Path(sys.executable).parent / "dagster"), "code-server", "start", *SECOND_SERVER],
        detach=True,
        ports={"4000/tcp": ("127.0.0.1", port)},
        volumes=host_mounts(),
        working_dir=str(PACKAGE_ROOT),
        environment=dict(variable.split("=", 1) for variable in step_environment()),
        user="0",
        labels={"benchgen.test": "second-code-server"},
    )
    try:
        deployment.wait_for(
            "the second code server", lambda: code_server_answers("127.0.0.1", port), 300
        )
        container.reload()
        assert container.attrs["HostConfig"]["NetworkMode"] != "host"
        assert container.attrs["NetworkSettings"]["IPAddress"]  # an address of its own

        def served(host: str, port: int) -> tuple[set[str], set[str]]:
            origin = GrpcServerCodeLocationOrigin(host=host, port=port, location_name=LOCATION)
            with (
                DagsterInstance.ephemeral() as instance,
                origin.create_location(instance) as location,
            ):
                [repository] = location.get_repositories().values()
                jobs = {job.name for job in repository.get_all_jobs()}
                sensors = {sensor.name for sensor in repository.get_sensors()}
            return jobs, sensors

        env = deployment.stack.env
        first = served(env["BENCHGEN_CODE_HOST"], int(env["BENCHGEN_CODE_PORT"]))
        assert served("127.0.0.1", port) == first
        assert "build_partition" in first[0] and "new_requests" in first[1]
    finally:
        container.remove(force=True)


def test_the_database_restarts_while_runs_are_in_a_step(deployment: Deployment) -> None:
    """The restart itself; what became of the runs is read once they ended (below)."""
    first = deployment.requests[0]

    def a_step_running() -> bool:
        runs = deployment.runs(first)
        started = [r for r in runs if r["status"] == "STARTED"]
        return any(len(deployment.step_containers(r["runId"])) >= 2 for r in started)

    deployment.wait_for("a run in its second step", a_step_running)
    deployment.stack.postgres().restart()
    deployment.restarted_at = time.time()
    deployment.wait_for("the web server reading PostgreSQL again", lambda: deployment.runs(first))


def test_a_killed_step_container_is_retried_within_its_run(deployment: Deployment) -> None:
    victim = deployment.victim
    client = docker.from_env()

    def variants_running() -> tuple[str, str] | None:
        for run in deployment.runs(victim):
            if run["status"] == "STARTED":
                container_id = deployment.step_containers(run["runId"]).get("scenario_variants")
                if container_id and client.containers.get(container_id).status == "running":
                    return run["runId"], container_id
        return None

    run_id, step_container = deployment.wait_for("the victim's variants step", variants_running)
    client.containers.get(step_container).kill()
    deployment.wait_for(
        "the step's retry in another container",
        lambda: (
            deployment.step_containers(run_id).get("scenario_variants") != step_container
            and deployment.step_event(run_id, "ExecutionStepUpForRetryEvent", "scenario_variants")
        ),
    )
    deployment.killed["run"] = run_id


def test_a_killed_run_container_fails_its_run_in_postgres_and_leaves_nothing_half_written(
    deployment: Deployment,
) -> None:
    from benchgen_dagster.stores.bundles import RECORD_FILE
    from benchgen_dagster.stores.s3 import S3Store

    victim, run_id = deployment.victim, deployment.killed.get("run")
    assert run_id, "the step-kill test did not run"
    client = docker.from_env()
    [run] = [r for r in deployment.runs(victim) if r["runId"] == run_id]
    run_container = client.containers.get(
        {t["key"]: t["value"] for t in run["tags"]}["docker/container_id"]
    )
    if run_container.status == "running":
        run_container.kill()
    deployment.wait_for(
        "the killed run marked failed",
        lambda: any(
            r["runId"] == run_id and r["status"] == "FAILURE" for r in deployment.runs(victim)
        ),
    )
    env = deployment.stack.env
    store = S3Store(deployment.s3(), env["BENCHGEN_S3_BUCKET"], env["BENCHGEN_S3_PREFIX"])
    repaired = [r["runId"] for r in deployment.runs(victim) if r["runId"] != run_id]
    for asset in ("scenario_variants", "validated_simulations", "scenario_renders"):
        # A value looks complete once its record is there; then every file it lists is too.
        prefix = f"assets/{asset}/{victim}"
        keys = set(deployment.s3_keys(prefix + "/"))
        if store.exists(f"{prefix}/{RECORD_FILE}"):
            envelope = json.loads(store.get(f"{prefix}/{RECORD_FILE}"))
            listed = {f"{env['BENCHGEN_S3_PREFIX']}/{prefix}/{n}" for n in envelope["files"]}
            assert listed <= keys, sorted(listed - keys)
    if not any(deployment.step_succeeded(r, "dataset_shards") for r in repaired):
        assert deployment.s3_keys(f"assets/dataset_shards/{victim}/") == []
    uploads = deployment.s3().list_multipart_uploads(Bucket=env["BENCHGEN_S3_BUCKET"])
    assert not uploads.get("Uploads")


def test_the_repair_sensor_reruns_the_killed_partition_to_completion(
    deployment: Deployment,
) -> None:
    victim = deployment.victim
    assert deployment.killed, "the kill tests did not run"
    repaired = deployment.successful_run(victim)
    tags = {t["key"]: t["value"] for t in repaired["tags"]}
    assert tags.get("benchgen/trigger") == "repair"
    assert deployment.s3_keys(f"assets/dataset_shards/{victim}/")


def test_the_daemon_launched_each_run_in_a_container(deployment: Deployment) -> None:
    client = docker.from_env()
    for partition in deployment.requests:
        run = deployment.successful_run(partition)
        tags = {t["key"]: t["value"] for t in run["tags"]}
        container = client.containers.get(tags["docker/container_id"])
        assert container.image.tags == [STEP_IMAGE]
        assert container.labels["dagster/run_id"] == run["runId"]
        assert container.attrs["State"]["ExitCode"] == 0


def test_each_step_ran_in_a_container_of_its_own(deployment: Deployment) -> None:
    client = docker.from_env()
    for partition in deployment.requests:
        run = deployment.successful_run(partition)
        steps = deployment.step_containers(run["runId"])
        assert {"scenario_variants", "validated_simulations", "dataset_shards"} <= set(steps)
        assert len(set(steps.values())) == len(steps)
        for container_id in steps.values():
            container = client.containers.get(container_id)
            assert container.image.tags == [STEP_IMAGE]
            assert "/var/run/docker.sock" not in str(container.attrs["Mounts"])


def test_the_shards_land_on_s3_only(deployment: Deployment) -> None:
    for partition in deployment.requests:
        deployment.successful_run(partition)
        shards = deployment.s3_keys(f"assets/dataset_shards/{partition}/")
        assert any(key.endswith(".tar") for key in shards), shards
    data = Path(deployment.stack.env["BENCHGEN_DATA_DIR"])
    assert not list(data.rglob("*.tar"))
    assert not (data / "assets").exists() and not (data / "datasets").exists()
    logs = deployment.s3_keys("storage/")
    assert any("compute_logs" in key for key in logs), "the steps' logs are not on S3"


def test_every_run_ended_whole_after_the_database_restart(deployment: Deployment) -> None:
    assert deployment.restarted_at, "the restart test did not run"
    for partition in deployment.requests:
        deployment.successful_run(partition)

    def every_run_ended() -> bool:
        runs = deployment.query(ALL_RUNS)["runsOrError"]["results"]
        return all(r["status"] in TERMINAL and r["endTime"] for r in runs)

    deployment.wait_for("every run ended", every_run_ended)


def test_two_partitions_ran_at_once_and_never_more_than_the_limit(
    deployment: Deployment,
) -> None:
    for partition in deployment.requests:
        deployment.successful_run(partition)
    runs = deployment.query(ALL_RUNS)["runsOrError"]["results"]
    spans = [(r["startTime"], r["endTime"] or time.time()) for r in runs if r["startTime"]]
    moments = sorted({start for start, _ in spans})
    in_progress = [sum(1 for s, e in spans if s <= t < e) for t in moments]
    assert max(in_progress) == MAX_RUNS


def test_the_release_lineage_reads_back_from_postgres_through_graphql(
    deployment: Deployment,
) -> None:
    runs = {p: deployment.successful_run(p)["runId"] for p in deployment.requests}

    def release_of_all() -> list[dict] | None:
        with contextlib.suppress(KeyError, TypeError, ValueError):
            [latest] = deployment.query(RELEASE)["assetOrError"]["assetMaterializations"]
            entries = {e["label"]: e.get("jsonString") for e in latest["metadataEntries"]}
            partitions = json.loads(entries["partitions"])
            if set(runs) <= {p["request_id"] for p in partitions}:
                return partitions
        return None

    releases = [
        r
        for r in deployment.query(ALL_RUNS)["runsOrError"]["results"]
        if r["jobName"] == "release_dataset"
    ]
    assert any(r["status"] == "SUCCESS" for r in releases), releases
    partitions = deployment.wait_for("a release of every partition", release_of_all)
    lineage = {p["request_id"]: p for p in partitions}
    for partition, run_id in runs.items():
        assert run_id in str(lineage[partition]), lineage[partition]
    assert deployment.s3_keys("datasets/default/manifest.json")
