"""The Dagster definitions: the asset graph, its jobs, sensors and resources, and the
executor."""

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
from benchgen_dagster.orchestration.scaleout import executor_from_environment
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
    # A run's steps in its own process, one after another: a partition's steps form a chain,
    # and a process per step would import the whole stack again for each (most of a small
    # run). Parallelism is inside the steps (their workers) and across runs. Jobs that name
    # an executor of their own (build_partition_in_docker) keep it. The deployment (`deploy/`)
    # runs each step in a container instead.
    executor=executor_from_environment(),
)
