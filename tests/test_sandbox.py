"""Hostile and broken scripts are contained by every sandbox, each with its reason code.

Docker and bubblewrap run for real: in CI (CI=true) a missing one fails these tests.
Every attack is bounded, so a broken sandbox cannot take the machine down.
"""

from __future__ import annotations

import dataclasses
import os
import secrets
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path

import docker
import pytest
from dagster import DagsterInstance

import benchgen_dagster
from benchgen_dagster.resources import (
    AgentResource,
    BundleIOManager,
    PipelineSettings,
    SandboxResource,
    StorageResource,
)
from benchgen_dagster.resources.storage import asset_prefix
from benchgen_dagster.sandbox.docker import DockerLauncher, docker_available
from benchgen_dagster.sandbox.image import ensure_image
from benchgen_dagster.sandbox.processes import BubblewrapLauncher, SubprocessLauncher
from benchgen_dagster.sandbox.protocol import Job, ScriptFailure
from benchgen_dagster.sandbox.reaper import OWNER_LABEL
from benchgen_dagster.sandbox.runner import Launcher, Limits, run_batch
from benchgen_dagster.sandbox.select import SandboxUnavailable, choose_launcher
from benchgen_dagster.schema.contract import Reason, Stage
from benchgen_dagster.schema.records import RECORD_TYPES
from benchgen_dagster.stores.bundles import read_bundle
from tests.helpers import SCRIPTS, build_request, validate_all

HOSTILE = SCRIPTS / "hostile"
# The clock decides only the attacks that never end; every other attack meets its own limit
# (memory, processes, output) long before a generous timeout, even on a loaded machine.
LIMITS = Limits(
    variant_timeout_s=60, startup_timeout_s=60, memory_mb=512, max_processes=64, max_output_mb=16
)
TIMEOUT_LIMITS = dataclasses.replace(LIMITS, variant_timeout_s=4)
SECRET_NAME = "BENCHGEN_TEST_SECRET"

EXPECTED: dict[str, tuple[Stage, Reason]] = {
    "infinite_loop": (Stage.run, Reason.script_timeout),
    "sleep_forever": (Stage.run, Reason.script_timeout),
    "memory_bomb": (Stage.run, Reason.script_memory),
    "fork_storm": (Stage.run, Reason.script_process_limit),
    "network_access": (Stage.run, Reason.script_denied),
    "read_secrets": (Stage.run, Reason.script_error),
    "write_outside": (Stage.run, Reason.script_denied),
    "read_host_file": (Stage.run, Reason.script_error),
    "segfault": (Stage.run, Reason.script_crashed),
    "early_exit": (Stage.run, Reason.script_crashed),
    "output_flood": (Stage.run, Reason.script_output_too_large),
    "disk_fill": (Stage.run, Reason.script_output_too_large),
    "syntax_error": (Stage.run, Reason.script_error),
    "nan_geometry": (Stage.run, Reason.script_output_invalid),
    "patch_validator": (Stage.trivial, Reason.trivial),
    "stopped_child": (Stage.run, Reason.script_timeout),
    "detached_child": (Stage.run, Reason.script_crashed),
}
# Attacks on isolation (network, files, secrets) succeed against a plain subprocess by design;
# it is held only to limits and to the whole-tree kill.
ISOLATION_ATTACKS = {
    "network_access",
    "read_secrets",
    "write_outside",
    "read_host_file",
    "patch_validator",
}


def require(kind: str) -> Launcher:
    """The launcher of a sandbox kind; missing in CI is a failure, elsewhere a skip."""
    launcher: Launcher | None = None
    if kind == "docker" and docker_available():
        launcher = DockerLauncher(ensure_image())
    elif kind == "bubblewrap" and BubblewrapLauncher.available():
        launcher = BubblewrapLauncher()
    elif kind == "subprocess":
        launcher = SubprocessLauncher()
    if launcher is None:
        message = f"the {kind} sandbox is not available on this machine"
        if os.environ.get("CI") == "true":
            pytest.fail(f"{message}; `make test` installs and starts it")
        pytest.skip(message)
    return launcher


@pytest.fixture
def host(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, object]]:
    """What an attack reaches for: a secret in the caller's environment, a file and a server
    on the host, and a unique marker for processes that must not survive."""
    secret = f"s3cr3t-{secrets.token_hex(8)}"
    monkeypatch.setenv(SECRET_NAME, secret)
    host_file = tmp_path / "host-secret.txt"
    host_file.write_text(secret)
    server = socket.create_server(("127.0.0.1", 0))
    server.setblocking(False)
    marker = 900_000 + secrets.randbelow(99_999)
    yield {
        "secret": secret,
        "host_file": str(host_file),
        "server": server,
        "params": {
            "secret_name": SECRET_NAME,
            "host_file": str(host_file),
            "host_port": server.getsockname()[1],
            "marker_seconds": marker,
            "file_name": f"written-{marker}.txt",
        },
    }
    server.close()
    subprocess.run(["pkill", "-9", "-f", f"sleep {marker}"], check=False)


def run_hostile(launcher: Launcher, name: str, params: dict[str, object]):  # type: ignore[no-untyped-def]
    source = (HOSTILE / f"{name}.py").read_text()
    limits = TIMEOUT_LIMITS if EXPECTED[name][1] is Reason.script_timeout else LIMITS
    result = run_batch(source, [Job(0, 0, dict(params))], launcher, limits)
    (validated,) = validate_all(name, result.outcomes)
    return result, validated


def assert_contained(name: str, host: dict[str, object], result, validated) -> None:  # type: ignore[no-untyped-def]
    rejection = validated.report.rejection
    assert rejection is not None, f"{name} was accepted"
    assert (rejection.stage, rejection.reason) == EXPECTED[name], rejection.message
    texts = [rejection.message, result.console]
    texts += [o.message for o in result.outcomes if isinstance(o, ScriptFailure)]
    assert not any(str(host["secret"]) in text for text in texts), "the secret leaked"
    marker = host["params"]["marker_seconds"]  # type: ignore[index]
    survivors = subprocess.run(["pgrep", "-f", f"sleep {marker}"], capture_output=True, text=True)
    assert not survivors.stdout.strip(), f"processes outlived the batch: {survivors.stdout}"
    package = Path(benchgen_dagster.__file__).parent
    assert not (package / host["params"]["file_name"]).exists()  # type: ignore[index]
    server = host["server"]
    with pytest.raises(BlockingIOError):
        server.accept()  # type: ignore[attr-defined]


@pytest.mark.parametrize("name", sorted(EXPECTED))
@pytest.mark.parametrize("kind", ["docker", "bubblewrap"])
def test_a_hostile_script_is_contained_with_its_reason(kind: str, name: str, host) -> None:
    result, validated = run_hostile(require(kind), name, host["params"])
    assert_contained(name, host, result, validated)


@pytest.mark.parametrize("name", sorted(set(EXPECTED) - ISOLATION_ATTACKS))
def test_the_plain_subprocess_holds_limits_on_the_whole_tree(name: str, host) -> None:
    result, validated = run_hostile(require("subprocess"), name, host["params"])
    assert_contained(name, host, result, validated)


@pytest.mark.parametrize("kind", ["docker", "bubblewrap"])
def test_a_failing_variant_does_not_harm_the_others_in_its_batch(kind: str) -> None:
    modes = ["sound", "crash", "sound", "hang", "sound", "memory", "sound"]
    jobs = [Job(i, seed=i, params={"mode": mode}) for i, mode in enumerate(modes)]
    # The hang waits for its timeout, which must still come well after the memory limit.
    limits = dataclasses.replace(LIMITS, variant_timeout_s=20)
    result = run_batch((SCRIPTS / "mixed.py").read_text(), jobs, require(kind), limits)
    verdicts = [v.report.rejection for v in validate_all("mixed", result.outcomes)]
    expected = {
        "crash": Reason.script_crashed,
        "hang": Reason.script_timeout,
        "memory": Reason.script_memory,
    }
    for mode, rejection in zip(modes, verdicts, strict=True):
        if mode == "sound":
            assert rejection is None, rejection
        else:
            assert rejection is not None and rejection.reason is expected[mode], rejection
    assert result.worker_starts == 4  # one more worker after each of the three failures


def test_docker_containers_are_removed_after_every_batch(host) -> None:
    launcher = require("docker")
    for name in ("infinite_loop", "segfault", "syntax_error"):
        run_hostile(launcher, name, host["params"])
    client = docker.from_env()
    mine = {"label": f"{OWNER_LABEL}={os.getpid()}"}
    assert client.containers.list(all=True, filters=mine) == []


def test_docker_records_the_image_in_each_scenarios_lineage() -> None:
    launcher = require("docker")
    source = (SCRIPTS / "breakable.py").read_text()
    result = run_batch(source, [Job(0, 0, {"break": "none"})], launcher, LIMITS)
    (validated,) = validate_all("breakable", result.outcomes)
    assert result.sandbox.startswith("docker:benchgen-worker:")
    assert validated.report.accepted


def test_inside_dagster_the_docker_worker_reports_through_pipes(tmp_path: Path) -> None:
    require("docker")
    settings = PipelineSettings(data_dir=str(tmp_path), builtin_variants=2)
    storage = StorageResource(settings=settings)
    resources = {
        "settings": settings,
        "storage": storage,
        "io_manager": BundleIOManager(storage=storage),
        "sandbox": SandboxResource(kind="docker"),
        "agent": AgentResource(),
    }
    with DagsterInstance.ephemeral() as instance:
        result = build_request(
            instance,
            "ball_bin",
            resources,
            selection=[
                "generation_requests",
                "scenario_plans",
                "family_scripts",
                "scenario_variants",
            ],
        )
        assert result.success
        messages = [entry.user_message for entry in instance.all_logs(result.run_id)]
    assert any("external process successfully opened dagster pipes" in m for m in messages)
    assert any(m.startswith("seed 1: built") for m in messages)
    batch = read_bundle(
        storage.store(), asset_prefix("scenario_variants", "ball_bin"), RECORD_TYPES
    )
    assert batch.record.sandbox.startswith("docker:")  # type: ignore[union-attr]


def test_auto_steps_down_to_bubblewrap_with_a_warning(monkeypatch: pytest.MonkeyPatch) -> None:
    require("bubblewrap")
    monkeypatch.setattr("benchgen_dagster.sandbox.docker.docker_available", lambda: False)
    warnings: list[str] = []
    launcher = choose_launcher("auto", warn=warnings.append)
    assert launcher.name == "bubblewrap"
    assert warnings and "no Docker daemon answers" in warnings[0]


def test_asking_for_an_unavailable_sandbox_is_a_clear_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr("benchgen_dagster.sandbox.docker.docker_available", lambda: False)
    with pytest.raises(SandboxUnavailable, match="no Docker daemon answers"):
        choose_launcher("docker")
