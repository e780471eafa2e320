"""Worker containers whose owner died are removed.

A process removes its worker containers when it has read their results; one killed outright
(SIGKILL, the OOM killer) cannot. So each container is labelled with its owner (pid, the pid
namespace, the process's start time, which tells a reused pid apart), and a small watchdog
started beside the first launcher of each process waits for that process to end and then
removes what it left. Any launcher also removes, when it starts, the containers of owners that
are gone, should a watchdog have been killed too.

`python -m benchgen_dagster.sandbox.reaper PID START` is the watchdog.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time
from pathlib import Path

OWNER_LABEL = "benchgen.owner"  # the owner's pid
NAMESPACE_LABEL = "benchgen.owner.pidns"
STARTED_LABEL = "benchgen.owner.started"
WORKER_LABEL = "benchgen.worker"

_watched: set[int] = set()  # the processes that have their watchdog (a fork is another process)


def process_start(pid: int) -> str | None:
    """When the process started (clock ticks since boot), or None when there is no such
    process."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat.rsplit(")", 1)[1].split()
    return None if fields[0] == "Z" else fields[19]


def pid_namespace() -> str:
    return os.readlink("/proc/self/ns/pid")


def owner_labels() -> dict[str, str]:
    """The labels that name this process as a container's owner."""
    pid = os.getpid()
    return {
        OWNER_LABEL: str(pid),
        NAMESPACE_LABEL: pid_namespace(),
        STARTED_LABEL: process_start(pid) or "",
    }


def owner_gone(labels: dict[str, str]) -> bool:
    """Whether the container's owner, a process of this pid namespace, has ended."""
    if labels.get(NAMESPACE_LABEL) != pid_namespace() or not labels.get(STARTED_LABEL):
        return False  # another host's or container's: not ours to judge
    try:
        pid = int(labels.get(OWNER_LABEL, ""))
    except ValueError:
        return False
    return process_start(pid) != labels[STARTED_LABEL]


def reap_orphans(client=None) -> int:  # type: ignore[no-untyped-def]
    """Remove the worker containers whose owner has ended; how many."""
    import docker
    import docker.errors

    client = client or docker.from_env()
    removed = 0
    for container in client.containers.list(all=True, filters={"label": WORKER_LABEL}):
        if owner_gone(container.labels):
            with contextlib.suppress(docker.errors.NotFound, docker.errors.APIError):
                container.remove(force=True)
                removed += 1
    return removed


def watch_this_process() -> None:
    """Start this process's watchdog, once."""
    pid = os.getpid()
    if pid in _watched:
        return
    _watched.add(pid)
    subprocess.Popen(
        [sys.executable, "-m", __name__, str(pid), process_start(pid) or ""],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,  # a kill of the owner's process group spares it
        close_fds=True,
    )


def watch(pid: int, started: str, interval: float = 1.0) -> None:
    while process_start(pid) == started:
        time.sleep(interval)
    reap_orphans()


if __name__ == "__main__":
    watch(int(sys.argv[1]), sys.argv[2])
