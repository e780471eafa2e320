"""Seeded, deterministic simulations of a scene and the geometric probes of its model."""

from __future__ import annotations

import math
from dataclasses import dataclass

import mujoco
import numpy as np

from benchgen_dagster.schema import Box3, Scenario
from benchgen_dagster.validation.model import PAYLOAD_JOINT

GRAVITY = 9.81
CHECK_EVERY_S = 0.01  # outcomes are checked at this interval, the physics steps finer
GOAL_DWELL_S = 0.5  # the payload must stay in the goal this long to count as there
REST_SPEED = 0.005  # m/s: below this for REST_S the payload is at rest
REST_S = 0.5


@dataclass(frozen=True)
class Run:
    reached_goal: bool
    time_to_goal: float | None
    touched_forbid: str | None
    diverged: bool
    left_bounds: bool
    max_speed: float
    energy_gain: float
    final_position: tuple[float, float, float]
    min_goal_distance: float
    sim_time: float

    @property
    def success(self) -> bool:
        return self.reached_goal and not (self.touched_forbid or self.diverged or self.left_bounds)


def simulate(
    model: mujoco.MjModel,
    scenario: Scenario,
    offset: np.ndarray | None = None,
    *,
    stop_at_goal: bool = True,
) -> Run:
    """Drop the payload at its start (plus `offset`) and follow it until the outcome is decided:
    it rests, stays in the goal long enough, touches a forbid zone, leaves the bounds, diverges,
    or time runs out."""
    data = mujoco.MjData(model)
    joint = model.joint(PAYLOAD_JOINT)
    qpos, qvel = int(joint.qposadr[0]), int(model.jnt_dofadr[joint.id])
    start = np.array(scenario.payload.start_position) + (0 if offset is None else offset)
    data.qpos[qpos : qpos + 3] = start
    mujoco.mj_forward(model, data)

    radius = scenario.payload.bounding_radius
    bounds = scenario.simulation.bounds
    goal = scenario.goal_zone
    check_steps = max(1, round(CHECK_EVERY_S / model.opt.timestep))
    check_dt = check_steps * model.opt.timestep
    dwell_needed = math.ceil(GOAL_DWELL_S / check_dt)
    rest_needed = math.ceil(REST_S / check_dt)
    energy0 = float(data.energy.sum())

    position = start.copy()
    max_speed = energy_gain = 0.0
    dwell = rest = 0
    min_goal_distance = _distance_to_box(position, goal)
    touched = None
    diverged = left = reached = False
    time_to_goal = None
    while data.time < scenario.simulation.duration_s:
        previous = position
        mujoco.mj_step(model, data, nstep=check_steps)
        position = data.qpos[qpos : qpos + 3].copy()
        if (
            not np.isfinite(data.qpos).all()
            or data.warning[mujoco.mjtWarning.mjWARN_BADQACC].number
        ):
            diverged = True
            break
        speed = float(np.linalg.norm(data.qvel[qvel : qvel + 3]))
        max_speed = max(max_speed, speed)
        energy_gain = max(energy_gain, float(data.energy.sum()) - energy0)
        swept = Box3.spanning(tuple(previous), tuple(position), radius)  # type: ignore[arg-type]
        touched = touched or next(
            (z.name for z in scenario.forbid_zones if z.overlaps(swept)), None
        )
        if not bounds.contains_point(tuple(position)):  # type: ignore[arg-type]
            left = True
            break
        min_goal_distance = min(min_goal_distance, _distance_to_box(position, goal))
        dwell = dwell + 1 if goal.contains_point(tuple(position)) else 0  # type: ignore[arg-type]
        if dwell >= dwell_needed and not reached:
            reached, time_to_goal = True, round(data.time - GOAL_DWELL_S, 4)
            if stop_at_goal:
                break
        moving = speed > REST_SPEED or float(np.abs(data.qvel).max()) > 10 * REST_SPEED
        rest = 0 if moving else rest + 1
        if touched or rest >= rest_needed:
            break
    return Run(
        reached_goal=reached,
        time_to_goal=time_to_goal,
        touched_forbid=touched,
        diverged=diverged,
        left_bounds=left,
        max_speed=max_speed,
        energy_gain=energy_gain,
        final_position=tuple(float(v) for v in position),  # type: ignore[arg-type]
        min_goal_distance=min_goal_distance,
        sim_time=round(float(data.time), 4),
    )


def speed_limit(scenario: Scenario) -> float:
    """The fastest a payload released from rest can honestly go: a free fall from its start to
    the floor of the bounds, with margin."""
    drop = scenario.payload.start_position[2] - scenario.simulation.bounds.min[2]
    return 1.5 * math.sqrt(2 * GRAVITY * max(drop, 0.0)) + 1.0


def energy_tolerance(scenario: Scenario) -> float:
    """Soft contacts may add a little energy; more than this is a physics error."""
    height = scenario.simulation.bounds.size[2]
    return 0.05 * scenario.payload.mass * GRAVITY * height + 1e-4


def perturbations(scenario: Scenario, count: int) -> np.ndarray:
    """Seeded offsets of the payload's start within its declared jitter."""
    rng = np.random.default_rng([scenario.seed, 20_240_917])
    jitter = scenario.payload.start_jitter
    return rng.uniform(-jitter, jitter, size=(count, 3))


# --- geometric probes ---------------------------------------------------------------------


def deepest_overlap(model: mujoco.MjModel, owner: dict[int, str]) -> tuple[float, str, str]:
    """The most negative distance between geoms of different owners (parts)."""
    data = mujoco.MjData(model)
    mujoco.mj_forward(model, data)
    fromto = np.zeros(6)
    worst = (math.inf, "", "")
    geoms = sorted(owner)
    for i, a in enumerate(geoms):
        for b in geoms[i + 1 :]:
            if owner[a] == owner[b]:
                continue
            distance = mujoco.mj_geomDistance(model, data, a, b, 0.01, fromto)
            if distance < worst[0]:
                worst = (distance, owner[a], owner[b])
    return worst


def payload_clearance(model: mujoco.MjModel, payload_geom: int) -> tuple[float, str]:
    """Distance from the payload at its start to the nearest other geom, and that geom."""
    data = mujoco.MjData(model)
    mujoco.mj_forward(model, data)
    fromto = np.zeros(6)
    best = (math.inf, "")
    for geom in range(model.ngeom):
        if geom == payload_geom:
            continue
        distance = mujoco.mj_geomDistance(model, data, payload_geom, geom, 1.0, fromto)
        if distance < best[0]:
            best = (distance, model.geom(geom).name)
    return best


def _distance_to_box(point: np.ndarray, box: Box3) -> float:
    below = np.maximum(np.array(box.min) - point, 0)
    above = np.maximum(point - np.array(box.max), 0)
    return float(np.linalg.norm(np.maximum(below, above)))
