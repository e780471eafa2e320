"""Diversity: measured on real scenarios, near-duplicates caught, concave parts decomposed."""

from __future__ import annotations

from pathlib import Path

import pyarrow.parquet as pq

from benchgen_dagster.assets.simulations import diversity_check
from benchgen_dagster.catalogue.registry import get_family, registry, script_for
from benchgen_dagster.dataset import read_manifest
from benchgen_dagster.dataset.diversity import batch_diversity, near_duplicates
from benchgen_dagster.sandbox.processes import SubprocessLauncher
from benchgen_dagster.sandbox.protocol import Job
from benchgen_dagster.sandbox.runner import Limits
from benchgen_dagster.schema.contract import Stage
from benchgen_dagster.schema.records import GenerationRequest
from benchgen_dagster.stores.bundles import Bundle
from benchgen_dagster.validation.steps import run_variants, validate_variants
from tests.helpers import run_script, validate_all

SEEDS = 4


def validated_batch(family: str, source: str) -> Bundle:
    request = GenerationRequest(request_id=family, prompt=family, family=family, variants=SEEDS)
    script = script_for(family, source, "builtin")
    variants = run_variants(request, script, SubprocessLauncher(), Limits())
    return validate_variants(request, script, variants)


def test_a_sound_family_is_diverse_and_passes_the_check() -> None:
    diversity = batch_diversity(
        validated_batch("ball_sideways", get_family("ball_sideways").source)
    )
    assert diversity.scenarios == SEEDS and diversity.near_duplicates == 0
    assert diversity.unique_geometries == SEEDS
    assert diversity.spreads["goal_x_m"].std > 0.01
    assert diversity_check(diversity, 0.1).passed


def test_a_family_that_ignores_its_seed_fails_the_diversity_check() -> None:
    source = get_family("ball_sideways").source.replace(
        "draw(PARAMS, seed, params)", "draw(PARAMS, 0, params)"
    )
    diversity = batch_diversity(validated_batch("ball_sideways", source))
    assert diversity.scenarios == SEEDS
    assert diversity.near_duplicates == SEEDS - 1 and diversity.unique_geometries == 1
    assert not diversity_check(diversity, 0.1).passed


def test_near_duplicates_need_the_same_geometry_and_nearby_numbers() -> None:
    a, b, c = {"x": 0.100}, {"x": 0.103}, {"x": 0.200}
    assert near_duplicates([a, b], ["g", "g"]) == 1
    assert near_duplicates([a, b], ["g", "h"]) == 0
    assert near_duplicates([a, c], ["g", "g"]) == 0


def test_a_concave_wall_is_decomposed_into_convex_pieces() -> None:
    [variant] = validate_all(
        "ball_window", run_script(get_family("ball_window").source, [Job(0, 0)])
    )
    geometry = next(s for s in variant.report.stages if s.stage is Stage.geometry)
    # every part but the wall is one box; the wall with its window needs several hulls
    assert geometry.measurements["convex_hulls"] >= geometry.measurements["pieces"] + 2
    assert variant.report.accepted


def test_the_release_records_diversity_per_family_and_geometry_per_row(
    built_dataset: Path,
) -> None:
    manifest = read_manifest(built_dataset)
    assert set(manifest.diversity) == {"all", *registry()}
    assert manifest.diversity["all"].scenarios == sum(manifest.counts["families"].values())
    index = pq.read_table(built_dataset / "index.parquet").to_pylist()
    assert all(len(row["geometry_sha256"]) == 16 for row in index)
    assert all(row["distance_to_goal_m"] > 0 for row in index)
