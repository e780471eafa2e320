"""Properties of the schema and the static rules, over generated inputs (hypothesis)."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from benchgen_dagster.kit import draw
from benchgen_dagster.schema.contract import (
    Box3,
    Constraints,
    Lineage,
    Payload,
    Scenario,
    Simulation,
    Split,
    Zone,
    params_json,
)
from benchgen_dagster.schema.records import GenerationRequest
from benchgen_dagster.validation.rules import violations

coordinate = st.floats(-10, 10, allow_nan=False)
size = st.floats(0.01, 5, allow_nan=False)


@st.composite
def boxes(draw_value) -> Box3:  # type: ignore[no-untyped-def]
    low = [draw_value(coordinate) for _ in range(3)]
    return Box3(min=tuple(low), max=tuple(x + draw_value(size) for x in low))


@given(boxes(), boxes())
def test_overlap_is_symmetric_and_a_box_overlaps_itself(a: Box3, b: Box3) -> None:
    assert a.overlaps(b) == b.overlaps(a)
    assert a.overlaps(a)


@given(
    st.tuples(coordinate, coordinate, coordinate),
    st.tuples(coordinate, coordinate, coordinate),
    st.floats(0.001, 1),
)
def test_the_spanning_box_contains_both_points(a, b, margin: float) -> None:  # type: ignore[no-untyped-def]
    box = Box3.spanning(a, b, margin)
    assert box.contains_point(a) and box.contains_point(b)


@given(st.dictionaries(st.text(min_size=1, max_size=8), st.integers() | st.text(max_size=5)))
def test_parameter_json_does_not_depend_on_insertion_order(params: dict) -> None:  # type: ignore[type-arg]
    assert params_json(params) == params_json(dict(reversed(list(params.items()))))


@given(st.integers(0, 2**32), st.floats(-100, 100), st.floats(0.001, 100))
def test_draws_are_deterministic_and_inside_their_range(
    seed: int, low: float, width: float
) -> None:
    ranges = {"x": (low, low + width), "pick": ["a", "b", "c"], "n": (1, 6)}
    first, again = draw(ranges, seed), draw(ranges, seed)
    assert first == again
    assert low <= first["x"] <= low + width and first["pick"] in "abc" and 1 <= first["n"] <= 6


def scenario(
    bounds: Box3,
    goal: Box3,
    forbid: list[Zone],
    start: tuple[float, float, float],
    radius: float = 0.02,
) -> Scenario:
    return Scenario(
        scenario_id="prop-s00000",
        family="prop",
        seed=0,
        params={},
        simulation=Simulation(timestep=0.002, duration_s=2, bounds=bounds),
        build_zone=bounds,
        goal_zone=goal,
        forbid_zones=forbid,
        payload=Payload(
            shape="sphere",
            size=[radius],
            material="wood",
            mass=0.1,
            start_position=start,
            start_jitter=0.0,
        ),
        constraints=Constraints(max_unit_cost=10, max_weight_g=1000),
        split=Split.train,
        lineage=Lineage(
            request_id="prop",
            prompt_sha256="",
            script_sha256="",
            code_versions={},
            sandbox="none",
            family_source="builtin",
        ),
    )


WORLD = Box3(min=(-1, -1, 0), max=(1, 1, 2))
GOAL = Box3(min=(0.5, -0.2, 0), max=(0.8, 0.2, 0.3))


@given(boxes())
@settings(max_examples=200)
def test_a_goal_outside_the_bounds_is_always_reported(goal: Box3) -> None:
    reasons = {reason for reason, _ in violations(scenario(WORLD, goal, [], (0, 0, 1)), ())}
    assert ("goal_out_of_bounds" in reasons) == (not WORLD.contains_box(goal))


@given(boxes())
@settings(max_examples=200)
def test_a_forbid_zone_touching_the_goal_is_always_reported(zone: Box3) -> None:
    forbid = [Zone(name="f", min=zone.min, max=zone.max)]
    reasons = {reason for reason, _ in violations(scenario(WORLD, GOAL, forbid, (-0.5, 0, 1)), ())}
    assert ("zones_overlap" in reasons) == zone.overlaps(GOAL)


@given(st.tuples(coordinate, coordinate, coordinate))
def test_a_payload_starting_outside_the_bounds_is_always_reported(start) -> None:  # type: ignore[no-untyped-def]
    reasons = {reason for reason, _ in violations(scenario(WORLD, GOAL, [], start), ())}
    margin = 0.02  # the payload's radius: its whole body must start inside
    inner = Box3(
        min=tuple(x + margin for x in WORLD.min),  # type: ignore[arg-type]
        max=tuple(x - margin for x in WORLD.max),  # type: ignore[arg-type]
    )
    inside = inner.contains_point(start)
    assert ("payload_out_of_bounds" in reasons) == (not inside)


@given(st.text(min_size=1, max_size=50), st.integers(1, 1000), st.integers(0, 10**6))
def test_a_request_survives_a_json_round_trip(prompt: str, variants: int, seed: int) -> None:
    request = GenerationRequest(request_id="req", prompt=prompt, variants=variants, seed_start=seed)
    assert GenerationRequest.model_validate_json(request.model_dump_json()) == request
    assert list(request.seeds) == list(range(seed, seed + variants))
