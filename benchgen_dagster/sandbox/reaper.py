"""Worker containers and folders whose owner died are removed.

A process removes its worker containers and its workers' folders in the temporary folder when
it has read their results; one killed outright (SIGKILL, the OOM killer) cannot. So each
container is labelled with its owner (pid, the pid namespace, the process's start time, which
tells a reused pid apart), each folder carries the same in its name (`owned_prefix`), and a
small watchdog started beside the first launcher or worker folder of each process waits for
that process to end and then removes what it left. Each process also removes, when it starts
its watchdog, the folders of owners that are gone, and any Docker launcher their containers,
should a watchdog have been killed too.

`python -m benchgen_dagster.sandbox.reaper PID START` is the watchdog. The processes of a pool
(`end_with`) end with the process that started them, so their workers are reaped in turn.
"""

from __future__ import annotations

import contextlib
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

OWNER_LABEL = "benchgen.owner"  # the owner's pid
NAMESPACE_LABEL = "benchgen.owner.pidns"
STARTED_LABEL = "benchgen.owner.started"
WORKER_LABEL = "benchgen.worker"
# Folders of workers in the temporary folder: benchgen-<kind>-<pidns>-<pid>-<start>-<random>.
FOLDER_KINDS = ("warm", "batch")
OWNED_FOLDER = re.compile(r"benchgen-(?:warm|batch)-(\d+)-(\d+)-(\d+)-")

_watched: set[int] = set()  # the processes that have their watchdog (a fork is another process)


PR_SET_PDEATHSIG = 1


def end_with(parent: int) -> None:
    """Have this process killed when `parent`, which started it, ends: a pool's processes would
    otherwise run on after a build or bench is killed. For a pool's initializer."""
    import ctypes
    import signal

    ctypes.CDLL(None).prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    if os.getppid() != parent:  # it ended before the line above
        os._exit(1)


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


def owned_prefix(kind: str) -> str:
    """The name prefix of a worker folder of this process (`kind`: warm or batch), which tells
    a reaper whose it is."""
    namespace = pid_namespace().strip("pid:[]")
    return f"benchgen-{kind}-{namespace}-{os.getpid()}-{process_start(os.getpid()) or 0}-"


def reap_folders(folder: Path | None = None) -> int:
    """Remove the worker folders whose owner has ended; how many. Folders of other pid
    namespaces, and those named without an owner, are left alone."""
    from benchgen_dagster.sandbox.warm import remove_tree

    folder = folder or Path(tempfile.gettempdir())
    namespace = pid_namespace().strip("pid:[]")
    removed = 0
    for kind in FOLDER_KINDS:
        for path in folder.glob(f"benchgen-{kind}-*"):
            owner = OWNED_FOLDER.match(path.name)
            if owner is None or owner[1] != namespace:
                continue
            pid, started = int(owner[2]), owner[3]
            if process_start(pid) != started:
                remove_tree(path)
                removed += 1
    return removed


def reap_orphans(client=None) -> int:  # type: ignore[no-untyped-def]
    """Remove the worker containers whose owner has ended; how many."""
    import docker
    import docker.errors

    client = client or docker.from_env()
    removed = 0
    # Sparse: the listing's own labels, not an inspection per container, which fails for one
    # removed meanwhile (by its owner, or another process's sweep).
    listed = client.containers.list(all=True, sparse=True, filters={"label": WORKER_LABEL})
    for container in listed:
        if owner_gone(container.attrs.get("Labels") or {}):
            with contextlib.suppress(docker.errors.NotFound, docker.errors.APIError):
                container.remove(force=True)
                removed += 1
    return removed


def watch_this_process() -> None:
    """Start this process's watchdog, once; and remove what owners that are gone left."""
    pid = os.getpid()
    if pid in _watched:
        return
    _watched.add(pid)
    reap_folders()
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
    reap_folders()
    import docker.errors

    with contextlib.suppress(docker.errors.DockerException):  # no daemon: no containers
        reap_orphans()


if __name__ == "__main__":
    watch(int(sys.argv[1]), sys.argv[2])
