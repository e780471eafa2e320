"""Every registered family, through the whole funnel with the real build123d and MuJoCo.

A family is covered the moment it is registered: the tests iterate over the registry.
"""

from __future__ import annotations

from collections import Counter

import pytest

from benchgen_dagster.catalogue.registry import IncompleteFamily, read_family, registry
from benchgen_dagster.kit import draw
from benchgen_dagster.sandbox.protocol import Job
from benchgen_dagster.validation.funnel import ValidatedVariant
from tests.helpers import run_script, validate_all

SEEDS = [0, 1, 2]
FAMILIES = sorted(registry())


@pytest.fixture(scope="module")
def validated() -> dict[str, list[ValidatedVariant]]:
    """Each family's seeds, plus the first seed once more to check determinism."""
    results = {}
    for name in FAMILIES:
        jobs = [Job(i, seed) for i, seed in enumerate([*SEEDS, SEEDS[0]])]
        results[name] = validate_all(name, run_script(registry()[name].source, jobs))
    return results


@pytest.mark.parametrize("family", FAMILIES)
def test_every_seed_passes_the_whole_funnel(validated, family: str) -> None:
    for variant in validated[family][: len(SEEDS)]:
        assert variant.report.accepted, variant.report.rejection


@pytest.mark.parametrize("family", FAMILIES)
def test_the_same_seed_gives_byte_identical_files(validated, family: str) -> None:
    first, again = validated[family][0], validated[family][-1]
    assert first.scenario is not None and again.scenario is not None
    assert first.scenario.model_dump_json() == again.scenario.model_dump_json()
    assert first.xml == again.xml
    assert first.solution_xml == again.solution_xml
    assert first.report == again.report


@pytest.mark.parametrize("family", FAMILIES)
def test_different_seeds_give_different_scenarios(validated, family: str) -> None:
    xmls = {v.xml for v in validated[family][: len(SEEDS)]}
    assert len(xmls) == len(SEEDS)


@pytest.mark.parametrize("family", FAMILIES)
def test_draws_cover_each_declared_range(family: str) -> None:
    ranges = registry()[family].params
    draws = [draw({k: _as_kit_range(v) for k, v in ranges.items()}, seed) for seed in range(300)]
    for name, declared in ranges.items():
        values = [d[name] for d in draws]
        if declared.choices is not None:
            assert set(values) == set(declared.choices), name
        else:
            assert min(values) >= declared.low and max(values) <= declared.high, name
            spread = (max(values) - min(values)) / (declared.high - declared.low)
            assert spread > 0.9, f"{name} covers only {spread:.0%} of its range"


@pytest.mark.parametrize("family", FAMILIES)
def test_a_family_declares_a_plan_with_a_reference_solution(family: str) -> None:
    plan = registry()[family].plan()
    assert plan.parameters and plan.reference_solution and plan.description
    assert plan.payload and plan.zones


DECLARED = '''"""A ball onto a goal.

How it works, at length.
"""

import no_such_module  # never imported: the registry reads the source, it does not run it

PAYLOAD = "A rubber ball 20 mm in radius."
ZONES = (
    "The goal is the floor a metre along; "
    "a forbid zone covers the floor behind the drop."
)
SOLUTION = "A ramp under the drop point."
PARAMS = {"drop_height": (250.0, 420.0), "material": ["rubber", "steel"]}
'''


def test_a_family_plan_is_what_the_module_declares() -> None:
    plan = read_family("declared", DECLARED).plan()
    assert plan.payload == "A rubber ball 20 mm in radius."
    assert plan.zones == (
        "The goal is the floor a metre along; a forbid zone covers the floor behind the drop."
    )
    assert plan.reference_solution == "A ramp under the drop point."
    assert plan.description == "A ball onto a goal. How it works, at length."


def test_a_family_that_does_not_declare_its_zones_is_refused_by_name() -> None:
    source = DECLARED.replace("ZONES = (", "PLACES = (")
    with pytest.raises(IncompleteFamily, match="family 'forgetful' does not declare ZONES"):
        read_family("forgetful", source)


def test_a_declaration_in_words_must_be_a_string_literal() -> None:
    source = DECLARED.replace('SOLUTION = "A ramp under the drop point."', "SOLUTION = ramp()")
    with pytest.raises(IncompleteFamily, match="does not declare SOLUTION"):
        read_family("computed", source)


def _as_kit_range(declared):  # type: ignore[no-untyped-def]
    return declared.choices if declared.choices is not None else (declared.low, declared.high)


BROKEN_SOLUTION = '''

_sound_build = build


def build(seed, params):
    """The family with its reference solution shrunk to a tenth about its own centre: still
    in the build zone and clear of the scenery, but no longer doing its job."""
    result = _sound_build(seed, params)
    for name, shape in result.solution.items():
        small = shape.scale(0.1)
        result.solution[name] = small.translate(shape.center() - small.center())
    return result
'''


@pytest.mark.parametrize("family", FAMILIES)
def test_a_broken_reference_solution_is_caught(family: str) -> None:
    source = registry()[family].source + BROKEN_SOLUTION
    [variant] = validate_all(family, run_script(source, [Job(0, SEEDS[0])]))
    rejection = variant.report.rejection
    assert rejection is not None and rejection.stage.value == "solvable", rejection


def test_splits_assign_whole_families_thirteen_three_three() -> None:
    splits = Counter(family.split.value for family in registry().values())
    assert splits == {"train": 13, "validation": 3, "test": 3}


def test_kinematic_families_cover_both_kinds_of_mechanism() -> None:
    """Some need a motor in their solution, some have jointed scenery to work with."""
    sources = {name: family.source for name, family in registry().items()}
    actuated = [name for name, source in sources.items() if "actuators={" in source]
    jointed_scenery = [name for name in ("swing_gate", "trapdoor") if name in sources]
    assert len(actuated) >= 2 and len(jointed_scenery) == 2


def test_families_mix_payload_shapes_and_materials(validated) -> None:
    scenarios = [v.scenario for variants in validated.values() for v in variants if v.scenario]
    assert {s.payload.shape.value for s in scenarios} >= {"sphere", "box", "cylinder"}
    assert len({s.payload.material for s in scenarios}) >= 4
