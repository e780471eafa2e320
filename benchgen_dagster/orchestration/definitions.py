"""The Dagster definitions: the asset graph, its jobs, sensors and resources."""

from dagster import Definitions

from benchgen_dagster.assets import ALL_ASSETS
from benchgen_dagster.orchestration.jobs import (
    build_partition,
    build_partition_in_docker,
    forget_request,
    release_dataset,
    score_baselines,
    stage_jobs,
)
from benchgen_dagster.orchestration.sensors import ALL_SENSORS
from benchgen_dagster.resources import resources_from_environment

defs = Definitions(
    assets=ALL_ASSETS,
    jobs=[
        build_partition,
        build_partition_in_docker,
        *stage_jobs,
        release_dataset,
        score_baselines,
        forget_request,
    ],
    sensors=ALL_SENSORS,
    resources=resources_from_environment(),
)
