"""The Dagster definitions: the asset graph, its jobs and its resources."""

from dagster import Definitions, define_asset_job

from benchgen_dagster.assets import ALL_ASSETS, PARTITIONED_ASSETS, requests_partitions
from benchgen_dagster.resources import resources_from_environment

build_partition = define_asset_job(
    "build_partition",
    selection=PARTITIONED_ASSETS,
    partitions_def=requests_partitions,
    description="Generate, validate, render and shard one request's variants.",
)
release = define_asset_job(
    "release_dataset",
    selection=["dataset_release"],
    description="Publish every materialized partition as the dataset.",
)

defs = Definitions(
    assets=ALL_ASSETS, jobs=[build_partition, release], resources=resources_from_environment()
)
