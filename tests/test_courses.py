"""The scenario language: specs checked before anything runs, one builder for any spec, random
courses, and the offline prompt planner, through the real sandbox, MuJoCo and Dagster."""

from __future__ import annotations

import json
from pathlib import Path

import mujoco
import numpy as np
import pytest
from click.testing import CliRunner
from dagster import DagsterInstance

from benchgen_dagster.catalogue import registry
from benchgen_dagster.catalogue.checks import check_request
from benchgen_dagster.cli import main
from benchgen_dagster.courses.generator import random_spec
from benchgen_dagster.courses.layout import KINEMATIC_MODULES, MODULES
from benchgen_dagster.courses.planner import PlanError, plan_prompt, quantities, tokenize
from benchgen_dagster.courses.script import spec_plan, spec_script
from benchgen_dagster.courses.spec import SpecRejected, parse_spec
from benchgen_dagster.dataset import load
from benchgen_dagster.resources import AgentResource, PipelineSettings
from benchgen_dagster.schema.contract import RING_SEGMENTS, Payload, Scenario
from benchgen_dagster.schema.records import GenerationRequest, json_schemas
from benchgen_dagster.validation.checking import check_seeds
from benchgen_dagster.validation.model import _add_payload
from tests.helpers import build_request, release_dataset, resources_for

BALL = {"shape": "sphere", "radius": 18, "material": "rubber"}
COURSE = {"payload": BALL, "modules": [{"type": "gap", "width": [120, 200]}, {"type": "bin"}]}
FAMILY = Path(__file__).parent.parent / "benchgen_dagster" / "families" / "composed_course.py"


# --- the spec -----------------------------------------------------------------------------


def test_the_published_schema_holds_every_module_with_its_ranges_in_millimetres() -> None:
    schema = json_schemas()["course_spec"]
    names = {
        d["properties"]["type"]["const"]
        for d in schema["$defs"].values()
        if "type" in d.get("properties", {})
    }
    assert names == set(MODULES)
    gap = next(d for d in schema["$defs"].values() if d.get("title") == "GapModule")
    assert gap["properties"]["width"]["description"] == "40–500 mm"


@pytest.mark.parametrize(
    ("modules", "problem"),
    [
        (
            [{"type": "gap", "width": 900}, {"type": "bin"}],
            "module 1 (gap): width: 900 mm is outside 40–500 mm",
        ),
        ([{"type": "gap", "wdth": 3}, {"type": "bin"}], "module 1 (gap): wdth: not a parameter"),
        ([{"type": "moat"}, {"type": "bin"}], "module 1: type: unknown module type"),
        ([{"type": "gap"}], "module 1 (gap): type: the last module holds the goal"),
        (
            [{"type": "slot_wall", "slot_width": 30}, {"type": "cup"}],
            "module 1 (slot_wall): slot_width: 30 mm is too narrow",
        ),
        (
            [{"type": "window_wall", "window_height": 50}, {"type": "bin"}],
            "module 1 (window_wall): window_height: 50 mm cannot pass",
        ),
        (
            [{"type": "wall", "height": 300, "length": 150}, {"type": "bin"}],
            "module 1 (wall): height: its top at 300 mm stands too high",
        ),
        (
            [{"type": "gate", "height": 40}, {"type": "bin"}],
            "module 1 (gate): height: 40 mm would let the payload past without opening it",
        ),
        (
            [{"type": "lever", "thickness": 50}, {"type": "bin"}],
            "module 1 (lever): thickness: 50 mm is outside 6–30 mm",
        ),
        (
            [{"type": "platform"}, {"type": "slider", "height": 500}, {"type": "cup"}],
            "module 2 (slider): height: 500 mm is outside 60–300 mm",
        ),
        (
            [{"type": "slider", "length": 100}, {"type": "bin"}],
            "module 1 (slider): length: 100 mm is outside 150–800 mm",
        ),
    ],
)
def test_a_bad_spec_is_refused_naming_the_module_and_field(modules: list, problem: str) -> None:
    with pytest.raises(SpecRejected) as refused:
        parse_spec({"payload": BALL, "modules": modules})
    assert any(p.startswith(problem) for p in refused.value.problems), refused.value.problems


@pytest.mark.parametrize(
    ("course", "problem"),
    [
        (
            {"width": 220, "modules": [{"type": "slider"}, {"type": "bin"}]},
            "module 1 (slider): type: the course is too narrow for a slider beside the chute",
        ),
        (
            {"payload": {"shape": "ring", "radius": 20, "width": 25, "height": 8}},
            "payload: width: a ring's band (25 mm) must be narrower than its radius",
        ),
        ({"payload": {"shape": "ring", "radius": 20, "width": 8}}, "payload: a ring needs height"),
        (
            {"payload": {"shape": "ring", "radius": 20, "width": 8, "height": 80}},
            "payload.height: 80 mm is outside 4–40 mm",
        ),
    ],
)
def test_a_bad_course_or_ring_is_refused_naming_the_field(course: dict, problem: str) -> None:
    data = {"payload": BALL, "modules": [{"type": "gap"}, {"type": "bin"}], **course}
    with pytest.raises(SpecRejected) as refused:
        parse_spec(data)
    assert any(p.startswith(problem) for p in refused.value.problems), refused.value.problems


def test_a_request_with_a_bad_spec_is_refused_before_anything_runs() -> None:
    spec = {"payload": BALL, "modules": [{"type": "gap", "depth": 5000}, {"type": "bin"}]}
    verdict = check_request({"request_id": "bad-spec", "prompt": "p", "spec": spec}, [], [])
    assert verdict.problems == ["spec: module 1 (gap): depth: 5000 mm is outside 80–500 mm"]
    both = check_request(
        {"request_id": "both", "prompt": "p", "spec": COURSE, "family": "ball_bin"}, [], []
    )
    assert any("not both" in p for p in both.problems)


def test_a_specs_ranges_are_its_parameters_drawn_per_seed() -> None:
    spec = parse_spec(COURSE)
    assert spec.parameters()["m1.width"].low == 120
    widths = {spec.example_params(seed)["m1.width"] for seed in range(5)}
    assert len(widths) == 5 and all(120 <= w <= 200 for w in widths)
    assert spec.example_params(3) == spec.example_params(3)


def test_the_code_version_covers_the_spec_and_the_builder(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    first = spec_script(parse_spec(COURSE), "course", "spec")
    other = spec_script(parse_spec({**COURSE, "width": 500}), "course", "spec")
    assert first.code_version != other.code_version
    changed = tmp_path / "builder.py"
    changed.write_text("# another builder\n")
    monkeypatch.setattr(registry, "COURSE_BUILDER", (changed,))
    assert spec_script(parse_spec(COURSE), "course", "spec").code_version != first.code_version
    builtin = registry.get_family("ball_bin").script().code_version
    assert registry.get_family("ball_bin").script().code_version == builtin  # not covered


# --- the builder, through the sandbox and the funnel -----------------------------------------


def test_any_spec_builds_and_passes_the_funnel_in_the_sandbox() -> None:
    spec = {
        "payload": {"shape": "box", "side": 40, "material": "plastic"},
        "modules": [
            {"type": "window_wall", "window_width": 140, "window_height": 180},
            {"type": "corridor"},
            {"type": "bin"},
        ],
    }
    script = spec_script(parse_spec(spec), "window-course", "spec")
    reports = check_seeds(script.source, "window-course", 0, 2, "subprocess")
    assert all(r["accepted"] for r in reports), [r["stages"][-1] for r in reports]


@pytest.mark.parametrize(
    ("payload", "barrier"),
    [
        ({"shape": "ring", "radius": 30, "width": 10, "height": 8, "material": "plastic"}, "gate"),
        (BALL, "lever"),
        ({"shape": "box", "side": 40, "material": "plastic"}, "slider"),
    ],
)
def test_a_course_with_a_barrier_is_kinematic_and_its_controls_open_it(
    payload: dict, barrier: str
) -> None:
    spec = {
        "payload": payload,
        "modules": [{"type": "platform"}, {"type": barrier}, {"type": "bin"}],
    }
    script = spec_script(parse_spec(spec), f"{barrier}-course", "spec")
    assert "position actuator" in spec_plan(parse_spec(spec), "x", "spec").reference_solution
    (report,) = check_seeds(script.source, f"{barrier}-course", 3, 1, "subprocess")
    # accepted: stable and not solved with nothing added, solved with the controls, and not
    # with every control held at zero (else `controls_not_needed`)
    assert report["accepted"], report["stages"][-1]
    measured = {s["stage"]: s["measurements"] for s in report["stages"]}
    assert measured["geometry"]["actuators"] == (2 if barrier == "gate" else 1)
    assert measured["geometry"]["joints"] == 2 * measured["geometry"]["actuators"]
    assert measured["solvable"]["actuator_work_j"] > 0


def test_a_ring_payload_is_one_body_of_convex_pieces_with_a_hole_through_it() -> None:
    ring = Payload(
        shape="ring",
        size=[0.03, 0.005, 0.004],
        material="plastic",
        mass=0.01,
        start_position=(0.0, 0.0, 0.05),
        start_jitter=0.001,
    )
    spec = mujoco.MjSpec()
    _add_payload(spec, Scenario.model_construct(payload=ring))
    ball = spec.worldbody.add_body(name="ball", pos=[0.0, 0.0, 0.12])
    ball.add_freejoint()
    ball.add_geom(type=mujoco.mjtGeom.mjGEOM_SPHERE, size=[0.012, 0, 0], mass=0.01)
    spec.worldbody.add_geom(type=mujoco.mjtGeom.mjGEOM_PLANE, size=[1, 1, 0.1], pos=[0, 0, -0.2])
    model = spec.compile()
    pieces = [g for g in range(model.ngeom) if model.geom(g).name.startswith("payload_geom")]
    assert len(pieces) == RING_SEGMENTS and len({model.geom_bodyid[g] for g in pieces}) == 1
    assert model.body("payload").mass[0] == pytest.approx(0.01)
    assert max(np.hypot(*model.geom_pos[g][:2]) for g in pieces) < 0.03
    data = mujoco.MjData(model)
    ring_id = model.body("payload").id
    data.qpos[:3] = [0.0, 0.0, 0.05]
    model.body_gravcomp[ring_id] = 1.0  # the ring hovers; the ball falls onto (or through) it
    mujoco.mj_step(model, data, nstep=400)
    assert data.body("ball").xpos[2] < 0.0  # through the hole, where one convex hull would hold it


def test_composed_courses_differ_by_seed_and_repeat_for_the_same_seed() -> None:
    specs = [random_spec(seed) for seed in range(300)]
    sequences = {tuple(m["type"] for m in s["modules"]) for s in specs}
    assert len(sequences) > 150
    assert all(
        2 <= len(s["modules"]) <= 4 and s["modules"][-1]["type"] in ("bin", "cup") for s in specs
    )
    assert {s["payload"]["shape"] for s in specs} == {"sphere", "box", "cylinder", "capsule"}
    barriers = [s for s in specs if {m["type"] for m in s["modules"]} & set(KINEMATIC_MODULES)]
    assert 20 <= len(barriers) <= 70  # about one in seven
    assert all(sum(m["type"] in KINEMATIC_MODULES for m in s["modules"]) == 1 for s in barriers)
    assert random_spec(7) == random_spec(7)


def test_most_composed_courses_pass_the_funnel() -> None:
    reports = check_seeds(FAMILY.read_text(), "composed_course", 100, 6, "subprocess")
    assert sum(r["accepted"] for r in reports) >= 5, [r["stages"][-1] for r in reports]


def covers(value: object, expected: float) -> bool:
    """A spec's value is the one expected, or a range around it (what the prompt said varies by
    a few percent from seed to seed)."""
    if isinstance(value, list):
        return value[0] <= expected <= value[1] and value[1] <= 1.1 * expected
    return value == expected


# --- the planner --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "mm"),
    [
        ("25 mm", [25.0]),
        ("2.5 cm", [25.0]),
        ("two metres", [2000.0]),
        ("two meters", [2000.0]),
        ("half a metre", [500.0]),
        ("a metre", [1000.0]),
        ("one and a half meters", [1500.0]),
        ("twenty five millimetres", [25.0]),
        ("40 centimeters", [400.0]),
        ("1 m", [1000.0]),
        ("20-30 mm", [20.0, 30.0]),
        ("four 60 mm steps", [60.0]),
    ],
)
def test_quantities_are_read_in_digits_or_words_with_their_units(
    text: str, mm: list[float]
) -> None:
    assert [q.mm for q in quantities(tokenize(text))] == mm


@pytest.mark.parametrize(
    ("prompt", "expected"),
    [
        (
            "a 30 mm marble must reach a cup half a metre away",
            {"shape": "sphere", "radius": 15.0, "goal_distance": 500.0},
        ),
        (
            "a rubber ball must end 70 cm to the left in a bin",
            {"shape": "sphere", "goal_distance": 700.0},
        ),
        ("a cube must reach a shelf 120 mm above it", {"shape": "box", "step_up": 120.0}),
        (
            "a steel ball lands in a bin 300 mm further down",
            {"shape": "sphere", "step_down": 300.0},
        ),
        ("a ball must cross a gap 200 mm wide", {"shape": "sphere", "gap.width": 200.0}),
        (
            "a cube must go down four 60 mm steps",
            {"shape": "box", "stairs.steps": 4, "stairs.step_height": 60.0},
        ),
        (
            "a 20 mm ball must pass a slot 45 mm across in a wall",
            {"shape": "sphere", "slot_wall.slot_width": 45.0},
        ),
        (
            "an aluminum cylinder must clear two walls",
            {"shape": "cylinder", "material": "aluminium", "walls": 2},
        ),
        ("a wooden rod must go through a window in a wall", {"shape": "capsule", "window_wall": 1}),
        (
            "a ball must pass a post, a bump and a funnel",
            {"shape": "sphere", "post": 1, "bump": 1, "funnel": 1},
        ),
        ("a ball must roll past a lever into a bin", {"shape": "sphere", "lever": 1}),
        ("a cube must get through a gate 150 mm high", {"shape": "box", "gate.height": 150.0}),
        ("a ball must get past a flap and a door", {"gate": 2}),
        ("a steel ball must pass a sliding platform", {"slider": 1, "platform": 0}),
        ("a cube must get past a piston and a slider", {"slider": 2}),
        ("a 60 mm ring must land in a cup", {"shape": "ring", "radius": 30.0}),
        ("a steel washer must land in a bin", {"shape": "ring", "material": "steel"}),
        ("a hoop 80 mm across must cross a gap", {"shape": "ring", "radius": 40.0, "gap": 1}),
    ],
)
def test_the_planner_maps_common_phrasings_onto_a_spec(prompt: str, expected: dict) -> None:
    plan = plan_prompt(prompt)
    data = plan.spec.as_data()
    modules = data["modules"]
    kinds = [m["type"] for m in modules]
    for key, value in expected.items():
        if key == "shape":
            assert data["payload"]["shape"] == value
        elif key == "radius":
            assert covers(data["payload"]["radius"], value)
        elif key == "material":
            assert data["payload"]["material"] == value
        elif key == "goal_distance":
            assert plan.understood["goal_distance"]["mm"] == value
            assert plan.understood["goal_distance"]["words"]
        elif key == "walls":
            assert kinds.count("wall") == value
        elif "." in key:
            kind, field = key.split(".")
            assert covers(next(m for m in modules if m["type"] == kind)[field], value)
        elif key in ("step_up", "step_down"):
            assert covers(next(m for m in modules if m["type"] == key)["height"], value)
        else:
            assert kinds.count(key) == value
    assert kinds[-1] in ("bin", "cup")


def test_the_planner_reports_what_it_ignored_and_refuses_what_it_cannot_map() -> None:
    plan = plan_prompt("a ball must cross a gap gracefully, turning a crank")
    assert "gracefully" in plan.ignored and "crank" in plan.ignored
    with pytest.raises(PlanError, match="names no payload"):
        plan_prompt("make it interesting")


def test_benchgen_plan_prints_json_and_checks_seeds_through_the_funnel() -> None:
    runner = CliRunner()
    result = runner.invoke(
        main,
        [
            "plan",
            "a 40 mm ball must cross a gap 150 mm wide",
            "--json",
            "--check",
            "1",
            "--sandbox",
            "subprocess",
        ],
    )
    assert result.exit_code == 0, result.output
    document = json.loads(result.output)
    assert document["understood"]["payload.radius"] == {"mm": 20.0, "words": "40 mm"}
    assert document["spec"]["payload"]["shape"] == "sphere"
    assert document["checks"] == [{"seed": 0, "accepted": True, "reason": None}]
    refused = runner.invoke(main, ["plan", "make it interesting"])
    assert refused.exit_code == 1 and "cannot map" in refused.output


# --- through Dagster, offline -------------------------------------------------------------


def test_a_request_without_family_or_model_is_planned_offline_and_packaged(tmp_path: Path) -> None:
    settings = PipelineSettings(data_dir=str(tmp_path))
    planned = GenerationRequest(
        request_id="marble-cup",
        prompt="a 30 mm marble must reach a cup half a metre away",
        variants=2,
    )
    spec = GenerationRequest(
        request_id="spec-course", prompt="a spec", variants=1, spec=parse_spec(COURSE)
    )
    resources = {**resources_for(settings), "agent": AgentResource()}
    with DagsterInstance.ephemeral() as instance:
        for request in (planned, spec):
            settings.requests.accept(request)
            assert build_request(instance, request.request_id, resources).success
        release_dataset(instance, resources)
    samples = list(load(settings.root / "datasets" / "default"))
    sources = {s.scenario.lineage.family_source for s in samples}
    assert sources == {"planner", "spec"}
    marble = next(s for s in samples if s.scenario.lineage.family_source == "planner")
    assert marble.scenario.payload.shape == "sphere"
    assert marble.scenario.payload.size[0] == pytest.approx(0.015, rel=0.05)
    goal_x = (marble.scenario.goal_zone.min[0] + marble.scenario.goal_zone.max[0]) / 2
    assert goal_x - marble.scenario.payload.start_position[0] == pytest.approx(0.5, rel=0.1)
    assert "build_course" in marble.script


def test_benchgen_request_without_family_or_model_says_how_the_planner_reads_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("BENCHGEN_AGENT_MODEL", raising=False)
    runner = CliRunner()
    args = ["--requests-dir", str(tmp_path)]
    written = runner.invoke(main, ["request", "a ball must cross a gap 200 mm wide", *args])
    assert written.exit_code == 0, written.output
    assert "the offline planner plans it (course gap,bin)" in written.output
    refused = runner.invoke(main, ["request", "something lovely", *args])
    assert refused.exit_code == 2 and "cannot map 'something lovely'" in refused.output
    assert len(list(tmp_path.glob("*.yaml"))) == 1
