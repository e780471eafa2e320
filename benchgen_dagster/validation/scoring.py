"""Score a candidate design on a packaged scenario, the way the validator scored the reference.

A design is either a mapping of part labels to build123d shapes or binary STL files (one or
several solids each, in millimetres like a family script, all of one material), a
`kit.Mechanism` (such parts with the kit's joints, actuators and control schedule, in a
script's millimetres and degrees), or an MJCF document whose worldbody holds the design's
bodies (metres; a body without a joint is fixed, jointed bodies move; its actuators need a
force limit, and `controls` gives their schedule in MJCF units; mass as MuJoCo computes it,
cost at the material's price per kg). Every actuator costs `kit.actuator_cost` of its force
limit. The design is checked against the build zone, the cost and weight limits and its
actuators' control ranges, added to the scenario's own MJCF, checked for interpenetration and
simulated from the payload's start and from seeded perturbations of it, its controls set
before every step.
"""

from __future__ import annotations

import itertools
import tempfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import mujoco
import numpy as np
from pydantic import Field

from benchgen_dagster.dataset.reader import ScenarioSample
from benchgen_dagster.kit import Mechanism, actuator_cost
from benchgen_dagster.sandbox.protocol import RawActuator, RawJoint
from benchgen_dagster.schema.contract import MATERIALS, Box3, Controls, Model, Scenario
from benchgen_dagster.validation.funnel import OVERLAP_TOLERANCE_M
from benchgen_dagster.validation.geometry import GeometryError, piece_from_stl
from benchgen_dagster.validation.model import add_actuators, add_parts
from benchgen_dagster.validation.rules import (
    controls_beyond_limits,
    overhang,
    solution_weight_and_cost,
)
from benchgen_dagster.validation.scene import Part, SceneError, joint_spec, mechanism
from benchgen_dagster.validation.simulate import (
    deepest_overlap,
    energy_tolerance,
    perturbations,
    simulate,
)

DESIGN_PREFIX = "design_"
DESIGN_RGBA = (0.2, 0.55, 0.95, 1.0)
TOLERANCE_MM = 0.1
ANGULAR_TOLERANCE = 0.1  # radians, build123d's default
# label → build123d shape or STL bytes (or a list); a kit.Mechanism of such parts; or MJCF
Design = Mapping[str, Any] | Mechanism | str


class Evaluation(Model):
    """What a design achieved. `valid` is False when a constraint rules it out before any
    simulation; `success` needs the payload in the goal, no forbid zone touched."""

    valid: bool
    success: bool
    reasons: list[str] = Field(default_factory=list)
    time_to_goal_s: float | None = None
    touched_forbid: str | None = None
    goal_distance_m: float | None = None
    cost: float = 0.0
    weight_g: float = 0.0
    robust_successes: int = 0
    robust_trials: int = 0
    actuators: int = 0
    actuator_work_j: float = 0.0


@dataclass(frozen=True)
class _Candidate:
    bounds: dict[str, Box3]  # label → where it reaches
    weight_g: float
    cost: float
    attach: Callable[[mujoco.MjSpec], None]  # adds the design to a scenario's spec
    controls: Controls | None = None  # named as in the model with the design
    actuators: int = 0
    violations: tuple[str, ...] = ()  # what its declarations break (a control range)


def evaluate(
    scenario: ScenarioSample,
    design: Design,
    material: str = "wood",
    trials: int = 5,
    controls: Controls | Mapping[str, Sequence[Sequence[float]]] | None = None,
) -> Evaluation:
    """Score `design` on a packaged scenario. Deterministic: the perturbed starts are seeded
    by the scenario. `controls` is the schedule of an MJCF design's actuators, by their names
    (a `Controls` record, or its `controls` mapping)."""
    if material not in MATERIALS:
        raise ValueError(f"unknown material {material!r}; known: {', '.join(MATERIALS)}")
    candidate = _candidate(design, material, controls)
    scored: dict[str, Any] = {
        "cost": round(candidate.cost, 4),
        "weight_g": round(candidate.weight_g, 3),
        "actuators": candidate.actuators,
    }
    reasons = _constraint_violations(scenario.scenario, candidate)
    if reasons:
        return Evaluation(valid=False, success=False, reasons=reasons, **scored)
    model = _with_design(scenario, candidate)
    clash = _clash(model)
    if clash:
        return Evaluation(valid=False, success=False, reasons=[clash], **scored)
    schedule = candidate.controls
    run = simulate(model, scenario.scenario, controls=schedule)
    offsets = perturbations(scenario.scenario, trials) if trials else []
    robust = sum(
        simulate(model, scenario.scenario, offset, controls=schedule).success for offset in offsets
    )
    moving = run.out_of_range or run.energy_gain > energy_tolerance(scenario.scenario)
    if run.out_of_range:
        reasons.append(f"joint {run.out_of_range}")
    elif moving:
        reasons.append(f"the system gained {run.energy_gain:.4f} J more than the actuators put in")
    if run.touched_forbid:
        reasons.append(f"the payload touches forbid zone {run.touched_forbid}")
    elif not run.reached_goal:
        reasons.append(f"the payload ends {run.min_goal_distance * 1000:.0f} mm from the goal")
    if run.diverged or run.left_bounds:
        reasons.append("the payload leaves the scene" if run.left_bounds else "diverged")
    return Evaluation(
        valid=True,
        success=run.success and not moving,
        reasons=reasons,
        actuator_work_j=round(run.actuator_work, 6),
        time_to_goal_s=run.time_to_goal,
        touched_forbid=run.touched_forbid,
        goal_distance_m=round(run.min_goal_distance, 4),
        robust_successes=robust,
        robust_trials=trials,
        **scored,
    )


def ruled_out(scenario: ScenarioSample, design: Design, material: str = "wood") -> list[str]:
    """Why `evaluate` would rule the design out before simulating it (outside the build zone,
    above a limit, sunk into the scenery), or nothing: what a random design is redrawn on."""
    candidate = _candidate(design, material, None)
    reasons = _constraint_violations(scenario.scenario, candidate)
    clash = "" if reasons else _clash(_with_design(scenario, candidate))
    return [*reasons, clash] if clash else reasons


def _with_design(scenario: ScenarioSample, candidate: _Candidate) -> mujoco.MjModel:
    spec = mujoco.MjSpec.from_string(scenario.mjcf)
    candidate.attach(spec)
    return spec.compile()


def _candidate(
    design: Design,
    material: str,
    controls: Controls | Mapping[str, Sequence[Sequence[float]]] | None,
) -> _Candidate:
    if isinstance(design, str):
        return _from_mjcf(design, material, controls)
    if controls is not None:
        raise ValueError("controls go with an MJCF design; a Mechanism declares its own")
    if isinstance(design, Mechanism):
        return _from_mechanism(design, material)
    return _from_parts(design, material)


def _constraint_violations(scenario: Scenario, candidate: _Candidate) -> list[str]:
    limits = scenario.constraints
    reasons = [*candidate.violations] + [
        f"{label} reaches outside the build zone ({excess})"
        for label, box in candidate.bounds.items()
        if (excess := overhang(box, scenario.build_zone))
    ]
    if candidate.cost > limits.max_unit_cost:
        reasons.append(f"cost {candidate.cost:.2f} is above the limit {limits.max_unit_cost:.2f}")
    if candidate.weight_g > limits.max_weight_g:
        reasons.append(
            f"weight {candidate.weight_g:.0f} g is above the limit {limits.max_weight_g:.0f} g"
        )
    return reasons


def _from_parts(design: Mapping[str, Any], material: str) -> _Candidate:
    return _from_mechanism(Mechanism(dict(design)), material)


def _from_mechanism(design: Mechanism, material: str) -> _Candidate:
    """Parts with the kit's joint, actuator and schedule declarations, in a script's units,
    converted as a family's reference solution is."""
    stray = sorted(set(design.joints) - set(design.parts))
    if stray:
        raise ValueError(f"joints on parts the design does not have: {', '.join(stray)}")
    try:
        joints = {
            label: joint_spec(RawJoint.model_validate(_plain(joint)))
            for label, joint in design.joints.items()
        }
        actuators, controls = mechanism(
            {n: RawActuator.model_validate(_plain(a)) for n, a in design.actuators.items()},
            {n: [tuple(point) for point in points] for n, points in design.controls.items()},
            joints,  # type: ignore[arg-type]
            DESIGN_PREFIX,
        )
    except (SceneError, ValueError) as error:
        raise ValueError(f"the design's mechanism: {error}") from None
    parts = tuple(
        _part(label, shape, material, joints.get(label))
        for label, shape in sorted(design.parts.items())
    )
    weight_g, cost = solution_weight_and_cost(parts, actuators)
    violations = (
        tuple(m for _, m in controls_beyond_limits(actuators, controls)) if controls else ()
    )

    def attach(spec: mujoco.MjSpec) -> None:
        add_parts(spec, parts, DESIGN_PREFIX, DESIGN_RGBA, {mesh.name for mesh in spec.meshes})
        add_actuators(spec, actuators, DESIGN_PREFIX)

    bounds = {part.label: part.bounds for part in parts}
    return _Candidate(bounds, weight_g, cost, attach, controls, len(actuators), violations)


def _plain(declared: Any) -> dict[str, Any]:
    import dataclasses

    return dataclasses.asdict(declared) if dataclasses.is_dataclass(declared) else dict(declared)


def _from_mjcf(
    xml: str,
    material: str,
    controls: Controls | Mapping[str, Sequence[Sequence[float]]] | None = None,
) -> _Candidate:
    try:
        child = mujoco.MjSpec.from_string(xml)
        model = child.compile()
    except ValueError as error:
        raise ValueError(f"the design's MJCF does not load: {error}") from None
    if any(model.geom_bodyid == 0):
        raise ValueError("put the design's geoms inside <body> elements, not in the worldbody")
    for number, geom in enumerate(child.geoms):
        geom.name = geom.name or f"geom{number}"
    data = mujoco.MjData(model)
    mujoco.mj_forward(model, data)
    bounds: dict[str, Box3] = {}
    for body in range(1, model.nbody):
        if model.body_rootid[body] == body:  # each top-level body with all it carries
            geoms = np.flatnonzero(model.body_rootid[model.geom_bodyid] == body)
            if len(geoms):
                bounds[model.body(body).name or f"body{body}"] = _world_box(model, data, geoms)
    weight_kg = float(model.body_mass[1:].sum())
    schedule, violations = _mjcf_controls(model, controls)
    motors = 0.0
    for number in range(model.nu):
        if not model.actuator_forcelimited[number]:
            raise ValueError(
                f"actuator {model.actuator(number).name or number} of the design needs a force "
                "limit (forcelimited and forcerange): it is what the actuator costs"
            )
        motors += actuator_cost(float(np.abs(model.actuator_forcerange[number]).max()))

    def attach(spec: mujoco.MjSpec) -> None:
        spec.attach(child, prefix=DESIGN_PREFIX, frame=spec.worldbody.add_frame())

    cost = weight_kg * MATERIALS[material].cost_per_kg + motors
    return _Candidate(
        bounds, weight_kg * 1000, cost, attach, schedule, int(model.nu), tuple(violations)
    )


def _mjcf_controls(
    model: mujoco.MjModel, controls: Controls | Mapping[str, Sequence[Sequence[float]]] | None
) -> tuple[Controls | None, list[str]]:
    """An MJCF design's schedule, renamed as its actuators are in the scenario's model, and
    the points outside an actuator's control range."""
    names = [model.actuator(k).name for k in range(model.nu)]
    if controls is None:
        return None, []
    given = controls.controls if isinstance(controls, Controls) else controls
    if sorted(given) != sorted(names) or "" in names:
        raise ValueError(
            f"the controls are for actuators {sorted(given)}, the design has {sorted(names)} "
            "(every actuator named, each with a schedule)"
        )
    try:
        schedule = Controls(
            controls={
                DESIGN_PREFIX + n: [(float(t), float(v)) for t, v in points]
                for n, points in given.items()
            }
        )
    except ValueError as error:
        raise ValueError(f"the design's controls: {error}") from None
    violations = []
    for number, name in enumerate(names):
        low, high = model.actuator_ctrlrange[number]
        limited = model.actuator_ctrllimited[number]
        if limited and any(not low <= v <= high for _, v in given[name]):
            violations.append(f"the schedule of {name} leaves its control range [{low}, {high}]")
    return schedule, violations


def _world_box(model: mujoco.MjModel, data: mujoco.MjData, geoms: np.ndarray) -> Box3:
    corners = []
    for geom in geoms:
        center, half = model.geom_aabb[geom][:3], model.geom_aabb[geom][3:]
        for signs in itertools.product((-1, 1), repeat=3):
            local = center + np.array(signs) * half
            corners.append(data.geom_xpos[geom] + data.geom_xmat[geom].reshape(3, 3) @ local)
    points = np.array(corners)
    return Box3(min=tuple(points.min(axis=0)), max=tuple(points.max(axis=0)))  # type: ignore[arg-type]


def _part(label: str, shape: Any, material: str, joint: Any = None) -> Part:
    stls = [shape] if isinstance(shape, bytes) else shape
    if not isinstance(stls, Sequence) or not all(isinstance(s, bytes) for s in stls):
        stls = stl_solids(shape)
    try:
        return Part(label, material, tuple(piece_from_stl(data) for data in stls), joint)
    except GeometryError as error:
        raise ValueError(f"design part {label!r}: {error}") from None


def stl_solids(shape: Any) -> list[bytes]:
    """The shape's solids as STL, meshed as the sandbox meshes a family's parts."""
    from benchgen_dagster.sandbox.worker import write_stls

    with tempfile.TemporaryDirectory() as folder:
        names = write_stls(shape, Path(folder), "design", TOLERANCE_MM, ANGULAR_TOLERANCE)
        files = [(Path(folder) / name).read_bytes() for name in names]
    if not files:
        raise ValueError("a design part has no solid")
    return files


def _clash(model: mujoco.MjModel) -> str:
    payload = {g for g in range(model.ngeom) if model.geom(g).name.startswith("payload")}
    owners = {g: _owner(model.geom(g).name) for g in range(model.ngeom) if g not in payload}
    depth, a, b = deepest_overlap(model, owners)
    if depth < -OVERLAP_TOLERANCE_M:  # the scenery alone was checked; the design is to blame
        return f"{a} and {b} overlap by {-depth * 1000:.1f} mm"
    return ""


def _owner(geom: str) -> str:
    """Geoms of one part, or of the whole design, may touch each other."""
    return DESIGN_PREFIX if geom.startswith(DESIGN_PREFIX) else geom.rsplit("_", 1)[0]


def reference_design(sample: ScenarioSample, sandbox: str | None = None) -> tuple[Design, str]:
    """The scenario's own reference solution and its material, made again by its script in
    the sandbox."""
    [made] = reference_designs([sample], sandbox)
    if isinstance(made, str):
        raise ValueError(made)
    return made


def reference_designs(
    samples: Sequence[ScenarioSample], sandbox: str | None = None
) -> list[tuple[Design, str] | str]:
    """Each scenario's reference solution and its material, made again by its script in the
    sandbox: one worker per family script for all its scenarios. A scenario whose script fails
    gets the failure's message instead."""
    from benchgen_dagster.sandbox.protocol import Job, ScriptFailure
    from benchgen_dagster.sandbox.runner import run_batch
    from benchgen_dagster.sandbox.select import choose_launcher, sandbox_kind_from_environment

    launcher = choose_launcher(sandbox or sandbox_kind_from_environment())
    by_script: dict[str, list[int]] = {}
    for number, sample in enumerate(samples):
        by_script.setdefault(sample.script, []).append(number)
    made: dict[int, tuple[Design, str] | str] = {}
    for script, numbers in by_script.items():
        jobs = [Job(n, samples[n].scenario.seed, dict(samples[n].scenario.params)) for n in numbers]
        for outcome in run_batch(script, jobs, launcher).outcomes:
            scenario = samples[outcome.job.index].scenario
            if isinstance(outcome, ScriptFailure):
                made[outcome.job.index] = (
                    f"the script of {scenario.scenario_id} failed: {outcome.message}"
                )
                continue
            build = outcome.build
            parts = {
                label: [outcome.meshes[name] for name in names]
                for label, names in build.solution.items()
            }
            design: Design = parts
            if build.actuators or set(build.joints) & set(parts):
                design = Mechanism(
                    parts,
                    {k: j for k, j in build.joints.items() if k in parts},  # type: ignore[misc]
                    dict(build.actuators),  # type: ignore[arg-type]
                    {k: list(v) for k, v in build.controls.items()},
                )
            made[outcome.job.index] = (design, build.solution_material)
    return [made[n] for n in range(len(samples))]


def load_design(path: Path, scenario: Scenario) -> Design:
    """An MJCF file as it is, or `design(scenario)` from a Python file of the user's own (it
    runs in this process)."""
    import runpy

    from benchgen_dagster.errors import UserError

    if path.suffix == ".xml":
        return path.read_text()
    namespace = runpy.run_path(str(path))
    if not callable(namespace.get("design")):
        raise UserError(f"{path} defines no function design(scenario)")
    design = namespace["design"](scenario)
    if not isinstance(design, Mapping | str | Mechanism):
        raise UserError(
            f"design() in {path} must return a dict of label → shape, a kit.Mechanism, or MJCF"
        )
    return design
