"""Score a candidate design on a packaged scenario, the way the validator scored the reference.

A design is either a mapping of part labels to build123d shapes or binary STL files (one or
several solids each, in millimetres like a family script, all of one material), or an MJCF
document whose worldbody holds the design's bodies (metres; a body without a joint is fixed,
hinged bodies swing freely; mass as MuJoCo computes it, cost at the material's price per kg).
The design is checked against the build zone and the cost and weight limits, added to the
scenario's own MJCF, checked for interpenetration and simulated from the payload's start and
from seeded perturbations of it.
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
from benchgen_dagster.schema.contract import MATERIALS, Box3, Model, Scenario
from benchgen_dagster.validation.funnel import OVERLAP_TOLERANCE_M
from benchgen_dagster.validation.geometry import GeometryError, piece_from_stl
from benchgen_dagster.validation.model import add_parts
from benchgen_dagster.validation.rules import overhang, solution_weight_and_cost
from benchgen_dagster.validation.scene import Part
from benchgen_dagster.validation.simulate import deepest_overlap, perturbations, simulate

DESIGN_PREFIX = "design_"
DESIGN_RGBA = (0.2, 0.55, 0.95, 1.0)
TOLERANCE_MM = 0.1
ANGULAR_TOLERANCE = 0.1  # radians, build123d's default
Design = Mapping[str, Any] | str  # label → build123d shape or STL bytes (or a list); or MJCF


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


@dataclass(frozen=True)
class _Candidate:
    bounds: dict[str, Box3]  # label → where it reaches
    weight_g: float
    cost: float
    attach: Callable[[mujoco.MjSpec], None]  # adds the design to a scenario's spec


def evaluate(
    scenario: ScenarioSample,
    design: Design,
    material: str = "wood",
    trials: int = 5,
) -> Evaluation:
    """Score `design` on a packaged scenario. Deterministic: the perturbed starts are seeded
    by the scenario."""
    if material not in MATERIALS:
        raise ValueError(f"unknown material {material!r}; known: {', '.join(MATERIALS)}")
    candidate = (
        _from_mjcf(design, material) if isinstance(design, str) else _from_parts(design, material)
    )
    scored: dict[str, Any] = {
        "cost": round(candidate.cost, 4),
        "weight_g": round(candidate.weight_g, 3),
    }
    reasons = _constraint_violations(scenario.scenario, candidate)
    if reasons:
        return Evaluation(valid=False, success=False, reasons=reasons, **scored)
    model = _with_design(scenario, candidate)
    clash = _clash(model)
    if clash:
        return Evaluation(valid=False, success=False, reasons=[clash], **scored)
    run = simulate(model, scenario.scenario)
    offsets = perturbations(scenario.scenario, trials) if trials else []
    robust = sum(simulate(model, scenario.scenario, offset).success for offset in offsets)
    if run.touched_forbid:
        reasons.append(f"the payload touches forbid zone {run.touched_forbid}")
    elif not run.reached_goal:
        reasons.append(f"the payload ends {run.min_goal_distance * 1000:.0f} mm from the goal")
    if run.diverged or run.left_bounds:
        reasons.append("the payload leaves the scene" if run.left_bounds else "diverged")
    return Evaluation(
        valid=True,
        success=run.success,
        reasons=reasons,
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
    candidate = (
        _from_mjcf(design, material) if isinstance(design, str) else _from_parts(design, material)
    )
    reasons = _constraint_violations(scenario.scenario, candidate)
    clash = "" if reasons else _clash(_with_design(scenario, candidate))
    return [*reasons, clash] if clash else reasons


def _with_design(scenario: ScenarioSample, candidate: _Candidate) -> mujoco.MjModel:
    spec = mujoco.MjSpec.from_string(scenario.mjcf)
    candidate.attach(spec)
    return spec.compile()


def _constraint_violations(scenario: Scenario, candidate: _Candidate) -> list[str]:
    limits = scenario.constraints
    reasons = [
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
    parts = tuple(_part(label, shape, material) for label, shape in sorted(design.items()))
    weight_g, cost = solution_weight_and_cost(parts)

    def attach(spec: mujoco.MjSpec) -> None:
        add_parts(spec, parts, DESIGN_PREFIX, DESIGN_RGBA, {mesh.name for mesh in spec.meshes})

    return _Candidate({part.label: part.bounds for part in parts}, weight_g, cost, attach)


def _from_mjcf(xml: str, material: str) -> _Candidate:
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

    def attach(spec: mujoco.MjSpec) -> None:
        spec.attach(child, prefix=DESIGN_PREFIX, frame=spec.worldbody.add_frame())

    return _Candidate(bounds, weight_kg * 1000, weight_kg * MATERIALS[material].cost_per_kg, attach)


def _world_box(model: mujoco.MjModel, data: mujoco.MjData, geoms: np.ndarray) -> Box3:
    corners = []
    for geom in geoms:
        center, half = model.geom_aabb[geom][:3], model.geom_aabb[geom][3:]
        for signs in itertools.product((-1, 1), repeat=3):
            local = center + np.array(signs) * half
            corners.append(data.geom_xpos[geom] + data.geom_xmat[geom].reshape(3, 3) @ local)
    points = np.array(corners)
    return Box3(min=tuple(points.min(axis=0)), max=tuple(points.max(axis=0)))  # type: ignore[arg-type]


def _part(label: str, shape: Any, material: str) -> Part:
    stls = [shape] if isinstance(shape, bytes) else shape
    if not isinstance(stls, Sequence) or not all(isinstance(s, bytes) for s in stls):
        stls = stl_solids(shape)
    try:
        return Part(label, material, tuple(piece_from_stl(data) for data in stls))
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
            design = {
                label: [outcome.meshes[name] for name in names]
                for label, names in outcome.build.solution.items()
            }
            made[outcome.job.index] = (design, outcome.build.solution_material)
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
    if not isinstance(design, Mapping | str):
        raise UserError(f"design() in {path} must return a dict of label → shape, or MJCF")
    return design
