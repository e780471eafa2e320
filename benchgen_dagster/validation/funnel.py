"""The validation funnel: every variant, whatever its source, goes through the same stages.

`validate_variant` is a pure function of the sandbox's output and the variant's context: the
same inputs give the same report and byte-identical files. A rejection is a result with a
reason code; exceptions out of here are bugs.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

import mujoco
import numpy as np

from benchgen_dagster.sandbox.protocol import JobOutcome, ScriptFailure
from benchgen_dagster.schema.contract import (
    Controls,
    Reason,
    Scenario,
    Stage,
    StageResult,
    ValidationReport,
)
from benchgen_dagster.validation.difficulty import (
    MAX_TRIALS,
    TRIVIAL_LOW95,
    is_trivial,
    random_baseline,
    wilson,
)
from benchgen_dagster.validation.model import SOLUTION_PREFIX, CompiledScene, compile_scene
from benchgen_dagster.validation.rules import RuleViolation, check_rules
from benchgen_dagster.validation.scene import (
    Scene,
    SceneError,
    VariantContext,
    assemble_scenario,
    load_mechanism,
    load_parts,
)
from benchgen_dagster.validation.simulate import (
    Run,
    deepest_overlap,
    energy_tolerance,
    payload_clearance,
    perturbations,
    simulate,
    speed_limit,
)

OVERLAP_TOLERANCE_M = 0.001  # parts may touch, not sink into each other by more than this
SETTLED_JOINT_SPEED = 0.05  # rad/s or m/s: a passive joint slower than this at the end has settled
# What a validation result depends on, besides the dataset contract: the validator version
# hashes exactly these, so editing a pipeline step or an internal record keeps partitions fresh.
VALIDATION_MODULES = ("difficulty", "funnel", "geometry", "model", "rules", "scene", "simulate")


@dataclass(frozen=True)
class FunnelSettings:
    robust_trials: int = 5
    robust_min_successes: int = 4
    certificate_trials: int = 16  # the reference's stronger certificate, recorded, not a gate
    difficulty_max_trials: int = MAX_TRIALS


@dataclass(frozen=True)
class ValidatedVariant:
    report: ValidationReport
    scenario: Scenario | None = None
    xml: str | None = None
    solution_xml: str | None = None
    geometry_sha256: str | None = None
    controls: Controls | None = None
    seconds: dict[str, float] = field(default_factory=dict, compare=False)


def validator_sources() -> list[Path]:
    """The files whose text the validator version hashes."""
    package = Path(__file__).resolve().parents[1]
    files = [package / "validation" / f"{module}.py" for module in VALIDATION_MODULES]
    return [*files, package / "schema" / "contract.py"]


@cache
def validator_version() -> str:
    """A hash of the validation code and the schema: a change to any rule changes it."""
    digest = hashlib.sha256()
    for path in validator_sources():
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:12]


class _Rejected(Exception):
    def __init__(
        self,
        stage: Stage,
        reason: Reason,
        message: str,
        measurements: dict[str, float] | None = None,
    ) -> None:
        super().__init__(message)
        self.result = StageResult(
            stage=stage,
            passed=False,
            reason=reason,
            message=message,
            measurements=measurements or {},
        )


@dataclass
class _Funnel:
    context: VariantContext
    settings: FunnelSettings
    seconds: dict[str, float] = field(default_factory=dict)
    stages: list[StageResult] = field(default_factory=list)

    def passed(self, stage: Stage, **measurements: float) -> None:
        self.stages.append(StageResult(stage=stage, passed=True, measurements=measurements))

    @contextmanager
    def timed(self, stage: Stage) -> Iterator[None]:
        """The stage's CPU time in this process: core-seconds, whatever else the machine runs."""
        started = time.process_time()
        try:
            yield
        finally:
            self.seconds[stage] = self.seconds.get(stage, 0.0) + time.process_time() - started


def validate_variant(
    outcome: JobOutcome,
    context: VariantContext,
    settings: FunnelSettings = FunnelSettings(),
) -> ValidatedVariant:
    """Run one sandbox outcome through geometry, rules, model and the simulations."""
    funnel = _Funnel(context, settings)
    seed = outcome.job.seed
    scenario: Scenario | None = None
    compiled: CompiledScene | None = None
    controls: Controls | None = None
    try:
        if isinstance(outcome, ScriptFailure):
            raise _Rejected(Stage.run, outcome.reason, outcome.message)
        funnel.passed(Stage.run)
        with funnel.timed(Stage.geometry):
            scene = _geometry(funnel, outcome)
        scenario, controls = scene.scenario, scene.controls
        with funnel.timed(Stage.rules):
            _rules(funnel, scene)
        with funnel.timed(Stage.model):
            compiled = _model(funnel, scene)
        with funnel.timed(Stage.stable):
            _stable_and_not_trivial(funnel, scenario, compiled.model)
        with funnel.timed(Stage.solvable):
            _solvable_and_robust(funnel, scenario, compiled.solution_model, controls)
        with funnel.timed(Stage.difficulty):
            scenario = _difficulty(funnel, scenario, compiled.xml)
    except _Rejected as rejection:
        funnel.stages.append(rejection.result)
    report = ValidationReport(
        scenario_id=context.scenario_id(seed),
        family=context.family,
        seed=seed,
        stages=funnel.stages,
        validator_version=validator_version(),
    )
    if not report.accepted or compiled is None:
        return ValidatedVariant(report, seconds=funnel.seconds)
    return ValidatedVariant(
        report,
        scenario,
        compiled.xml,
        compiled.solution_xml,
        compiled.geometry_sha256,
        controls,
        funnel.seconds,
    )


def _geometry(funnel: _Funnel, outcome: JobOutcome) -> Scene:
    assert not isinstance(outcome, ScriptFailure)
    try:
        parts, solution = load_parts(outcome)
        actuators, controls = load_mechanism(outcome.build, solution, SOLUTION_PREFIX)
        scenario = assemble_scenario(outcome, funnel.context)
    except SceneError as error:
        raise _Rejected(Stage.geometry, error.reason, str(error)) from None
    pieces = sum(len(p.pieces) for p in parts)
    hulls = sum(len(piece.hulls) for p in parts for piece in p.pieces)
    funnel.passed(
        Stage.geometry,
        parts=len(parts),
        pieces=pieces,
        convex_hulls=hulls,
        solution_parts=len(solution),
        joints=sum(p.joint is not None for p in (*parts, *solution)),
        actuators=len(actuators),
    )
    return Scene(scenario, parts, solution, actuators, controls)


def _rules(funnel: _Funnel, scene: Scene) -> None:
    try:
        measurements = check_rules(scene.scenario, scene.solution, scene.actuators, scene.controls)
    except RuleViolation as error:
        raise _Rejected(Stage.rules, error.reason, str(error)) from None
    funnel.passed(Stage.rules, **measurements)


def _model(funnel: _Funnel, scene: Scene) -> CompiledScene:
    try:
        compiled = compile_scene(scene)
    except ValueError as error:  # MuJoCo's compiler reports through ValueError
        raise _Rejected(Stage.model, Reason.model_compile_failed, str(error)[:500]) from None
    model = compiled.solution_model
    payload_geom = model.geom(f"{scene.scenario.payload.body_name}_geom").id
    payload_body = model.geom_bodyid[payload_geom]  # a ring's pieces are all the payload
    owners = {
        g: _owner(model.geom(g).name)
        for g in range(model.ngeom)
        if model.geom_bodyid[g] != payload_body
    }
    depth, part_a, part_b = deepest_overlap(model, owners)
    if depth < -OVERLAP_TOLERANCE_M:
        raise _Rejected(
            Stage.model,
            Reason.parts_interpenetrate,
            f"{part_a} and {part_b} overlap by {-depth * 1000:.1f} mm",
        )
    clearance, nearest = payload_clearance(model, payload_geom)
    needed = scene.scenario.payload.start_jitter * 3**0.5
    if clearance < needed:
        raise _Rejected(
            Stage.model,
            Reason.payload_intersects_solid,
            f"the payload starts {clearance * 1000:.1f} mm from {nearest}; "
            f"its jitter needs {needed * 1000:.1f} mm",
        )
    funnel.passed(
        Stage.model,
        bodies=model.nbody,
        geoms=model.ngeom,
        meshes=model.nmesh,
        start_clearance_m=round(clearance, 6),
    )
    return compiled


def _owner(geom_name: str) -> str:
    """The part a geom belongs to: its name without the hull index."""
    return geom_name.rsplit("_", 1)[0]


def _stable_and_not_trivial(funnel: _Funnel, scenario: Scenario, model: mujoco.MjModel) -> None:
    run = simulate(model, scenario)
    measured = {
        "max_speed_mps": round(run.max_speed, 4),
        "energy_gain_j": round(run.energy_gain, 6),
        "sim_time_s": run.sim_time,
    }
    if run.diverged:
        raise _Rejected(
            Stage.stable, Reason.unstable_nan, "the simulation diverged (NaN)", measured
        )
    if run.max_speed > speed_limit(scenario):
        raise _Rejected(
            Stage.stable,
            Reason.unstable_speed,
            f"the payload reached {run.max_speed:.1f} m/s, above the physical bound "
            f"{speed_limit(scenario):.1f} m/s",
            measured,
        )
    if scenario.tier == "kinematic":
        _within_range(Stage.stable, run, "with nothing added", measured)
    if run.energy_gain > energy_tolerance(scenario):
        raise _Rejected(
            Stage.stable,
            Reason.unstable_energy,
            f"the system gained {run.energy_gain:.4f} J",
            measured,
        )
    if run.left_bounds:
        raise _Rejected(
            Stage.stable,
            Reason.payload_left_bounds,
            "with nothing added the payload leaves the simulation bounds",
            measured,
        )
    if scenario.tier == "kinematic":
        measured["joint_speed_end"] = round(run.joint_speed, 5)
        ran_out = not (run.touched_forbid or run.reached_goal)  # else it stopped early
        if ran_out and run.joint_speed > SETTLED_JOINT_SPEED:
            raise _Rejected(
                Stage.stable,
                Reason.joints_not_settled,
                f"with nothing added the scenery's joints still move at {run.joint_speed:.3f} "
                f"at the end, above {SETTLED_JOINT_SPEED}",
                measured,
            )
    funnel.passed(Stage.stable, **measured)
    trivial = {"final_goal_distance_m": round(run.min_goal_distance, 4)}
    if run.reached_goal:
        raise _Rejected(
            Stage.trivial,
            Reason.trivial,
            "with nothing added the payload reaches the goal",
            trivial,
        )
    funnel.passed(Stage.trivial, **trivial)


def _within_range(stage: Stage, run: Run, when: str, measured: dict[str, float]) -> None:
    if run.out_of_range:
        raise _Rejected(
            stage, Reason.joint_out_of_range, f"{when} joint {run.out_of_range}", measured
        )


def _solvable_and_robust(
    funnel: _Funnel, scenario: Scenario, model: mujoco.MjModel, controls: Controls | None
) -> None:
    data = mujoco.MjData(model)  # one for every run of the solution
    run = simulate(model, scenario, data=data, controls=controls)
    mechanism: dict[str, float] = {}
    if scenario.tier == "kinematic":
        mechanism = {
            "actuator_work_j": round(run.actuator_work, 6),
            "energy_beyond_work_j": round(run.energy_gain, 6),
        }
        _within_range(Stage.solvable, run, "with the reference solution", mechanism)
        if run.energy_gain > energy_tolerance(scenario):
            raise _Rejected(
                Stage.solvable,
                Reason.energy_exceeds_work,
                f"with the reference solution the system gained {run.energy_gain:.4f} J more "
                f"than its actuators put in ({run.actuator_work:.4f} J)",
                mechanism,
            )
    if run.touched_forbid:
        raise _Rejected(
            Stage.solvable,
            Reason.solution_touches_forbid,
            f"with the reference solution the payload touches {run.touched_forbid}",
        )
    if not run.success:
        raise _Rejected(
            Stage.solvable,
            Reason.unsolvable,
            "the reference solution does not bring the payload to the goal "
            f"(it ends {run.min_goal_distance * 1000:.0f} mm away at best)",
            {"goal_distance_m": round(run.min_goal_distance, 4)},
        )
    if controls is not None and simulate(model, scenario, data=data).success:
        raise _Rejected(
            Stage.solvable,
            Reason.controls_not_needed,
            "the reference solution solves the scenario with every control held at zero: "
            "its actuators are not needed, so it is not a kinematic solution",
            mechanism,
        )
    funnel.passed(
        Stage.solvable,
        time_to_goal_s=run.time_to_goal or 0.0,
        max_speed_mps=round(run.max_speed, 4),
        **mechanism,
    )
    settings = funnel.settings
    trials, certificate = settings.robust_trials, settings.certificate_trials
    offsets = perturbations(scenario, max(trials, certificate))

    def succeeds(offset: np.ndarray) -> bool:
        run = simulate(model, scenario, offset, data=data, controls=controls, count_work=False)
        return run.success

    outcomes = [succeeds(offset) for offset in offsets[:trials]]
    successes = sum(outcomes)
    measured: dict[str, float] = {"successes": successes, "trials": trials}
    if successes < settings.robust_min_successes:
        raise _Rejected(
            Stage.robust,
            Reason.not_robust,
            f"the solution works for {successes} of {trials} "
            f"perturbed starts, below {settings.robust_min_successes}",
            measured,
        )
    outcomes += [succeeds(offset) for offset in offsets[trials:certificate]]
    certified = sum(outcomes[:certificate])
    measured |= {
        "certificate_successes": certified,
        "certificate_trials": certificate,
        "certificate_low95": round(wilson(certified, certificate)[0], 6),
    }
    funnel.passed(Stage.robust, **measured)


def _difficulty(funnel: _Funnel, scenario: Scenario, xml: str) -> Scenario:
    """The random-design baseline on the scenery without the solution: its record goes into
    the scenario; a scenario random designs solve often is rejected."""
    result = random_baseline(xml, scenario, funnel.settings.difficulty_max_trials)
    difficulty = result.difficulty
    if is_trivial(difficulty):
        raise _Rejected(
            Stage.difficulty,
            Reason.trivial_random,
            f"random designs solve it {difficulty.successes} times in {difficulty.trials} "
            f"(95% lower bound {difficulty.random_solve_low95:.1%}, at least "
            f"{TRIVIAL_LOW95:.0%} is trivial)",
            result.measurements(),
        )
    funnel.passed(Stage.difficulty, **result.measurements())
    return scenario.model_copy(update={"difficulty": difficulty})
