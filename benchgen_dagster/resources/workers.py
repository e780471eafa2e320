"""The sandbox that runs family scripts, as a Dagster resource. Inside a run the Docker
sandbox starts its containers through dagster-docker's Pipes client, so the worker's progress
reaches the run's logs; its messages travel through a file in the output folder, never through
the container's stdout."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import docker
from dagster import ConfigurableResource, InitResourceContext, PipesFileMessageReader
from pydantic import Field, PrivateAttr

from benchgen_dagster.sandbox.docker import DockerLauncher, OneShotDockerLauncher, worker_command
from benchgen_dagster.sandbox.runner import Launcher, Limits
from benchgen_dagster.sandbox.select import SandboxKind, choose_launcher
from benchgen_dagster.sandbox.warm import warm_workers

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
            return PipesDockerLauncher(launcher.image, context)
        return launcher


class WorkerMessageReader(PipesFileMessageReader):
    """Pipes messages through a file the worker, running as nobody, may append to."""

    @contextlib.contextmanager
    def read_messages(self, handler: Any) -> Iterator[Any]:
        with super().read_messages(handler) as params:
            os.chmod(self._path, 0o666)
            yield params


class PipesDockerLauncher(OneShotDockerLauncher):
    """The Docker sandbox with the worker's messages in the Dagster run of `context`."""

    def __init__(self, image: str, context: Any) -> None:
        super().__init__(image)
        self.context = context

    def runner(
        self, client: docker.DockerClient, workdir: Path, settings: dict[str, Any]
    ) -> Callable[[], object]:
        from dagster_docker import PipesDockerClient
        from dagster_pipes import DagsterPipesError

        def run() -> None:
            reader = WorkerMessageReader(str(workdir / "out" / PIPES_MESSAGES))
            pipes = PipesDockerClient(message_reader=reader)
            # A non-zero exit is the runner's to interpret (a crash, a kill on timeout).
            with contextlib.suppress(DagsterPipesError):
                pipes.run(
                    context=self.context,
                    image=self.image,
                    command=worker_command(workdir),
                    container_kwargs=settings,
                )

        return run
