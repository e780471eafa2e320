"""The sandbox that runs family scripts."""

from typing import Literal

from dagster import ConfigurableResource
from pydantic import Field

from benchgen_dagster.sandbox.runner import Launcher, Limits, SubprocessLauncher


class SandboxResource(ConfigurableResource):
    """Runs batches of family-script variants in a sandbox."""

    kind: Literal["auto", "subprocess"] = Field(
        default="auto", description="Which sandbox runs scripts; auto picks the strongest available"
    )
    variant_timeout_s: float = Field(default=30.0, description="Wall-clock limit per variant")
    memory_mb: int = Field(default=1024, description="Memory limit of a worker")
    max_processes: int = 64
    max_output_mb: int = 64

    def limits(self) -> Limits:
        return Limits(
            variant_timeout_s=self.variant_timeout_s,
            memory_mb=self.memory_mb,
            max_processes=self.max_processes,
            max_output_mb=self.max_output_mb,
        )

    def launcher(self) -> Launcher:
        return SubprocessLauncher()
