"""The asset graph: generation → validation → packaging → the baselines' leaderboard."""

from benchgen_dagster.assets.baselines import solver_baselines
from benchgen_dagster.assets.generation import family_scripts, generation_requests, scenario_plans
from benchgen_dagster.assets.packaging import dataset_release, dataset_shards, scenario_renders
from benchgen_dagster.assets.partitions import requests_partitions
from benchgen_dagster.assets.simulations import scenario_variants, validated_simulations

PARTITIONED_ASSETS = [
    generation_requests,
    scenario_plans,
    family_scripts,
    scenario_variants,
    validated_simulations,
    scenario_renders,
    dataset_shards,
]
ALL_ASSETS = [*PARTITIONED_ASSETS, dataset_release, solver_baselines]

__all__ = ["ALL_ASSETS", "PARTITIONED_ASSETS", "requests_partitions"]
