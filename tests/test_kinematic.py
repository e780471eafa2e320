"""The kinematic tier: joints and actuators from a family script to the shard, and the funnel's
rules for mechanisms, each fed a variant that breaks it (real build123d, real MuJoCo)."""

from __future__ import annotations

import json

import mujoco
import pytest

from benchgen_dagster.catalogue.registry import registry
from benchgen_dagster.dataset.members import member_json
from benchgen_dagster.dataset.reader import ScenarioSample
from benchgen_dagster.kit import Actuator, Joint, Mechanism, actuator_cost
from benchgen_dagster.sandbox.protocol import Job, RawVariant
from benchgen_dagster.schema.contract import Controls, Reason, Stage
from benchgen_dagster.validation.funnel import (
    FunnelSettings,
    _Funnel,
    _Rejected,
    _solvable_and_robust,
    _stable_and_not_trivial,
    validate_variant,
)
from benchgen_dagster.validation.scoring import evaluate
from tests.helpers import context_for, run_script


def _outcome(family: str) -> RawVariant:
    [outcome] = run_script(registry()[family].source, [Job(0, 0)])
    assert isinstance(outcome, RawVariant)
    return outcome


@pytest.fixture(scope="module")
def lift() -> RawVariant:
    return _outcome("shelf_lift")


@pytest.fixture(scope="module")
def trapdoor() -> RawVariant:
    return _outcome("trapdoor")


def _with(outcome: RawVariant, **build: object) -> RawVariant:
    return RawVariant(outcome.job, outcome.build.model_copy(update=build), outcome.meshes, 0.0)


def _validate(outcome: RawVariant, family: str):  # type: ignore[no-untyped-def]
    return validate_variant(outcome, context_for(family))


def test_the_world_has_joints_but_no_actuators_and_the_solution_has_both(lift) -> None:
    validated = _validate(lift, "shelf_lift")
    assert validated.report.accepted, validated.report.rejection
    assert validated.scenario is not None and validated.scenario.tier == "kinematic"
    world = mujoco.MjModel.from_xml_string(validated.xml)
    solution = mujoco.MjModel.from_xml_string(validated.solution_xml)
    assert world.nu == 0
    assert solution.nu == 1 and solution.joint("solution_platform_joint").type == 2  # slide
    # millimetres in the script, metres in the model, converted once
    limit = lift.build.joints["platform"].range[1]
    assert solution.jnt_range[solution.joint("solution_platform_joint").id][1] == pytest.approx(
        limit / 1000, abs=1e-6
    )


def test_the_controls_member_is_the_contracts_and_replays_the_reference_run(lift) -> None:
    validated = _validate(lift, "shelf_lift")
    member = json.loads(member_json(validated.controls.model_dump(mode="json")))
    assert member["schema_version"] == "1"
    assert list(member["controls"]) == ["solution_lift"]
    points = member["controls"]["solution_lift"]
    assert points == sorted(points) and points[-1][1] == pytest.approx(
        lift.build.controls["lift"][-1][1] / 1000, abs=1e-6
    )
    sample = ScenarioSample(
        scenario=validated.scenario,
        mjcf=validated.xml,
        solution_mjcf=validated.solution_xml,
        script="",
        validation=validated.report,
        renders=[],
        controls=Controls.model_validate(member),
    )
    goal = validated.scenario.goal_zone
    replayed = sample.replay()
    assert goal.contains_point(tuple(replayed.qpos[-7:-4]))
    without = ScenarioSample(**{**sample.__dict__, "controls": None}).replay()
    assert not goal.contains_point(tuple(without.qpos[-7:-4]))


@pytest.fixture(scope="module")
def puck() -> RawVariant:
    return _outcome("puck_shelf")


def test_a_spatial_family_stays_spatial(puck) -> None:
    validated = _validate(puck, "puck_shelf")
    assert validated.scenario.tier == "spatial" and validated.controls is None


def test_a_schedule_beyond_its_actuators_control_range_is_rejected(lift) -> None:
    controls = {"lift": [(0.0, 0.0), (2.0, lift.build.actuators["lift"].control_range[1] + 50)]}
    report = _validate(_with(lift, controls=controls), "shelf_lift").report
    assert report.rejection.stage == Stage.rules
    assert report.rejection.reason == Reason.actuator_over_limit


def test_a_solution_joint_outside_its_range_is_rejected(lift) -> None:
    joint = lift.build.joints["platform"].model_copy(update={"range": (20.0, 60.0)})
    report = _validate(_with(lift, joints={"platform": joint}), "shelf_lift").report
    assert report.rejection.stage == Stage.solvable
    assert report.rejection.reason == Reason.joint_out_of_range


def test_a_scenery_joint_outside_its_range_is_rejected(trapdoor) -> None:
    joint = trapdoor.build.joints["trapdoor"].model_copy(update={"range": (5.0, 10.0)})
    report = _validate(_with(trapdoor, joints={"trapdoor": joint}), "trapdoor").report
    assert report.rejection.stage == Stage.stable
    assert report.rejection.reason == Reason.joint_out_of_range


def test_passive_joints_that_never_settle_are_rejected(lift) -> None:
    """A pendulum without damping, hung clear of everything and let go level, swings on."""
    validated = _validate(lift, "shelf_lift")
    assert validated.xml is not None, validated.report.rejection
    spec = mujoco.MjSpec.from_string(validated.xml)
    bounds = validated.scenario.simulation.bounds
    pendulum = spec.worldbody.add_body(
        name="pendulum", pos=[bounds.min[0] + 0.05, bounds.center[1], bounds.max[2] - 0.06]
    )
    pendulum.add_joint(name="swing", type=mujoco.mjtJoint.mjJNT_HINGE, axis=[0, 1, 0])
    pendulum.add_geom(
        type=mujoco.mjtGeom.mjGEOM_SPHERE,
        size=[0.01, 0, 0],
        pos=[0.03, 0, 0],
        contype=0,
        conaffinity=0,
    )
    funnel = _Funnel(context_for("shelf_lift"), FunnelSettings())
    with pytest.raises(_Rejected) as rejected:
        _stable_and_not_trivial(funnel, validated.scenario, spec.compile())
    assert rejected.value.result.reason == Reason.joints_not_settled


def test_a_motor_that_is_not_needed_is_rejected_as_not_kinematic(trapdoor) -> None:
    from benchgen_dagster.sandbox.protocol import RawActuator, RawJoint

    bridge = trapdoor.build.solution
    assert list(bridge) == ["bridge"]
    report = _validate(
        _with(
            trapdoor,
            joints={
                **trapdoor.build.joints,
                "bridge": RawJoint(kind="slide", axis=(0, 0, 1), anchor=(0, 0, 0), range=(-1, 1)),
            },
            actuators={
                "idle": RawActuator(
                    joint="bridge", kind="position", force_limit=50, control_range=(-1, 1), gain=50
                )
            },
            controls={"idle": [(0.0, 0.0), (1.0, 0.5)]},
            max_unit_cost=100.0,
        ),
        "trapdoor",
    ).report
    assert report.rejection.stage == Stage.solvable
    assert report.rejection.reason == Reason.controls_not_needed


def test_energy_gained_beyond_the_actuators_work_is_rejected(lift) -> None:
    """The platform starts sunk 30 mm into the floor: the contact throws it out, energy no
    actuator put in."""
    validated = _validate(lift, "shelf_lift")
    spec = mujoco.MjSpec.from_string(validated.solution_xml)
    body = spec.body("solution_platform")
    body.pos = [body.pos[0], body.pos[1], body.pos[2] - 0.03]
    funnel = _Funnel(context_for("shelf_lift"), FunnelSettings())
    with pytest.raises(_Rejected) as rejected:
        _solvable_and_robust(funnel, validated.scenario, spec.compile(), validated.controls)
    assert rejected.value.result.reason == Reason.energy_exceeds_work


# --- solvers' mechanisms -----------------------------------------------------------------


@pytest.fixture(scope="module")
def lift_sample(lift) -> ScenarioSample:
    validated = _validate(lift, "shelf_lift")
    return ScenarioSample(
        scenario=validated.scenario,
        mjcf=validated.xml,
        solution_mjcf=validated.solution_xml,
        script="",
        validation=validated.report,
        renders=[],
        controls=validated.controls,
    )


def _kit_mechanism(lift: RawVariant, with_actuators: bool = True) -> Mechanism:
    build = lift.build
    parts = {label: [lift.meshes[n] for n in names] for label, names in build.solution.items()}
    joints = {label: Joint(**dict(build.joints[label])) for label in parts}
    if not with_actuators:
        return Mechanism(parts, joints)
    actuators = {name: Actuator(**dict(a)) for name, a in build.actuators.items()}
    return Mechanism(parts, joints, actuators, dict(build.controls))


def test_a_solvers_mechanism_of_kit_declarations_is_scored_with_its_schedule(
    lift, lift_sample
) -> None:
    moving = evaluate(lift_sample, _kit_mechanism(lift), trials=2)
    assert moving.success, moving.reasons
    assert moving.actuators == 1 and moving.actuator_work_j > 0
    still = evaluate(lift_sample, _kit_mechanism(lift, with_actuators=False), trials=0)
    assert still.valid and not still.success
    # the actuator counts against the budget
    assert moving.cost == pytest.approx(still.cost + actuator_cost(40.0), abs=1e-3)


def _lift_mjcf(sample: ScenarioSample) -> str:
    """The reference's platform, slide and actuator alone, as a solver's MJCF design."""
    spec = mujoco.MjSpec.from_string(sample.solution_mjcf)
    world = spec.worldbody
    for element in [*world.geoms, *world.sites, *world.cameras, *world.lights, *spec.textures]:
        spec.delete(element)
    spec.delete(spec.body("payload"))
    return spec.to_xml()


def test_an_mjcf_design_with_an_actuator_and_a_controls_file_lifts_the_ball(lift_sample) -> None:
    xml, controls = _lift_mjcf(lift_sample), lift_sample.controls
    result = evaluate(lift_sample, xml, trials=0, controls=controls)
    assert result.success, result.reasons
    assert result.actuators == 1
    unpowered = evaluate(lift_sample, xml, trials=0)
    assert not unpowered.success
    stronger = xml.replace('forcerange="-40 40"', 'forcerange="-80 80"')
    dearer = evaluate(lift_sample, stronger, trials=0, controls=controls)
    assert dearer.cost == pytest.approx(result.cost + actuator_cost(80.0) - actuator_cost(40.0))


def test_an_mjcf_schedule_outside_its_control_range_rules_the_design_out(lift_sample) -> None:
    controls = Controls(controls={"solution_lift": [(0.0, 0.0), (1.0, 5.0)]})
    result = evaluate(lift_sample, _lift_mjcf(lift_sample), trials=0, controls=controls)
    assert not result.valid and "control range" in result.reasons[0]


def test_an_mjcf_actuator_without_a_force_limit_is_refused(lift_sample) -> None:
    xml = _lift_mjcf(lift_sample).replace('forcelimited="true"', 'forcelimited="false"')
    with pytest.raises(ValueError, match="force limit"):
        evaluate(lift_sample, xml, trials=0)


def test_benchgen_evaluate_takes_controls_only_with_an_mjcf_design(tmp_path) -> None:
    from click.testing import CliRunner

    from benchgen_dagster.cli import main

    design, controls = tmp_path / "design.py", tmp_path / "controls.json"
    design.write_text("def design(scenario):\n    return {}\n")
    controls.write_text('{"schema_version": "1", "controls": {}}')
    result = CliRunner().invoke(
        main, ["evaluate", str(tmp_path), "x-s00000", str(design), "--controls", str(controls)]
    )
    assert result.exit_code == 2 and "--controls goes with an MJCF design" in result.output


# --- the random-design baseline ----------------------------------------------------------


def test_a_kinematic_scenarios_random_designs_include_hinged_and_motorised_planks(lift) -> None:
    from benchgen_dagster.validation import difficulty

    validated = _validate(lift, "shelf_lift")
    assert validated.scenario.difficulty.baseline == difficulty.KINEMATIC_BASELINE
    probes = difficulty.ProbeModel(validated.xml, validated.scenario)
    designs = [difficulty.trial_design(probes, trial)[0] for trial in range(40)]
    kinds = {box.kind for design in designs if design for box in design}
    assert set(difficulty.MOVING) <= kinds
    motorised = next(d for d in designs if d and any(b.kind == "motorised" for b in d))
    run = probes.run(motorised)
    hinge = probes.model.joint("probe_motorised_hinge")
    assert abs(probes.data.qpos[hinge.qposadr[0]]) > 0.05  # the motor turned it
    fresh = difficulty.fresh_run(validated.xml, validated.scenario, motorised)
    assert run.success == fresh.success  # resized in place as if compiled for the trial
    assert run.final_position == pytest.approx(fresh.final_position, abs=2e-3)


def test_a_spatial_scenarios_random_designs_stay_fixed(puck) -> None:
    from benchgen_dagster.validation import difficulty

    validated = _validate(puck, "puck_shelf")
    assert validated.scenario.difficulty.baseline == difficulty.BASELINE
    probes = difficulty.ProbeModel(validated.xml, validated.scenario)
    assert probes.model.nu == 0 and probes.model.njnt == 1  # the payload's free joint


# --- the runs' control tables ------------------------------------------------------------

NO_TRIALS = FunnelSettings(difficulty_max_trials=0)  # the reference runs are what is tested


def test_a_runs_control_table_holds_the_schedule_at_the_times_mujoco_reaches(lift) -> None:
    """The lookup replaces interpolating at `data.time` every step: row k must be what the
    schedule gives at the time MuJoCo has reached after k steps, to the bit."""
    from benchgen_dagster.validation.simulate import _Schedule

    validated = validate_variant(lift, context_for("shelf_lift"), NO_TRIALS)
    model = mujoco.MjModel.from_xml_string(validated.solution_xml)
    data = mujoco.MjData(model)
    schedule = _Schedule.of(model, validated.controls)
    steps = round(validated.scenario.simulation.duration_s / model.opt.timestep)
    times, table = schedule.table(model.opt.timestep, steps)
    for step in range(steps):
        assert data.time == times[step]
        assert table[step].tolist() == schedule.at(data.time)
        data.ctrl[:] = table[step]
        mujoco.mj_step(model, data)
    assert len(set(map(tuple, table.tolist()))) > 2  # the controls did change on the way


def test_a_run_without_the_actuators_work_ends_as_the_run_with_it(lift) -> None:
    from dataclasses import replace

    from benchgen_dagster.validation.simulate import simulate

    validated = validate_variant(lift, context_for("shelf_lift"), NO_TRIALS)
    model = mujoco.MjModel.from_xml_string(validated.solution_xml)
    scenario, controls = validated.scenario, validated.controls
    counted = simulate(model, scenario, controls=controls)
    outcome = simulate(model, scenario, controls=controls, count_work=False)
    assert counted.success and counted.actuator_work != 0 and outcome.actuator_work == 0
    assert replace(outcome, energy_gain=0.0, actuator_work=0.0) == replace(
        counted, energy_gain=0.0, actuator_work=0.0
    )
