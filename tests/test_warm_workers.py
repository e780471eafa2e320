"""Warm workers: one template per sandbox imports build123d once and forks a fresh child per
batch; nothing a batch leaves behind reaches the next, and nothing outlives the owner."""

from __future__ import annotations

import dataclasses
import os
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import docker
import pytest
from dagster import build_init_resource_context

from benchgen_dagster.orchestration.build import BuildTarget, PartitionResult, in_pool
from benchgen_dagster.resources import SandboxResource
from benchgen_dagster.sandbox.keeper import KEEPER_ENV, keeping
from benchgen_dagster.sandbox.protocol import Job, RawVariant, ScriptFailure
from benchgen_dagster.sandbox.reaper import OWNER_LABEL
from benchgen_dagster.sandbox.runner import run_batch
from benchgen_dagster.sandbox.warm import idle_workers, keep_warm, stop_warm_workers
from benchgen_dagster.schema.contract import Reason
from tests.helpers import SCRIPTS
from tests.test_sandbox import LIMITS, require

TRACES = (SCRIPTS / "leave_traces.py").read_text()
DEADLINE_S = 120
# A warm template imports build123d before its first batch: generous on a loaded machine.
WARM_LIMITS = dataclasses.replace(LIMITS, startup_timeout_s=600)


@pytest.fixture
def warm() -> Iterator[None]:
    keep_warm()
    yield
    stop_warm_workers()


def traces_job(mode: str, marker: int) -> list[Job]:
    return [Job(0, 0, {"mode": mode, "marker_seconds": marker})]


def survivors(marker: int) -> str:
    found = subprocess.run(["pgrep", "-f", f"sleep {marker}"], capture_output=True, text=True)
    return found.stdout.strip()


@pytest.mark.parametrize("kind", ["docker", "bubblewrap"])
def test_a_batch_leaves_nothing_behind_for_the_next_on_the_same_warm_worker(
    kind: str, warm: None
) -> None:
    launcher = require(kind)
    marker = 800_000 + secrets.randbelow(99_999)
    (left,) = run_batch(TRACES, traces_job("leave", marker), launcher, WARM_LIMITS).outcomes
    assert isinstance(left, RawVariant), left
    assert idle_workers() == 1
    assert not survivors(marker), "a process of the batch outlived it"
    (looked,) = run_batch(TRACES, traces_job("look", marker), launcher, WARM_LIMITS).outcomes
    assert isinstance(looked, RawVariant), looked.message  # the script found no trace
    assert looked.build.params["served_by"] == left.build.params["served_by"]
    assert looked.build.params["warm"] is True  # build123d was imported before the script


def test_a_worker_whose_batch_failed_is_not_given_another(warm: None) -> None:
    launcher = require("bubblewrap")
    source = (SCRIPTS / "hostile" / "syntax_error.py").read_text()
    (failed,) = run_batch(source, [Job(0, 0)], launcher, WARM_LIMITS).outcomes
    assert isinstance(failed, ScriptFailure) and failed.reason is Reason.script_error
    assert idle_workers() == 0


def test_without_keep_warm_no_worker_is_kept() -> None:
    marker = 800_000 + secrets.randbelow(99_999)
    result = run_batch(TRACES, traces_job("leave", marker), require("bubblewrap"), WARM_LIMITS)
    assert isinstance(result.outcomes[0], RawVariant)
    assert result.outcomes[0].build.params["warm"] is False
    assert idle_workers() == 0


OWNER = """
import sys
from benchgen_dagster.sandbox import warm
from benchgen_dagster.sandbox.keeper import KEEPER_ENV, keeping
from benchgen_dagster.sandbox.protocol import Job
from benchgen_dagster.sandbox.runner import Limits, run_batch
from benchgen_dagster.sandbox.select import choose_launcher

warm.keep_warm()
source = open(sys.argv[2]).read()
job = Job(0, 0, {"mode": "leave", "marker_seconds": int(sys.argv[3])})
run_batch(source, [job], choose_launcher(sys.argv[1]), Limits(startup_timeout_s=300))
(idle,) = [w for pool in warm._idle.values() for w in pool]
print(idle.root, flush=True)
sys.stdin.read()
"""


@pytest.mark.parametrize("kind", ["docker", "bubblewrap"])
def test_a_killed_owner_leaves_no_warm_worker_behind(kind: str) -> None:
    require(kind)
    marker = 800_000 + secrets.randbelow(99_999)
    owner = subprocess.Popen(
        [sys.executable, "-c", OWNER, kind, str(SCRIPTS / "leave_traces.py"), str(marker)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert owner.stdout is not None
        root = owner.stdout.readline().strip()  # its warm worker waits for a batch
        assert root and running(root)
        client = docker.from_env()
        mine = {"label": f"{OWNER_LABEL}={owner.pid}"}
        assert len(client.containers.list(filters=mine)) == (kind == "docker")
        os.kill(owner.pid, signal.SIGKILL)
        owner.wait()
        deadline = time.monotonic() + DEADLINE_S
        while running(root) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not running(root)
        while client.containers.list(all=True, filters=mine) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert client.containers.list(all=True, filters=mine) == []
        while Path(root).exists() and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not Path(root).exists()  # its folder too, by the owner's watchdog
    finally:
        owner.kill()
        owner.wait()


def running(root: str) -> bool:
    """Whether a process started with this worker folder on its command line still runs."""
    found = subprocess.run(["pgrep", "-f", root], capture_output=True, text=True)
    return bool(found.stdout.strip())


def test_a_dagster_runs_sandbox_keeps_its_worker_warm_until_the_run_ends() -> None:
    require("bubblewrap")
    marker = 800_000 + secrets.randbelow(99_999)
    resource = SandboxResource(kind="bubblewrap")
    with resource.from_resource_context_cm(build_init_resource_context()) as sandbox:
        served = []
        for mode in ("leave", "look"):
            result = run_batch(TRACES, traces_job(mode, marker), sandbox.launcher(), WARM_LIMITS)
            (outcome,) = result.outcomes
            assert isinstance(outcome, RawVariant), outcome
            served.append(outcome.build.params["served_by"])
        assert served[0] == served[1] and idle_workers() == 1
    assert idle_workers() == 0


def served_by_a_warm_worker(partition: str, target: BuildTarget) -> PartitionResult:
    """A partition's stand-in: one batch on the process's bubblewrap worker; which template
    served it goes into a file named after the partition."""
    job = traces_job("build", 800_000 + secrets.randbelow(99_999))
    (outcome,) = run_batch(TRACES, job, require("bubblewrap"), WARM_LIMITS).outcomes
    assert isinstance(outcome, RawVariant), outcome
    served = f"{outcome.build.params['served_by']} warm={outcome.build.params['warm']}"
    (target.data_dir / f"{partition}.served").write_text(served)
    return PartitionResult(partition, True, 0.0)


def test_a_builds_pool_process_keeps_its_warm_worker_from_partition_to_partition(
    tmp_path: Path,
) -> None:
    require("bubblewrap")
    target = BuildTarget(tmp_path, tmp_path / "dagster", variants=1)
    results: list[PartitionResult] = []
    crashed = in_pool(["a", "b"], target, 1, results.append, run=served_by_a_warm_worker)
    assert not crashed and all(r.success for r in results), results
    first, second = ((tmp_path / f"{p}.served").read_text() for p in ("a", "b"))
    assert first == second and first.endswith("warm=True")


ADOPTER = """
import sys
from benchgen_dagster.sandbox import warm
from benchgen_dagster.sandbox.keeper import KEEPER_ENV, keeping
from benchgen_dagster.sandbox.protocol import Job
from benchgen_dagster.sandbox.runner import Limits, run_batch
from benchgen_dagster.sandbox.select import choose_launcher

warm.keep_warm()
job = Job(0, 0, {"mode": "leave", "marker_seconds": int(sys.argv[2])})
limits = Limits(**eval(sys.argv[3]))
(outcome,) = run_batch(open(sys.argv[1]).read(), [job], choose_launcher("docker"), limits).outcomes
(idle,) = [w for pool in warm._idle.values() for w in pool]
print(idle.process.name, idle.root, outcome.build.params["warm"], flush=True)
sys.stdin.read()
"""


def test_a_kept_warm_worker_serves_the_first_process_that_asks_and_ends_with_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    launcher = require("docker")
    client = docker.from_env()
    mine = {"label": f"{OWNER_LABEL}={os.getpid()}"}

    def kept() -> set[str]:
        return {c.name for c in client.containers.list(filters=mine)}

    with keeping(launcher, WARM_LIMITS) as keeper:
        monkeypatch.setenv(KEEPER_ENV, str(keeper.path))
        assert keeper.waiting.wait(DEADLINE_S)
        ready = kept()
        deadline = time.monotonic() + DEADLINE_S
        marker = 800_000 + secrets.randbelow(99_999)
        limits = repr(dataclasses.asdict(WARM_LIMITS))
        owner = subprocess.Popen(
            [sys.executable, "-c", ADOPTER, str(SCRIPTS / "leave_traces.py"), str(marker), limits],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        try:
            assert owner.stdout is not None
            name, root, was_warm = owner.stdout.readline().split()
            assert {name} == ready and was_warm == "True"  # the keeper's, build123d imported
            os.kill(owner.pid, signal.SIGKILL)
            owner.wait()
            while name in kept() and time.monotonic() < deadline:
                time.sleep(0.2)
            assert name not in kept()  # it ended with the process it served
            while Path(root).exists() and time.monotonic() < deadline:
                time.sleep(0.2)
            assert not Path(root).exists()  # the keeper removed its folder
            while not (after := kept()) and time.monotonic() < deadline:
                time.sleep(0.2)
            assert after and name not in after  # and the keeper has the next one ready
            assert not survivors(marker)
        finally:
            owner.kill()
            owner.wait()
    assert kept() == set()
