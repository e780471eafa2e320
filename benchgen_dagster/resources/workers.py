"""The sandbox that runs family scripts, as a Dagster resource. Inside a run each batch on a
Docker worker opens a Dagster Pipes session, so the worker's progress reaches the run's logs;
its messages travel through a file in the batch's output folder, never through the
container's stdout."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from dagster import (
    ConfigurableResource,
    InitResourceContext,
    PipesEnvContextInjector,
    PipesFileMessageReader,
    open_pipes_session,
)
from pydantic import Field, PrivateAttr

from benchgen_dagster.sandbox.docker import DockerLauncher
from benchgen_dagster.sandbox.runner import Launcher, Limits, WorkerProcess
from benchgen_dagster.sandbox.select import SandboxKind, choose_launcher
from benchgen_dagster.sandbox.warm import BatchProcess, WarmWorker, warm_workers

PIPES_MESSAGES = "pipes.jsonl"


class SandboxResource(ConfigurableResource):
    """Runs batches of family-script variants in a sandbox: Docker, bubblewrap or a plain
    subprocess; `auto` picks the strongest available and warns when it steps down. Within one
    run (the in-process executor runs every step of it in one process), its local sandbox
    workers stay warm from batch to batch and stop when the run ends."""

    kind: SandboxKind = Field(default="auto", description="auto, docker, bubblewrap or subprocess")
    variant_timeout_s: float = Field(default=30.0, description="Wall-clock limit per variant")
    memory_mb: int = Field(default=1024, description="Memory limit of a worker (whole tree)")
    max_processes: int = Field(default=64, description="Process limit of a worker (whole tree)")
    max_output_mb: int = Field(default=64, description="Bound on what a worker may write")
    cpus: float = Field(default=1.0, description="CPUs a Docker worker may use")

    _warm: Any = PrivateAttr(default=None)

    def setup_for_execution(self, context: InitResourceContext) -> None:
        self._warm = warm_workers()
        self._warm.__enter__()

    def teardown_after_execution(self, context: InitResourceContext) -> None:
        if self._warm is not None:
            self._warm.__exit__(None, None, None)
            self._warm = None

    def limits(self) -> Limits:
        return Limits(
            variant_timeout_s=self.variant_timeout_s,
            memory_mb=self.memory_mb,
            max_processes=self.max_processes,
            max_output_mb=self.max_output_mb,
            cpus=self.cpus,
        )

    def launcher(self, context: Any = None) -> Launcher:
        """The sandbox for a batch; given the asset's context, Docker goes through Pipes and
        a step down to a weaker sandbox is a warning in the run's log."""
        if context is None:
            return choose_launcher(self.kind)
        launcher = choose_launcher(self.kind, context.log.warning)
        if isinstance(launcher, DockerLauncher):
            return PipesDockerLauncher(launcher, context)
        return launcher


class WorkerMessageReader(PipesFileMessageReader):
    """Pipes messages through a file the worker, running as nobody, may append to."""

    @contextlib.contextmanager
    def read_messages(self, handler: Any) -> Iterator[Any]:
        with super().read_messages(handler) as params:
            os.chmod(self._path, 0o666)
            yield params


class PipesDockerLauncher:
    """The Docker sandbox's warm workers, each batch with a Pipes session in the Dagster run of
    `context`: its bootstrap reaches the batch's child as environment variables."""

    def __init__(self, launcher: DockerLauncher, context: Any) -> None:
        self.launcher, self.context = launcher, context
        self.name = launcher.name

    @contextlib.contextmanager
    def open(self, limits: Limits) -> Iterator[PipesSlot]:
        with self.launcher.open(limits) as worker:
            slot = PipesSlot(worker, self.context)
            try:
                yield slot
            finally:
                worker.keep = slot.keep


class PipesSlot:
    keep = False

    def __init__(self, worker: WarmWorker, context: Any) -> None:
        self.worker, self.context = worker, context

    def folder(self) -> contextlib.AbstractContextManager[Path]:
        return self.worker.folder()

    def start(self, workdir: Path) -> WorkerProcess:
        session = contextlib.ExitStack()
        reader = WorkerMessageReader(str(workdir / "out" / PIPES_MESSAGES))
        pipes = session.enter_context(
            open_pipes_session(self.context, PipesEnvContextInjector(), reader)
        )
        try:
            batch = self.worker.start(workdir, pipes.get_bootstrap_env_vars())
        except BaseException:
            session.close()
            raise
        return PipesBatch(batch, session)


class PipesBatch:
    """A batch whose Pipes session closes (its last messages read) when the batch ends."""

    def __init__(self, batch: BatchProcess, session: contextlib.ExitStack) -> None:
        self._batch, self._session = batch, session

    def poll(self) -> int | None:
        return self._batch.poll()

    def kill(self) -> None:
        self._batch.kill()

    def console(self) -> str:
        return self._batch.console()

    def verdict(self) -> Any:
        return self._batch.verdict()

    def peak_memory_bytes(self) -> int:
        return self._batch.peak_memory_bytes()

    def __enter__(self) -> PipesBatch:
        return self

    def __exit__(self, *exc: object) -> None:
        try:
            self._batch.__exit__(*exc)
        finally:
            self._session.close()
