"""A warm worker: imports build123d and the kit once, then forks a fresh child per batch.

Usage: python -m benchgen_dagster.sandbox.template CONTROL_DIR [--private] [--warm]

Runs inside the sandbox, started by `sandbox/warm.py`. CONTROL_DIR holds two FIFOs the host
made: `commands` (one JSON line per batch: its `in`, `out` and `home` folders) and `replies`
(one JSON line per batch: the child's exit status, negative for a signal). The template opens
both, unlinks them so that no script can find them, and says `{"ready": true}`.

Each batch runs in a child forked from the template, so it starts with everything imported
and nothing of an earlier batch: its own memory (whatever a script patches, starts or changes
dies with it), its own session, its own HOME and output folder. When the child ends, every
process it left behind is killed (the template is their subreaper, or the sandbox's pid 1),
and with `--private` (the sandbox's /tmp, /dev/shm and System V IPC are its own) those are
emptied, before the reply; so nothing a batch writes or starts reaches the next one. With
`--warm` the template imports build123d and the kit before its first batch; without, it
serves one batch and leaves the imports to the script, as a cold worker would.

The template is not dumpable, so a script running as the same user cannot trace it or read
its memory and descriptors. When the host goes away (the FIFO's writer closes) or stays idle
too long, the template kills what runs and exits, and with it the sandbox.
"""

from __future__ import annotations

import contextlib
import ctypes
import fcntl
import json
import os
import select
import shutil
import signal
import sys
import termios
import time
from pathlib import Path
from typing import Any

IDLE_EXIT_S = 600.0  # an owner that stops sending batches for this long is gone
PR_SET_DUMPABLE = 4
PR_SET_CHILD_SUBREAPER = 36
IPC_RMID = 0
PRIVATE_SCRATCH = ("/tmp", "/dev/shm", "/dev/mqueue")
CHILD_FAILED = 70  # the child's own set-up failed before the worker ran


def main(argv: list[str]) -> int:
    control, private = Path(argv[0]), "--private" in argv[1:]
    signal.signal(signal.SIGINT, signal.SIG_DFL)  # no handler a script's signal could trigger
    from benchgen_dagster.sandbox import worker

    if "--warm" in argv[1:]:  # a worker for one batch leaves the imports to its script
        import build123d  # noqa: F401  (the cost this process exists to pay once)

        from benchgen_dagster import kit  # noqa: F401

    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(PR_SET_DUMPABLE, 0, 0, 0, 0)
    libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
    # Without blocking: a host that has gone already means end of file, or no reader (ENXIO).
    commands = os.open(control / "commands", os.O_RDONLY | os.O_NONBLOCK)
    replies = os.open(control / "replies", os.O_WRONLY | os.O_NONBLOCK)
    os.set_blocking(replies, True)
    for name in ("commands", "replies"):
        os.unlink(control / name)
    _reply(replies, {"ready": True})
    buffered = b""
    while True:
        line, buffered = _next_line(commands, buffered)
        if line is None:  # the host is gone, or has forgotten this worker
            return 0
        batch = json.loads(line)
        status = _run_child(batch, commands, replies, worker.main)
        if status is None:
            _end_descendants()
            return 0
        _end_descendants()
        if private:
            _clear_private_state(libc, keep=control.parent)
        _reply(replies, {"exit": status})


def _next_line(fd: int, buffered: bytes) -> tuple[str | None, bytes]:
    """The next command, or None at end of file or after `IDLE_EXIT_S` without one."""
    deadline = time.monotonic() + IDLE_EXIT_S
    while b"\n" not in buffered:
        wait = deadline - time.monotonic()
        if wait <= 0 or not select.select([fd], [], [], wait)[0]:
            return None, buffered
        chunk = os.read(fd, 65536)
        if not chunk:
            return None, buffered
        buffered += chunk
    line, _, rest = buffered.partition(b"\n")
    return line.decode(), rest


def _run_child(batch: dict[str, Any], commands: int, replies: int, run: Any) -> int | None:
    """Fork the batch's child and wait for it; its exit status, or None when the host went
    away meanwhile (the child is then killed)."""
    pid = os.fork()
    if pid == 0:
        _child(batch, (commands, replies), run)
    pidfd = os.pidfd_open(pid)
    watched = [pidfd, commands]
    try:
        while True:
            ready = select.select(watched, [], [])[0]
            if pidfd in ready:
                _, status = os.waitpid(pid, 0)
                return os.waitstatus_to_exitcode(status)
            if _pending_bytes(commands):  # the next command, early: it waits its turn
                watched = [pidfd]
                continue
            with contextlib.suppress(ProcessLookupError):  # readable and empty: no writer
                os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            return None
    finally:
        os.close(pidfd)


def _pending_bytes(fd: int) -> int:
    size = ctypes.c_int(0)
    fcntl.ioctl(fd, termios.FIONREAD, size)
    return size.value


def _child(batch: dict[str, Any], control: tuple[int, ...], run: Any) -> None:
    """The batch's process: nothing of the template's control reaches the script."""
    code = CHILD_FAILED
    try:
        for fd in control:
            os.close(fd)
        devnull = os.open(os.devnull, os.O_RDONLY)
        os.dup2(devnull, 0)
        os.close(devnull)
        os.setsid()
        # Dumpable again (only the template must not be), so that its own /proc files are its
        # own: the memory limit then kills the batch before its template.
        ctypes.CDLL(None).prctl(PR_SET_DUMPABLE, 1, 0, 0, 0)
        with contextlib.suppress(OSError):
            Path("/proc/self/oom_score_adj").write_text("1000")
        os.environ.update({"HOME": batch["home"], **batch.get("env", {})})
        os.chdir(batch["out"])
        code = run([batch["in"], batch["out"]])
    except SystemExit as stop:
        code = stop.code if isinstance(stop.code, int) else CHILD_FAILED
    except BaseException:
        import traceback

        traceback.print_exc()
    finally:
        with contextlib.suppress(BaseException):
            sys.stdout.flush()
            sys.stderr.flush()
        os._exit(code)


def _descendants() -> set[int]:
    """Every process whose parent chain leads here (orphans reparent to this subreaper)."""
    parents: dict[int, int] = {}
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            with contextlib.suppress(OSError, ValueError, IndexError):
                stat = Path(entry.path, "stat").read_text()
                parents[int(entry.name)] = int(stat.rsplit(")", 1)[1].split()[1])
    mine, found = {os.getpid()}, True
    while found:
        found = False
        for pid, parent in parents.items():
            if parent in mine and pid not in mine:
                mine.add(pid)
                found = True
    return mine - {os.getpid()}


def _end_descendants(deadline_s: float = 10.0) -> None:
    """SIGKILL what the batch left running, stopped and late forks included, and reap it."""
    deadline = time.monotonic() + deadline_s
    while True:
        pids = _descendants()
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        with contextlib.suppress(ChildProcessError):
            while os.waitpid(-1, os.WNOHANG)[0]:
                pass
        if not pids or time.monotonic() > deadline:
            return
        time.sleep(0.005)


def _clear_private_state(libc: Any, keep: Path) -> None:
    """Empty the sandbox's own scratch folders and System V IPC objects; `keep` is the worker's
    folder, mounted from the host (the host clears it)."""
    for folder in PRIVATE_SCRATCH:
        with contextlib.suppress(OSError):
            for entry in os.scandir(folder):
                path = Path(entry.path)
                if keep == path or keep.is_relative_to(path):
                    continue
                with contextlib.suppress(OSError):
                    if entry.is_dir(follow_symlinks=False):
                        shutil.rmtree(path, onerror=_open_up_and_retry)
                    else:
                        path.unlink()
    for kind, remove in (
        ("shm", lambda i: libc.shmctl(i, IPC_RMID, None)),
        ("msg", lambda i: libc.msgctl(i, IPC_RMID, None)),
        ("sem", lambda i: libc.semctl(i, 0, IPC_RMID)),
    ):
        with contextlib.suppress(OSError):
            lines = Path(f"/proc/sysvipc/{kind}").read_text().splitlines()[1:]
            for line in lines:
                remove(int(line.split()[1]))


def _open_up_and_retry(function: Any, path: str, _: object) -> None:
    """A folder a script made unreadable or unwritable: its owner (this user) opens it up."""
    with contextlib.suppress(OSError):
        os.chmod(os.path.dirname(path), 0o700)
        if os.path.isdir(path) and not os.path.islink(path):
            os.chmod(path, 0o700)
            shutil.rmtree(path, ignore_errors=True)
        else:
            function(path)


def _reply(fd: int, message: dict[str, Any]) -> None:
    os.write(fd, json.dumps(message).encode() + b"\n")


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
