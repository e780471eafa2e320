"""Settings every step shares, from the environment with working offline defaults."""

import os
from pathlib import Path
from typing import Any

from dagster import ConfigurableResource, EnvVar
from pydantic import Field

from benchgen_dagster.catalogue.builtin import DEFAULT_VARIANTS
from benchgen_dagster.catalogue.requests import RequestBook
from benchgen_dagster.errors import env_int
from benchgen_dagster.schema.records import FamilyScript, GenerationRequest
from benchgen_dagster.validation import steps
from benchgen_dagster.validation.funnel import FunnelSettings
from benchgen_dagster.validation.model import camera_names


def env_or(name: str, default: Any) -> Any:
    """An EnvVar when the variable is set (the UI shows where a value came from), else the
    default."""
    return EnvVar(name) if name in os.environ else default


class PipelineSettings(ConfigurableResource):
    """Where data lives and how the pipeline behaves."""

    data_dir: str = Field(default="data", description="Root of everything benchgen writes")
    dataset: str = Field(default="default", description="Name of the released dataset")
    builtin_variants: int = Field(
        default=DEFAULT_VARIANTS, description="Seeds per built-in family request"
    )
    render_width: int = 320
    render_height: int = 240
    render_cameras: str = Field(default="iso,side", description="Comma-separated camera names")
    robust_trials: int = 5
    robust_min_successes: int = 4
    workers: int = Field(
        default=os.cpu_count() or 1,
        description="Processes a large partition's variants are spread over",
    )
    min_pass_rate: float = Field(default=0.5, description="Blocking floor on accepted/generated")
    dataset_license: str = Field(
        default="cc-by-4.0", description="The license the dataset card declares"
    )
    max_near_duplicates: float = Field(
        default=0.1, description="Blocking ceiling on the share of near-duplicate variants"
    )

    @property
    def root(self) -> Path:
        return Path(self.data_dir).resolve()

    @property
    def requests(self) -> RequestBook:
        return RequestBook(self.root / "requests", self.builtin_variants)

    @property
    def cameras(self) -> tuple[str, ...]:
        return camera_names(self.render_cameras)

    @property
    def funnel(self) -> FunnelSettings:
        return FunnelSettings(self.robust_trials, self.robust_min_successes)

    def inputs_fingerprint(self, request: GenerationRequest, script: FamilyScript) -> str:
        """`steps.inputs_fingerprint` with the settings a partition's results depend on."""
        return steps.inputs_fingerprint(
            request, script, self.funnel, self.cameras, self.render_width, self.render_height
        )


def settings_from_environment(**overrides: Any) -> PipelineSettings:
    """The settings of the environment; `overrides` (a build's own data folder, variants and
    workers) take the place of what the environment says."""
    values = {
        "data_dir": env_or("BENCHGEN_DATA_DIR", "data"),
        "dataset": env_or("BENCHGEN_DATASET", "default"),
        "builtin_variants": env_int("BENCHGEN_VARIANTS", DEFAULT_VARIANTS),
        "workers": env_int("BENCHGEN_WORKERS", os.cpu_count() or 1),
    }
    return PipelineSettings(**{**values, **overrides})
