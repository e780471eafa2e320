"""Requests get the difficulty they ask for: a request with `difficulty` draws the seeds after
its own until that many scenarios of the tier or harder are accepted, within a bound, packages
only those, and reports a shortfall; a request without one is validated exactly as before.

Under the request id `cube-gap-hard`, cube_gap's seed 0 is medium and seed 1 is rejected."""

from __future__ import annotations

from pathlib import Path

import pytest
from dagster import DagsterInstance

import benchgen_dagster.validation.steps as steps
from benchgen_dagster.catalogue.checks import check_request
from benchgen_dagster.catalogue.registry import registry
from benchgen_dagster.resources import PipelineSettings
from benchgen_dagster.sandbox.processes import SubprocessLauncher
from benchgen_dagster.sandbox.runner import Limits
from benchgen_dagster.schema.contract import scenario_id_for
from benchgen_dagster.schema.records import FamilyScript, GenerationRequest
from tests.helpers import build_request, resources_for

FAMILY = "cube_gap"


def script() -> FamilyScript:
    family = registry()[FAMILY]
    return FamilyScript(
        family=FAMILY,
        source=family.source,
        sha256="0" * 64,
        code_version="test",
        origin="builtin",
    )


def request(**update: object) -> GenerationRequest:
    base = GenerationRequest(request_id="cube-gap-hard", prompt="a cube over a gap", family=FAMILY)
    return base.model_copy(update={"variants": 2, **update})


def validate(req: GenerationRequest, launches: list[int] | None = None):  # type: ignore[no-untyped-def]
    def launcher() -> SubprocessLauncher:
        if launches is not None:
            launches.append(1)
        return SubprocessLauncher()

    variants = steps.run_variants(req, script(), SubprocessLauncher(), Limits())
    return variants, steps.validate_request(req, script(), variants, launcher, Limits())


def tier(scenario) -> str:  # type: ignore[no-untyped-def]
    return scenario.difficulty.tier


def test_a_hard_request_draws_more_seeds_and_keeps_only_hard_or_harder() -> None:
    _, validated = validate(request(difficulty="hard"))
    batch, draw = validated.record, validated.record.draw
    assert draw is not None
    assert {tier(s) for s in batch.scenarios} <= {"hard", "very_hard"}
    assert len(batch.scenarios) == draw.found >= 2 and draw.shortfall == 0
    assert max(s.seed for s in batch.scenarios) > 1  # the request's own seeds are 0 and 1
    assert all(s.scenario_id == scenario_id_for("cube-gap-hard", s.seed) for s in batch.scenarios)
    assert scenario_id_for("cube-gap-hard", 0) in draw.easier_left_out  # seed 0 is medium
    assert draw.seeds_tried <= draw.bound == 8
    assert [v.seed for v in draw.variants] == list(range(2, draw.seeds_tried))
    assert [r.seed for r in batch.reports] == list(
        range(draw.seeds_tried)
    )  # every seed tried is counted
    assert set(batch.geometry) == {s.scenario_id for s in batch.scenarios}
    left_out = draw.easier_left_out[0]
    assert f"{left_out}.mjcf.xml" not in validated.files
    drawn = draw.variants[0]
    assert any(name.startswith(drawn.scenario_id + ".parts.") for name in validated.files)


def test_a_request_without_difficulty_is_validated_as_before_and_draws_nothing() -> None:
    launches: list[int] = []
    req = request()
    variants, validated = validate(req, launches)
    assert validated.record.draw is None
    assert not launches
    before = steps.validate_variants(req, script(), variants)
    assert validated.record == before.record
    assert validated.files == before.files
    assert "draw" not in validated.record.model_dump(mode="json")  # stored bytes as before


def test_a_reached_bound_is_a_shortfall_in_the_metadata_and_the_log(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(steps, "DRAW_BOUND", 2)  # seed 0 is medium, seed 1 rejected
    settings = PipelineSettings(data_dir=str(tmp_path / "data"), builtin_variants=1)
    req = request(variants=1, difficulty="hard")
    settings.requests.accept(req)
    with DagsterInstance.ephemeral() as instance:
        result = build_request(
            instance, req.request_id, resources_for(settings), raise_on_error=False
        )
        metadata = {
            key: value.value
            for key, value in result.asset_materializations_for_node("validated_simulations")[
                0
            ].metadata.items()
        }
        assert metadata["difficulty_asked"] == "hard"
        assert metadata["difficulty_found"] == 0
        assert metadata["difficulty_seeds_tried"] == 2
        assert metadata["difficulty_shortfall"] == 1
        assert metadata["difficulty_easier_left_out"] == 1
        warnings = [
            e.message
            for e in instance.all_logs(result.run_id)
            if e.level >= 30 and "shortfall of 1" in e.message
        ]
        assert warnings
        # nothing of the tier: the blocking check fails and says why; nothing is packaged
        [floor] = [
            c for c in result.get_asset_check_evaluations() if c.check_name == "pass_rate_floor"
        ]
        assert not floor.passed and floor.metadata["to_package"].value == 0
        assert "no scenario is hard or harder in 2 seeds" in (floor.description or "")
        assert not result.asset_materializations_for_node("dataset_shards")


def test_a_request_with_a_difficulty_holds_the_seeds_its_draw_may_try() -> None:
    hard = request(difficulty="hard")  # seeds 0–1, and 2–7 for its draw
    after = {"request_id": "later", "prompt": "a cube over a gap", "family": FAMILY}
    verdict = check_request({**after, "variants": 2}, [hard], [])
    assert verdict.ok and verdict.admitted.seeds == range(8, 10)
    refused = check_request({**after, "variants": 2, "seed_start": 5}, [hard], [])
    assert refused.problems and "seed_start 8" in refused.problems[0]
