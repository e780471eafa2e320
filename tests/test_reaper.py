"""Worker containers, folders and processes do not outlive their owner: a `benchgen build`
whose own process is killed with SIGKILL leaves no process of its pool running and no container
on the Docker daemon, and a process killed so leaves no worker folder in the temporary folder."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import docker
import pytest

from benchgen_dagster.sandbox.docker import docker_available
from benchgen_dagster.sandbox.image import image_exists, image_tag
from benchgen_dagster.sandbox.reaper import (
    NAMESPACE_LABEL,
    OWNER_LABEL,
    STARTED_LABEL,
    WORKER_LABEL,
    owner_gone,
    owner_labels,
    pid_namespace,
    process_start,
    reap_folders,
)
from benchgen_dagster.sandbox.runner import PACKAGE_ROOT


def test_a_running_owner_is_not_gone() -> None:
    assert not owner_gone(owner_labels())


def test_an_ended_owner_is_gone() -> None:
    child = subprocess.Popen(["sleep", "30"])
    labels = {
        OWNER_LABEL: str(child.pid),
        NAMESPACE_LABEL: pid_namespace(),
        STARTED_LABEL: process_start(child.pid) or "",
    }
    assert not owner_gone(labels)
    child.kill()
    child.wait()
    assert owner_gone(labels)


def test_an_owner_in_another_pid_namespace_is_left_alone() -> None:
    labels = {**owner_labels(), OWNER_LABEL: "999999", NAMESPACE_LABEL: "pid:[1]"}
    assert not owner_gone(labels)


BATCH_OWNER = """
import sys
from benchgen_dagster.sandbox.runner import temporary_folder

with temporary_folder() as folder:
    (folder / "in").mkdir()
    print(folder, flush=True)
    sys.stdin.read()
"""


def test_the_batch_folder_of_an_owner_killed_outright_is_removed_and_a_live_ones_kept() -> None:
    owner = subprocess.Popen(
        [sys.executable, "-c", BATCH_OWNER],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    legacy = Path(tempfile.mkdtemp(prefix="benchgen-batch-"))  # no owner in its name
    try:
        assert owner.stdout is not None
        folder = Path(owner.stdout.readline().strip())
        assert folder.name.startswith("benchgen-batch-") and (folder / "in").is_dir()
        reap_folders()
        assert folder.is_dir()  # its owner lives
        os.kill(owner.pid, signal.SIGKILL)
        owner.wait()
        deadline = time.monotonic() + 60
        while folder.exists() and time.monotonic() < deadline:
            time.sleep(0.1)  # the owner's watchdog removes it
        assert not folder.exists()
        reap_folders()
        assert legacy.is_dir()
    finally:
        owner.kill()
        owner.wait()
        legacy.rmdir()


@pytest.mark.docker
@pytest.mark.slow
def processes_of_session(session: int) -> list[str]:
    found = []
    for entry in Path("/proc").iterdir():
        with contextlib.suppress(OSError, ValueError):
            if entry.name.isdigit() and os.getsid(int(entry.name)) == session:
                stat = (entry / "stat").read_text()
                if stat.rsplit(")", 1)[1].split()[0] != "Z":
                    found.append((entry / "cmdline").read_bytes().replace(b"\0", b" ").decode())
    return found


def test_a_build_killed_outright_leaves_no_process_or_container(tmp_path: Path) -> None:
    if not docker_available() or not image_exists(image_tag()):
        if os.environ.get("CI") == "true":
            pytest.fail("no Docker daemon or worker image; `make test` sets both up")
        pytest.skip("no Docker daemon or worker image")
    client = docker.from_env()
    command = [sys.executable, "-m", "benchgen_dagster.cli", "build", "--family", "ball_bin"]
    command += ["--variants", "4", "--workers", "1", "--data-dir", str(tmp_path / "data")]
    environment = {**os.environ, "BENCHGEN_SANDBOX": "docker", "DAGSTER_HOME": ""}
    build = subprocess.Popen(
        command,
        cwd=PACKAGE_ROOT,
        env=environment,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )

    def containers_of_the_build() -> list:
        found = []
        for container in client.containers.list(all=True, filters={"label": WORKER_LABEL}):
            try:
                owner = int(container.labels.get(OWNER_LABEL, ""))
                if os.getsid(owner) == build.pid:
                    found.append(container)
            except (ValueError, ProcessLookupError, PermissionError):
                continue
        return found

    try:
        deadline = time.monotonic() + 300
        while not (started := containers_of_the_build()):
            assert build.poll() is None, "the build ended before it started a worker"
            assert time.monotonic() < deadline, "no worker container in 300 s"
            time.sleep(0.2)
    finally:
        build.kill()  # the build's own process only: its pool's processes must end with it
        build.wait()

    deadline = time.monotonic() + 120
    while left := processes_of_session(build.pid):
        if time.monotonic() > deadline:
            os.killpg(build.pid, signal.SIGKILL)
            pytest.fail(f"processes of the build left running: {left}")
        time.sleep(0.5)
    names = {container.name for container in started}
    deadline = time.monotonic() + 120
    while left := {c.name for c in client.containers.list(all=True)} & names:
        if time.monotonic() > deadline:
            for name in left:
                client.containers.get(name).remove(force=True)
            pytest.fail(f"worker containers left behind: {sorted(left)}")
        time.sleep(0.5)
