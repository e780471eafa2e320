"""Sandboxes on this machine: bubblewrap, and a plain subprocess as the last resort.

Both run a warm worker's template (`sandbox/warm.py`) in its own session and, where cgroup v1
is writable, in its own memory and pids groups, so limits hold for the whole process tree and
a kill reaches every process of it.
"""

from __future__ import annotations

import contextlib
import os
import resource
import shutil
import signal
import subprocess
import sys
from pathlib import Path

from benchgen_dagster.sandbox.cgroups import WorkerGroups
from benchgen_dagster.sandbox.runner import PACKAGE_ROOT, Limits
from benchgen_dagster.sandbox.warm import CONTROL, WarmLaunching, template_command
from benchgen_dagster.schema.contract import Reason

CONSOLE_TAIL_BYTES = 8192
NOBODY = 65534
# What a worker needs of the host inside bubblewrap: the system's libraries and nothing else.
SYSTEM_PATHS = (
    "/usr",
    "/lib",
    "/lib64",
    "/bin",
    "/sbin",
    "/etc/ld.so.cache",
    "/etc/ld.so.conf",
    "/etc/ld.so.conf.d",
    "/etc/alternatives",
    "/etc/localtime",
)


def scrubbed_environment(home: str) -> dict[str, str]:
    """The only environment a script sees: nothing of the caller's, so no secret."""
    return {
        "PATH": "/usr/local/bin:/usr/bin:/bin",
        "HOME": home,
        "PYTHONPATH": str(PACKAGE_ROOT),
        "PYTHONDONTWRITEBYTECODE": "1",
        "PYTHONHASHSEED": "0",
        "OMP_NUM_THREADS": "1",
        "LANG": "C.UTF-8",
    }


def console_tail(path: Path) -> str:
    try:
        with path.open("rb") as file:
            file.seek(max(0, path.stat().st_size - CONSOLE_TAIL_BYTES))
            return file.read().decode(errors="replace")
    except FileNotFoundError:
        return ""


class LocalWorker:
    def __init__(
        self, process: subprocess.Popen[bytes], groups: WorkerGroups, console: Path
    ) -> None:
        self._process, self._groups, self._console = process, groups, console

    def poll(self) -> int | None:
        return self._process.poll()

    def kill(self) -> None:
        # The sandbox's own process first, reaped at once: a zombie would stay in its groups.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self._process.pid, signal.SIGKILL)
        self._process.wait()
        self._groups.kill_all()

    def console(self) -> str:
        return console_tail(self._console)

    def verdict(self) -> tuple[Reason, str] | None:
        if self._groups.out_of_memory():
            return Reason.script_memory, "the worker's memory limit was exceeded"
        return None

    def peak_memory_bytes(self) -> int:
        return self._groups.peak_memory_bytes()

    def __enter__(self) -> LocalWorker:
        return self

    def __exit__(self, *exc: object) -> None:
        self.kill()  # also ends whatever the worker left behind after a normal exit
        self._groups.remove()


class SubprocessLauncher(WarmLaunching):
    """A plain subprocess with resource limits: the weakest sandbox, for machines with neither
    Docker nor bubblewrap. The script can read what the user running benchgen can read."""

    name = "subprocess"
    private = False  # the host's own /tmp: nothing there is the worker's to clear

    def __init__(self, python: str = sys.executable) -> None:
        self.python = python

    def pool_key(self) -> str:
        return f"{self.name}:{self.python}"

    def command(self, root: Path, warm: bool) -> list[str]:
        return template_command(self.python, root, self.private, warm)

    def home(self, root: Path) -> str:
        """The template's HOME while it imports (ezdxf writes a cache there); each batch
        gets its own."""
        return str(root / CONTROL)

    def start_template(self, root: Path, limits: Limits, warm: bool) -> LocalWorker:
        groups = WorkerGroups.create(limits.memory_mb, limits.max_processes)
        console = root / CONTROL / "console.log"

        def enter_sandbox() -> None:  # runs in the child, before exec
            groups.join()
            _apply_rlimits(limits, with_groups=groups.active)

        with console.open("wb") as stream:
            process = subprocess.Popen(
                self.command(root, warm),
                cwd=root,
                env=scrubbed_environment(self.home(root)),
                stdin=subprocess.DEVNULL,
                stdout=stream,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                preexec_fn=enter_sandbox,
            )
        return LocalWorker(process, groups, console)


class BubblewrapLauncher(SubprocessLauncher):
    """bubblewrap: no network, a private pid namespace (the template is its pid 1), /tmp and
    IPC, only the system's libraries, the Python installation and the worker's folder
    visible, all read-only but the batch's output folder; the script runs as nobody with no
    capabilities."""

    name = "bubblewrap"
    private = True
    # No --die-with-parent: it follows the thread that started bubblewrap, and a warm worker
    # outlives that thread; the template ends when its owner's end of the FIFO closes.

    @staticmethod
    def available() -> bool:
        if shutil.which("bwrap") is None:
            return False
        probe = subprocess.run(
            ["bwrap", "--unshare-all", "--ro-bind", "/", "/", "true"],
            capture_output=True,
            check=False,
        )
        return probe.returncode == 0

    def home(self, root: Path) -> str:
        return "/tmp"

    def command(self, root: Path, warm: bool) -> list[str]:
        read_only = [p for p in SYSTEM_PATHS if os.path.exists(p)]
        read_only += sorted({os.path.realpath(sys.prefix), os.path.realpath(sys.base_prefix)})
        read_only.append(str(PACKAGE_ROOT / "benchgen_dagster"))
        args = [
            "bwrap",
            "--unshare-all",
            "--unshare-user",
            "--new-session",
            "--as-pid-1",
            "--uid",
            str(NOBODY),
            "--gid",
            str(NOBODY),
            "--cap-drop",
            "ALL",
            "--proc",
            "/proc",
            "--dev",
            "/dev",
            "--tmpfs",
            "/tmp",
        ]
        for path in read_only:
            args += ["--ro-bind", path, path]
        args += ["--bind", str(root), str(root), "--chdir", str(root)]
        return [*args, *super().command(root, warm)]


def _apply_rlimits(limits: Limits, with_groups: bool) -> None:
    memory = limits.memory_mb << 20
    if not with_groups:  # without a memory group, bound each process's data instead
        resource.setrlimit(resource.RLIMIT_DATA, (memory, memory))
    resource.setrlimit(resource.RLIMIT_FSIZE, (limits.max_output_mb << 20,) * 2)
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
