"""Warm workers: a sandboxed template process that imports build123d once and forks a fresh
child per batch (`sandbox/template.py`), kept for the next batch while its owner wants it.

Each warm worker is one sandbox (a container, a bubblewrap or a plain process) over a folder
of its own, `root`: only the batch it runs at the time has a folder there. The host talks to
the template through two FIFOs it opened before the sandbox started, which the template then
unlinks; when the host process ends, however it ends, the template reads end of file and
exits, and the sandbox with it.

A worker goes back to the pool only after a batch in which every variant came back, the
child exited cleanly and the sandbox saw nothing wrong; any other ending stops it, so a fresh
sandbox follows every failure. Only inside `warm_workers()` (a Dagster run's sandbox resource)
or after `keep_warm()` (a benchmark's process) are workers kept; elsewhere each batch starts
its own, as a cold worker would, and its template skips the imports a script may not need.
"""

from __future__ import annotations

import atexit
import contextlib
import json
import os
import shutil
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Protocol

from benchgen_dagster.sandbox.reaper import owned_prefix, watch_this_process
from benchgen_dagster.sandbox.runner import Limits, SandboxError, WorkerProcess

TEMPLATE_MODULE = "benchgen_dagster.sandbox.template"
CONTROL = "control"

_lock = threading.Lock()
_idle: dict[tuple[str, Limits], list[WarmWorker]] = {}
_keepers = 0  # open `warm_workers()` scopes, and one for `keep_warm()`
_forever = False


def keep_warm() -> None:
    """From now on this process keeps its warm workers between batches; idle ones are
    stopped when it exits (or at `stop_warm_workers()`)."""
    global _keepers, _forever
    with _lock:
        if _forever:
            return
        _forever = True
        _keepers += 1
    atexit.register(stop_warm_workers)
    with contextlib.suppress(ImportError):  # a process pool's worker skips atexit
        from multiprocessing.util import Finalize

        Finalize(None, stop_warm_workers, exitpriority=100)


@contextlib.contextmanager
def warm_workers() -> Iterator[None]:
    """Keep warm workers between the batches run inside; when the last such scope ends, the
    idle ones are stopped."""
    global _keepers
    with _lock:
        _keepers += 1
    try:
        yield
    finally:
        with _lock:
            _keepers -= 1
            done = _keepers == 0
        if done:
            stop_warm_workers()


def stop_warm_workers() -> None:
    """Stop every idle warm worker and keep no more until asked again."""
    global _keepers, _forever
    with _lock:
        _keepers, _forever = 0, False
        workers = [w for pool in _idle.values() for w in pool]
        _idle.clear()
    for worker in workers:
        worker.stop()


def idle_workers() -> int:
    with _lock:
        return sum(len(pool) for pool in _idle.values())


class TemplateSandbox(Protocol):
    name: str

    def start_template(self, root: Path, limits: Limits, warm: bool) -> WorkerProcess:
        """Start `template_command(root, ...)` in the sandbox, with `root` visible (read
        and write) at its own path."""


def template_command(python: str, root: Path, private: bool, warm: bool) -> list[str]:
    """The template's command line; `private`: the sandbox's /tmp, /dev/shm and System V IPC
    are its own, to be emptied after each batch; `warm`: import build123d before the first."""
    flags = [flag for flag, on in (("--private", private), ("--warm", warm)) if on]
    return [python, "-m", TEMPLATE_MODULE, str(root / CONTROL), *flags]


class WarmLaunching:
    """What a launcher with a template gets: `open(limits)` hands out a warm worker."""

    name: str

    def pool_key(self) -> str:
        return self.name

    def adopt(self, limits: Limits) -> WarmWorker | None:
        """A warm worker someone else started for this process (see `sandbox/keeper.py`)."""
        return None

    @contextlib.contextmanager
    def open(self, limits: Limits) -> Iterator[WarmWorker]:
        key = (self.pool_key(), limits)
        worker = None
        with _lock:
            pool = _idle.get(key, [])
            while pool and worker is None:
                candidate = pool.pop()
                if candidate.alive():
                    worker = candidate
                else:
                    candidate.stop()
        with _lock:
            warm = _keepers > 0
        if worker is None and warm:
            worker = self.adopt(limits)
        worker = worker or WarmWorker(self, limits, warm)  # type: ignore[arg-type]
        worker.keep = False
        try:
            yield worker
        finally:
            with _lock:
                kept = worker.keep and worker.warm and _keepers > 0 and worker.alive()
                if kept:
                    _idle.setdefault(key, []).append(worker)
            if not kept:
                worker.stop()


class WarmWorker:
    """One template in one sandbox, and the host's ends of its FIFOs."""

    def __init__(self, sandbox: TemplateSandbox, limits: Limits, warm: bool) -> None:
        watch_this_process()
        self.root = Path(tempfile.mkdtemp(prefix=owned_prefix("warm")))
        os.chmod(self.root, 0o755)  # the sandbox user may read it, and write only where told
        control = self.root / CONTROL
        control.mkdir()
        os.chmod(control, 0o777)  # the template unlinks its FIFOs from here
        for name in ("commands", "replies"):
            os.mkfifo(control / name)
            os.chmod(control / name, 0o666)
        # Read and write ends on the host, so neither side's open blocks; the host is then
        # the only writer of commands, and its exit is the template's end of file.
        self._commands = os.open(control / "commands", os.O_RDWR)
        self._replies = os.open(control / "replies", os.O_RDWR | os.O_NONBLOCK)
        self._buffer = b""
        self.ready = False
        self.keep = False
        self.warm = warm
        try:
            self.process = sandbox.start_template(self.root, limits, warm)
        except BaseException:
            self._close()
            raise

    @classmethod
    def adopted(cls, root: Path, process: WorkerProcess, commands: int, replies: int) -> WarmWorker:
        """A ready warm worker handed over by the process that started it."""
        worker = cls.__new__(cls)
        worker.root, worker.process = root, process
        worker._commands, worker._replies = commands, replies
        os.set_blocking(replies, False)
        worker._buffer, worker.ready, worker.keep, worker.warm = b"", True, False, True
        return worker

    def descriptors(self) -> list[int]:
        return [self._commands, self._replies]

    def give_away(self) -> None:
        """Close this process's ends of the FIFOs (another process now holds them) and keep
        the folder, which the sandbox still uses."""
        for fd in (self._commands, self._replies):
            with contextlib.suppress(OSError):
                os.close(fd)

    def alive(self) -> bool:
        return self.process.poll() is None

    @contextlib.contextmanager
    def folder(self) -> Iterator[Path]:
        """A fresh batch folder in the root; nothing of an earlier batch is left there."""
        for entry in os.scandir(self.root):
            if entry.name != CONTROL or self.ready:
                remove_tree(Path(entry.path))
        workdir = Path(tempfile.mkdtemp(prefix="batch-", dir=self.root))
        try:
            yield workdir
        finally:
            remove_tree(workdir)

    def start(self, workdir: Path, env: dict[str, str] | None = None) -> BatchProcess:
        command = {
            "in": str(workdir / "in"),
            "out": str(workdir / "out"),
            "home": str(workdir / "home"),
            "env": env or {},
        }
        os.write(self._commands, json.dumps(command).encode() + b"\n")
        return BatchProcess(self, workdir)

    def reply(self) -> dict[str, Any] | None:
        """The template's next reply, if one has come (its `ready` is taken on the way)."""
        while True:
            if b"\n" not in self._buffer:
                with contextlib.suppress(BlockingIOError):
                    self._buffer += os.read(self._replies, 65536)
            if b"\n" not in self._buffer:
                return None
            line, _, self._buffer = self._buffer.partition(b"\n")
            try:
                message = json.loads(line)
            except ValueError:
                raise SandboxError(f"the template said {line[:200]!r}") from None
            if message.get("ready"):
                self.ready = True
                remove_tree(self.root / CONTROL)  # its FIFOs are unlinked; its console too
                continue
            return message

    def stop(self) -> None:
        """Stop the sandbox and everything in it; remove its folder."""
        with contextlib.suppress(Exception):
            self.process.__exit__(None, None, None)
        self._close()

    def _close(self) -> None:
        for fd in (self._commands, self._replies):
            with contextlib.suppress(OSError):
                os.close(fd)
        remove_tree(self.root)


class BatchProcess:
    """One batch on a warm worker, as the runner watches a worker: its child's exit status
    arrives as the template's reply."""

    def __init__(self, worker: WarmWorker, workdir: Path) -> None:
        self._worker, self._workdir = worker, workdir
        self._status: int | None = None

    def poll(self) -> int | None:
        if self._status is None:
            reply = self._worker.reply()
            if reply is not None:
                self._status = int(reply["exit"])
            else:
                self._status = self._worker.process.poll()
        return self._status

    def kill(self) -> None:
        self._worker.process.kill()
        self._status = self._status if self._status is not None else -9

    def console(self) -> str:
        from benchgen_dagster.sandbox.processes import console_tail

        return console_tail(self._workdir / "out" / "console.log") or self._worker.process.console()

    def verdict(self) -> Any:
        return self._worker.process.verdict()

    def peak_memory_bytes(self) -> int:
        return self._worker.process.peak_memory_bytes()

    def __enter__(self) -> BatchProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        if self.poll() is None:
            self.kill()


def remove_tree(path: Path) -> None:
    """Remove a file or a folder a sandbox wrote, whatever it did to the permissions."""
    if path.is_dir() and not path.is_symlink():
        for folder, dirs, _ in os.walk(path):
            for name in dirs:
                with contextlib.suppress(OSError):
                    os.chmod(os.path.join(folder, name), 0o700, follow_symlinks=False)
        shutil.rmtree(path, ignore_errors=True)
    else:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
