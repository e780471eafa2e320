"""The sandbox that runs family scripts."""

import os
from typing import Any

from dagster import ConfigurableResource
from pydantic import Field

from benchgen_dagster.errors import ConfigError
from benchgen_dagster.sandbox.runner import Launcher, Limits
from benchgen_dagster.sandbox.select import SANDBOX_KINDS, SandboxKind, choose_launcher


def sandbox_kind_from_environment() -> SandboxKind:
    kind = os.environ.get("BENCHGEN_SANDBOX", "auto")
    if kind not in SANDBOX_KINDS:
        raise ConfigError(
            f"BENCHGEN_SANDBOX must be one of {', '.join(SANDBOX_KINDS)}, got {kind!r}"
        )
    return kind  # type: ignore[return-value]


class SandboxResource(ConfigurableResource):
    """Runs batches of family-script variants in a sandbox: Docker, bubblewrap or a plain
    subprocess; `auto` picks the strongest available and warns when it steps down."""

    kind: SandboxKind = Field(default="auto", description="auto, docker, bubblewrap or subprocess")
    variant_timeout_s: float = Field(default=30.0, description="Wall-clock limit per variant")
    memory_mb: int = Field(default=1024, description="Memory limit of a worker (whole tree)")
    max_processes: int = Field(default=64, description="Process limit of a worker (whole tree)")
    max_output_mb: int = Field(default=64, description="Bound on what a worker may write")
    cpus: float = Field(default=1.0, description="CPUs a Docker worker may use")

    def limits(self) -> Limits:
        return Limits(
            variant_timeout_s=self.variant_timeout_s,
            memory_mb=self.memory_mb,
            max_processes=self.max_processes,
            max_output_mb=self.max_output_mb,
            cpus=self.cpus,
        )

    def launcher(self, context: Any = None) -> Launcher:
        """The sandbox for a batch; pass the asset's context for Pipes and run-log warnings."""
        warn = context.log.warning if context is not None else None
        return choose_launcher(self.kind, context, warn) if warn else choose_launcher(self.kind)
