"""The jobs: a whole partition, each stage on its own for re-runs, and the release."""

from dagster import AssetSelection, define_asset_job
from dagster_docker import docker_executor

from benchgen_dagster.assets import PARTITIONED_ASSETS

build_partition = define_asset_job(
    "build_partition",
    selection=PARTITIONED_ASSETS,
    description="Generate, validate, render and shard one request's variants.",
)

build_partition_in_docker = define_asset_job(
    "build_partition_in_docker",
    selection=PARTITIONED_ASSETS,
    executor_def=docker_executor,
    description="The same steps as build_partition, each in its own container "
    "(dagster-docker's docker_executor); see the README's scale-out section for its config.",
)


# Each stage of a partition on its own, for re-runs: (job, its assets, description).
STAGES = [
    (
        "generate",
        ["generation_requests", "scenario_plans", "family_scripts", "scenario_variants"],
        "Stage 1 of a partition: read the request, plan, script, and run the variants in the "
        "sandbox.",
    ),
    (
        "validate",
        ["validated_simulations"],
        "Stage 2: the validation funnel, from stored variants.",
    ),
    ("render", ["scenario_renders"], "Stage 3: offscreen renders of accepted variants."),
    ("package", ["dataset_shards"], "Stage 4: the partition's shards and index rows."),
]

# Partitioning is inferred from the selected assets.
stage_jobs = [
    define_asset_job(
        name,
        selection=AssetSelection.assets(*assets),
        description=description,
        tags={"benchgen/stage": name},
    )
    for name, assets, description in STAGES
]

release_dataset = define_asset_job(
    "release_dataset",
    selection=["dataset_release"],
    description="Publish every materialized partition as the dataset.",
)
