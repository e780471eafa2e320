"""Each rejection rule, fed a variant that breaks it, answers with its own reason code."""

from __future__ import annotations

import pytest

from benchgen_dagster.sandbox.protocol import Job
from benchgen_dagster.schema.contract import Reason, Stage
from tests.helpers import run_script, validate_all

EXPECTED = {
    "none": None,
    "zones_overlap": (Stage.rules, Reason.zones_overlap),
    "trivial": (Stage.trivial, Reason.trivial),
    "unsolvable": (Stage.solvable, Reason.unsolvable),
    "mm_m_mixup": (Stage.geometry, Reason.units_implausible),
    "nan": (Stage.run, Reason.script_output_invalid),
    "parts_interpenetrate": (Stage.model, Reason.parts_interpenetrate),
    "payload_in_solid": (Stage.model, Reason.payload_intersects_solid),
    "unknown_material": (Stage.geometry, Reason.unknown_material),
    "duplicate_label": (Stage.geometry, Reason.duplicate_label),
    "tiny_part": (Stage.geometry, Reason.mesh_too_small),
    "solution_outside_build_zone": (Stage.rules, Reason.solution_outside_build_zone),
    "solution_over_budget": (Stage.rules, Reason.solution_over_budget),
    "goal_out_of_bounds": (Stage.rules, Reason.goal_out_of_bounds),
    "payload_in_forbid_zone": (Stage.rules, Reason.payload_in_forbid_zone),
    "payload_left_bounds": (Stage.stable, Reason.payload_left_bounds),
    "script_error": (Stage.run, Reason.script_error),
    "wrong_type": (Stage.run, Reason.script_error),
}


@pytest.fixture(scope="module")
def verdicts(breakable_source: str) -> dict[str, tuple[Stage, Reason | None, str] | None]:
    modes = list(EXPECTED)
    jobs = [Job(index, seed=1, params={"break": mode}) for index, mode in enumerate(modes)]
    validated = validate_all("breakable", run_script(breakable_source, jobs))
    verdicts = {}
    for mode, variant in zip(modes, validated, strict=True):
        rejection = variant.report.rejection
        verdicts[mode] = (
            (rejection.stage, rejection.reason, rejection.message) if rejection else None
        )
    return verdicts


@pytest.mark.parametrize("mode", list(EXPECTED))
def test_a_broken_variant_is_rejected_with_its_reason_code(verdicts, mode: str) -> None:
    verdict = verdicts[mode]
    expected = EXPECTED[mode]
    if expected is None:
        assert verdict is None, f"the unbroken variant was rejected: {verdict}"
    else:
        assert verdict is not None, f"{mode} was accepted"
        assert verdict[:2] == expected, verdict[2]
        assert verdict[2], "a rejection carries a human message"
