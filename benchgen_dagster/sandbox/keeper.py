"""A warm Docker worker waiting for the next run: `benchgen dev` (what `make dev` runs) keeps one
ready, so that a run's first batch finds build123d imported and its container started.

The keeper starts a warm worker (`sandbox/warm.py`) with the limits of the definitions' sandbox
and, once its template is ready, hands it to the first process that asks over a Unix socket of
its own (a folder only its user may enter, named by `BENCHGEN_WARM_KEEPER` in the environment
of what it runs): it passes the template's FIFOs and the container's name, then closes its own
ends, so the worker is the asker's alone. From then on it is the asker's as any warm worker is:
it runs that process's batches and stops when that process does (the template reads end of
file when its last writer is gone, and the container removes itself). The keeper removes the
worker's folder once its container is gone, and starts the next worker.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import shutil
import socket
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from benchgen_dagster.sandbox.runner import Limits
from benchgen_dagster.sandbox.warm import WarmWorker, remove_tree

KEEPER_ENV = "BENCHGEN_WARM_KEEPER"
RETRY_S = 5.0  # after a worker that would not start
# An asker waits this long for the worker being started: never longer than starting its own.
ASK_TIMEOUT_S = 30.0
READY_LINE = "benchgen dev: a warm sandbox worker waits for the next run"


def adopt(limits: Limits, name: str) -> tuple[Path, str, int, int] | None:
    """The keeper's warm worker, if a keeper runs for this process's sandbox `name` and keeps one
    with these limits: its folder, its container's name and the template's FIFOs."""
    path = os.environ.get(KEEPER_ENV)
    if not path:
        return None
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as connection:
            connection.settimeout(ASK_TIMEOUT_S)
            connection.connect(path)
            connection.sendall(json.dumps({"sandbox": name, **dataclasses.asdict(limits)}).encode())
            connection.shutdown(socket.SHUT_WR)
            message, fds, _, _ = socket.recv_fds(connection, 4096, 2)
    except OSError:
        return None  # no keeper (any more): a worker of one's own
    answer = json.loads(message or b"{}")
    if len(fds) != 2 or not answer.get("root"):
        for fd in fds:
            os.close(fd)
        return None
    return Path(answer["root"]), answer["container"], fds[0], fds[1]


class Keeper:
    """One warm worker of `launcher` kept ready at a time, handed to whoever asks first."""

    def __init__(
        self, launcher: object, limits: Limits, say: Callable[[str], None] = lambda _: None
    ) -> None:
        self.launcher, self.limits, self.say = launcher, limits, say
        self.folder = Path(tempfile.mkdtemp(prefix="benchgen-keeper-"))  # mode 0700
        self.path = self.folder / "socket"
        self._listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self._listener.bind(str(self.path))
        self._listener.listen(8)
        self._listener.settimeout(1.0)
        self._stopping = threading.Event()
        self.waiting = threading.Event()  # a ready worker waits to be asked for
        self._announced = False
        self._handed: list[tuple[Path, str]] = []  # folders of workers given away, containers
        self._thread = threading.Thread(target=self._serve, name="warm-keeper", daemon=True)

    def start(self) -> Keeper:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        self._thread.join(timeout=60)
        self._listener.close()
        shutil.rmtree(self.folder, ignore_errors=True)

    def _serve(self) -> None:
        worker: WarmWorker | None = None
        try:
            while not self._stopping.is_set():
                self._sweep()
                if worker is None or not worker.alive():
                    if worker is not None:
                        worker.stop()
                    worker = self._ready_worker()
                    if worker is None:
                        self._stopping.wait(RETRY_S)
                        continue
                    if not self._announced:  # `benchgen bench --latency` waits for it
                        self.say(READY_LINE)
                        self._announced = True
                    self.waiting.set()
                with contextlib.suppress(TimeoutError):
                    connection, _ = self._listener.accept()
                    with connection:
                        if self._hand_over(connection, worker):
                            self.waiting.clear()
                            worker = None
        finally:
            if worker is not None:
                worker.stop()

    def _ready_worker(self) -> WarmWorker | None:
        """A new warm worker whose template has imported everything, or None if it failed."""
        try:
            worker = WarmWorker(self.launcher, self.limits, warm=True)  # type: ignore[arg-type]
        except Exception:
            return None
        deadline = time.monotonic() + self.limits.startup_timeout_s
        while not worker.ready and worker.alive() and time.monotonic() < deadline:
            if self._stopping.wait(0.05):
                break
            worker.reply()
        if worker.ready and worker.alive():
            return worker
        worker.stop()
        return None

    def _hand_over(self, connection: socket.socket, worker: WarmWorker) -> bool:
        """Give the worker to the asker if it asks for this sandbox and these limits."""
        wanted = {"sandbox": self.launcher.name, **dataclasses.asdict(self.limits)}  # type: ignore[attr-defined]
        name = worker.process.name  # type: ignore[attr-defined]
        answer = json.dumps({"root": str(worker.root), "container": name}).encode()
        try:
            connection.settimeout(5)
            if json.loads(_read_all(connection) or b"{}") != wanted:
                connection.sendall(b"{}")
                return False
            socket.send_fds(connection, [answer], worker.descriptors())
        except (OSError, ValueError):  # an asker that gave up waiting, or not one of ours
            return False
        worker.give_away()
        self._handed.append((worker.root, name))
        return True

    def _sweep(self) -> None:
        """Remove the folders of given-away workers whose container is gone."""
        import docker
        import docker.errors

        if not self._handed:
            return
        client = docker.from_env()
        for root, name in list(self._handed):
            try:
                client.api.inspect_container(name)
            except docker.errors.NotFound:
                remove_tree(root)
                self._handed.remove((root, name))
            except docker.errors.DockerException:
                return  # the daemon is busy: next time


def _read_all(connection: socket.socket) -> bytes:
    data = b""
    while chunk := connection.recv(4096):
        data += chunk
    return data


@contextlib.contextmanager
def keeping(
    launcher: object, limits: Limits, say: Callable[[str], None] = lambda _: None
) -> Iterator[Keeper]:
    keeper = Keeper(launcher, limits, say).start()
    try:
        yield keeper
    finally:
        keeper.stop()
