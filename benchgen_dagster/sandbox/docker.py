"""The Docker sandbox: locked-down containers, each a warm worker (`sandbox/warm.py`).

No network, a read-only root with a small private /tmp, nobody as the user, no capabilities,
no privilege gain, limits on memory, CPUs and processes; only the running batch's output
folder is writable. The runner's supervisor keeps the clock and kills the container; a
container whose worker is not kept is removed. (Inside a Dagster run each batch also opens a
Pipes session: see `resources/workers.py`.)
"""

from __future__ import annotations

import contextlib
import signal
import threading
import uuid
from pathlib import Path
from typing import Any

import docker
import docker.errors
import requests
from docker.types import LogConfig, Ulimit

from benchgen_dagster.errors import with_retries
from benchgen_dagster.sandbox.image import VENV
from benchgen_dagster.sandbox.processes import NOBODY, console_tail, scrubbed_environment
from benchgen_dagster.sandbox.reaper import (
    WORKER_LABEL,
    owner_labels,
    reap_orphans,
    watch_this_process,
)
from benchgen_dagster.sandbox.runner import (
    PACKAGE_ROOT,
    Limits,
    SandboxError,
)
from benchgen_dagster.sandbox.warm import CONTROL, WarmLaunching, WarmWorker, template_command
from benchgen_dagster.schema.contract import Reason

CGROUP_MEMORY = Path("/sys/fs/cgroup/memory/docker")  # cgroup v1 with the cgroupfs driver
PACKAGE = str(PACKAGE_ROOT / "benchgen_dagster")


def daemon_hiccup(error: BaseException) -> bool:
    """A daemon error worth another try: the daemon restarting or overloaded, not a bad request."""
    if isinstance(error, docker.errors.APIError) and error.status_code is not None:
        return error.status_code >= 500
    return isinstance(error, requests.exceptions.ConnectionError)


def docker_available() -> bool:
    try:
        return bool(docker.from_env(timeout=5).ping())
    except Exception:
        return False


def locked_down(limits: Limits, name: str) -> dict[str, Any]:
    """Everything that locks a worker container down, whatever it mounts."""
    memory = f"{limits.memory_mb}m"
    output = limits.max_output_mb << 20
    return {
        "name": name,
        "user": f"{NOBODY}:{NOBODY}",
        "network_mode": "none",
        "read_only": True,
        "tmpfs": {"/tmp": "rw,nosuid,nodev,size=256m"},
        "cap_drop": ["ALL"],
        "security_opt": ["no-new-privileges"],
        "mem_limit": memory,
        "memswap_limit": memory,
        "nano_cpus": int(limits.cpus * 1e9),
        "pids_limit": limits.max_processes,
        "ulimits": [
            Ulimit(name="fsize", soft=output, hard=output),
            Ulimit(name="core", soft=0, hard=0),
        ],
        "environment": {**scrubbed_environment("/tmp"), "PATH": f"{VENV}/bin:/usr/bin:/bin"},
        "log_config": LogConfig(type="json-file", config={"max-size": "1m", "max-file": "1"}),
        # Lets one process find its containers among others', and a watchdog remove them
        # should it die before it can (see `reaper`).
        "labels": {WORKER_LABEL: "1", **owner_labels()},
    }


def template_settings(root: Path, limits: Limits, name: str) -> dict[str, Any]:
    """A warm worker's container: its folder, where each batch gets a folder of its own (the
    container's user may write only into a batch's `out` and `home`). It removes itself when
    the template exits, which it does when its owner goes away."""
    return {
        **locked_down(limits, name),
        "volumes": {
            str(root): {"bind": str(root), "mode": "rw"},
            PACKAGE: {"bind": PACKAGE, "mode": "ro"},
        },
        "working_dir": str(root),
        "auto_remove": True,
    }


class DockerWorker:
    def __init__(self, client: docker.DockerClient, name: str, console: Path) -> None:
        self._client, self._name, self._console = client, name, console
        self._error: BaseException | None = None
        self._exit: int | None = None
        self._thread: threading.Thread | None = None
        self._memory_file: Path | None = None
        self._peak = 0

    @property
    def name(self) -> str:
        return self._name

    def run_in_background(self, target: Any) -> None:
        def guarded() -> None:
            try:
                status = target()
                if isinstance(status, int):
                    self._exit = status
            except BaseException as error:
                self._error = error

        self._thread = threading.Thread(target=guarded, name=self._name, daemon=True)
        self._thread.start()

    def _state(self) -> dict[str, Any] | None:
        try:
            return self._client.api.inspect_container(self._name)["State"]
        except docker.errors.NotFound:
            return None

    def poll(self) -> int | None:
        self._sample_memory()
        if self._thread is not None and self._thread.is_alive():
            return None
        if self._exit is not None:  # a container that removed itself
            return self._exit
        state = self._state()
        if state is None and self._thread is None:  # another's container, gone: it has ended
            return -signal.SIGKILL
        if state is None:
            raise SandboxError(f"the worker container did not start: {self._error}")
        return None if state["Running"] else int(state["ExitCode"])

    def kill(self) -> None:
        with contextlib.suppress(docker.errors.NotFound, docker.errors.APIError):
            self._client.api.kill(self._name)
        if self._thread is not None:
            self._thread.join(timeout=30)

    def console(self) -> str:
        console = console_tail(self._console)
        if console:
            return console
        state = self._state() or {}
        with contextlib.suppress(docker.errors.NotFound, docker.errors.APIError):
            logs = self._client.api.logs(self._name, tail=50).decode(errors="replace")
            return f"{state.get('Error', '')}\n{logs}".strip()
        return str(self._error or "")

    def verdict(self) -> tuple[Reason, str] | None:
        state = self._state()
        if (state and state.get("OOMKilled")) or self._oom_kills() > 0:
            return Reason.script_memory, "the container's memory limit was exceeded"
        return None

    def _oom_kills(self) -> int:
        """Processes the memory limit killed so far (a container that runs on after it)."""
        if self._memory_file is None:
            return 0
        with contextlib.suppress(OSError, ValueError):
            text = (self._memory_file.parent / "memory.oom_control").read_text()
            return int(dict(line.split() for line in text.splitlines()).get("oom_kill", 0))
        return 0

    def peak_memory_bytes(self) -> int:
        return self._peak

    def _sample_memory(self) -> None:
        """Docker removes a container's cgroup when it exits: sample its peak while it runs."""
        if self._memory_file is None:
            with contextlib.suppress(docker.errors.NotFound):
                container_id = self._client.api.inspect_container(self._name)["Id"]
                self._memory_file = CGROUP_MEMORY / container_id / "memory.max_usage_in_bytes"
        if self._memory_file is not None:
            with contextlib.suppress(OSError, ValueError):
                self._peak = max(self._peak, int(self._memory_file.read_text()))

    def __enter__(self) -> DockerWorker:
        return self

    def __exit__(self, *exc: object) -> None:
        self.kill()
        with contextlib.suppress(docker.errors.NotFound, docker.errors.APIError):
            self._client.api.remove_container(self._name, force=True)


class DockerLauncher(WarmLaunching):
    """Runs batches on warm workers in containers of the worker image."""

    def __init__(self, image: str) -> None:
        self.image = image
        self.name = f"docker:{image}"
        watch_this_process()
        reap_orphans()

    def adopt(self, limits: Limits) -> WarmWorker | None:
        from benchgen_dagster.sandbox.keeper import adopt

        handed = adopt(limits, self.name)
        if handed is None:
            return None
        root, name, commands, replies = handed
        process = DockerWorker(docker.from_env(), name, root / CONTROL / "console.log")
        return WarmWorker.adopted(root, process, commands, replies)

    def start_template(self, root: Path, limits: Limits, warm: bool) -> DockerWorker:
        client = docker.from_env()
        name = f"benchgen-worker-{uuid.uuid4().hex[:12]}"
        command = template_command("python", root, private=True, warm=warm)
        settings = template_settings(root, limits, name)
        container = with_retries(
            lambda: client.containers.create(self.image, command, **settings), daemon_hiccup
        )
        worker = DockerWorker(client, name, root / CONTROL / "console.log")
        worker.run_in_background(lambda: (container.start(), container.wait()["StatusCode"])[1])
        return worker
