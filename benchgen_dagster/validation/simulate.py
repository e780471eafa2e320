"""Seeded, deterministic simulations of a scene and the geometric probes of its model."""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Collection
from dataclasses import dataclass
from functools import cache
from typing import NamedTuple

import mujoco
import numpy as np

from benchgen_dagster.schema.contract import Controls, Scenario, Vec3
from benchgen_dagster.validation.model import PAYLOAD_JOINT

log = logging.getLogger(__name__)


def _mujoco_warning(message: str) -> None:
    """MuJoCo's own warnings (an unstable random trial, say) go to the log: by default MuJoCo
    prints them and appends them to a MUJOCO_LOG.TXT in the working folder. A run records its
    divergence in its outcome."""
    log.debug("MuJoCo: %s", message)


mujoco.set_mju_user_warning(_mujoco_warning)

GRAVITY = 9.81
CHECK_EVERY_S = 0.02  # outcomes are checked at this interval (the path between checks is swept)
GOAL_DWELL_S = 0.5  # the payload must stay in the goal this long to count as there
REST_SPEED = 0.005  # m/s: below this for REST_S the payload is at rest
REST_S = 0.5
# What a checkpoint restores: the whole integration state except the mocap poses, which belong
# to the model being run (a run resumed on a model whose mocap bodies moved keeps them moved).
RESUMED_STATE = mujoco.mjtState.mjSTATE_INTEGRATION & ~(
    mujoco.mjtState.mjSTATE_MOCAP_POS | mujoco.mjtState.mjSTATE_MOCAP_QUAT
)
# How far a joint may pass its declared range (MuJoCo's limits are soft) before the run
# breaks its rule, in radians for a hinge and metres for a slide.
RANGE_TOLERANCE = {
    mujoco.mjtJoint.mjJNT_HINGE: math.radians(3.0),
    mujoco.mjtJoint.mjJNT_SLIDE: 0.005,
}


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
    actuator_work: float = 0.0  # J the actuators put in (negative: they braked)
    out_of_range: str = ""  # the first joint that passed its range, and by how much
    joint_speed: float = 0.0  # the fastest joint (other than the payload's) at the end

    @property
    def success(self) -> bool:
        return self.reached_goal and not (self.touched_forbid or self.diverged or self.left_bounds)


class Progress(NamedTuple):
    """What the outcome checks of a run have seen up to a check."""

    position: Vec3
    energy0: float
    max_speed: float
    energy_gain: float
    work: float
    out_of_range: str
    dwell: int
    rest: int
    min_goal_distance: float
    touched: str | None
    reached: bool
    time_to_goal: float | None


class Checkpoint(NamedTuple):
    """A run between two checks: the physics state (`RESUMED_STATE`) and the checks' progress."""

    state: np.ndarray
    progress: Progress


@dataclass(frozen=True)
class _Boxes:
    """The scenario's boxes as flat tuples of floats (x0, y0, z0, x1, y1, z1): they are checked
    every few steps, where pydantic objects and numpy arrays would cost more than the physics."""

    bounds: tuple[float, ...]
    goal: tuple[float, ...]
    forbid: tuple[tuple[str, tuple[float, ...]], ...]
    radius: float

    @classmethod
    def of(cls, scenario: Scenario) -> _Boxes:
        bounds, goal = scenario.simulation.bounds, scenario.goal_zone
        forbid = tuple((z.name, (*z.min, *z.max)) for z in scenario.forbid_zones)
        return cls(
            (*bounds.min, *bounds.max),
            (*goal.min, *goal.max),
            forbid,
            scenario.payload.bounding_radius,
        )

    def touched(self, a: Vec3, b: Vec3) -> str | None:
        """The forbid zone the payload's path from a to b passes through, if any."""
        r = self.radius
        ax, ay, az = a
        bx, by, bz = b
        lx, ly, lz = min(ax, bx) - r, min(ay, by) - r, min(az, bz) - r
        hx, hy, hz = max(ax, bx) + r, max(ay, by) + r, max(az, bz) + r
        for name, (x0, y0, z0, x1, y1, z1) in self.forbid:
            if x0 < hx and lx < x1 and y0 < hy and ly < y1 and z0 < hz and lz < z1:
                return name
        return None


def _inside(point: Vec3, box: tuple[float, ...]) -> bool:
    x, y, z = point
    x0, y0, z0, x1, y1, z1 = box
    return x0 <= x <= x1 and y0 <= y <= y1 and z0 <= z <= z1


def _distance(point: Vec3, box: tuple[float, ...]) -> float:
    x, y, z = point
    x0, y0, z0, x1, y1, z1 = box
    dx, dy, dz = max(x0 - x, 0.0, x - x1), max(y0 - y, 0.0, y - y1), max(z0 - z, 0.0, z - z1)
    return math.sqrt(dx * dx + dy * dy + dz * dz)


@dataclass(frozen=True)
class _Schedule:
    """Controls as arrays in the model's actuator order, for setting `data.ctrl` each step."""

    times: tuple[np.ndarray, ...]
    values: tuple[np.ndarray, ...]
    end_s: float

    @classmethod
    def of(cls, model: mujoco.MjModel, controls: Controls) -> _Schedule:
        names = [model.actuator(k).name for k in range(model.nu)]
        if set(names) != set(controls.controls):
            raise ValueError(
                f"the controls are for actuators {sorted(controls.controls)}, "
                f"the model has {sorted(names)}"
            )
        points = [np.array(controls.controls[name], dtype=float) for name in names]
        return cls(tuple(p[:, 0] for p in points), tuple(p[:, 1] for p in points), controls.end_s)

    def at(self, time: float) -> list[float]:
        return [float(np.interp(time, t, v)) for t, v in zip(self.times, self.values, strict=True)]

    def table(self, timestep: float, steps: int) -> tuple[tuple[float, ...], np.ndarray]:
        """The times a run from zero reaches before each of its first `steps` steps and the
        controls at each (steps × actuators): the values `at` gives at those exact times,
        looked up instead of interpolated."""
        times = step_times(timestep, steps)
        at = np.array(times)
        values = [np.interp(at, t, v) for t, v in zip(self.times, self.values, strict=True)]
        return times, np.stack(values, axis=1)


@cache
def step_times(timestep: float, steps: int) -> tuple[float, ...]:
    """`data.time` before each of a run's first `steps` steps, added up as MuJoCo adds it
    (`time += timestep`), so that the sums are the same floats."""
    times, time = [], 0.0
    for _ in range(steps):
        times.append(time)
        time += timestep
    return tuple(times)


@dataclass(frozen=True)
class _Joints:
    """The limited joints other than the payload's, and the degrees of freedom they move."""

    names: tuple[str, ...]
    qpos: tuple[int, ...]
    low: tuple[float, ...]
    high: tuple[float, ...]
    dofs: tuple[int, ...]

    @classmethod
    def of(cls, model: mujoco.MjModel, payload_joint: int) -> _Joints:
        limited = [
            j
            for j in range(model.njnt)
            if j != payload_joint
            and model.jnt_limited[j]
            and int(model.jnt_type[j]) in RANGE_TOLERANCE
        ]
        margin = [RANGE_TOLERANCE[int(model.jnt_type[j])] for j in limited]
        dofs = [
            int(model.jnt_dofadr[j])
            for j in range(model.njnt)
            if j != payload_joint and int(model.jnt_type[j]) in RANGE_TOLERANCE
        ]
        return cls(
            tuple(model.joint(j).name for j in limited),
            tuple(int(model.jnt_qposadr[j]) for j in limited),
            tuple(float(model.jnt_range[j][0]) - m for j, m in zip(limited, margin, strict=True)),
            tuple(float(model.jnt_range[j][1]) + m for j, m in zip(limited, margin, strict=True)),
            tuple(dofs),
        )

    def out_of_range(self, qpos: list[float]) -> str:
        for name, q, low, high in zip(self.names, self.qpos, self.low, self.high, strict=True):
            if not low <= qpos[q] <= high:
                excess = low - qpos[q] if qpos[q] < low else qpos[q] - high
                return f"{name} by {excess:.4f} beyond its range and tolerance"
        return ""

    def fastest(self, qvel: list[float]) -> float:
        return max((abs(qvel[d]) for d in self.dofs), default=0.0)


def simulate(
    model: mujoco.MjModel,
    scenario: Scenario,
    offset: np.ndarray | None = None,
    *,
    stop_at_goal: bool = True,
    data: mujoco.MjData | None = None,
    rest_s: float = REST_S,
    controls: Controls | None = None,
    checkpoints: list[Checkpoint] | None = None,
    resume: Checkpoint | None = None,
    count_work: bool = True,
    aloof: Callable[[mujoco.MjData], Collection[int]] | None = None,
) -> Run:
    """Drop the payload at its start (plus `offset`) and follow it until the outcome is decided:
    it rests, stays in the goal long enough, touches a forbid zone, leaves the bounds, diverges,
    or time runs out. `data`, when given, is reset and reused: making one costs more than a
    short run. A `rest_s` shorter than the goal's dwell ends a run resting outside the goal
    sooner (in the scenery nothing moves that could set it going again); resting in the goal
    still takes the dwell. `checkpoints`, when given, receives the run's state before each
    check interval; `resume` continues a run from one (on `data` as the caller left it, its
    mocap poses included), with the outcome a run from the start would have had.

    `controls` drive the model's actuators, set before every step; without them every control
    stays at zero. A run may rest only once the schedule has ended, and its energy gain is what
    the system gained beyond the work its actuators did. Without `count_work` that work is not
    summed (0, and the energy gain includes it), so where the controls hold still the steps
    between two checks run in one call: for runs of which only the outcome counts.

    `aloof`, when given, names the degrees of freedom whose motion can no longer reach the
    payload or anything that moves (a part spinning on its own, clear of them all): they do not
    keep a run from resting."""
    if data is None:
        data = mujoco.MjData(model)
    elif resume is None:
        mujoco.mj_resetData(model, data)
    joint = model.joint(PAYLOAD_JOINT)
    qpos, qvel = int(joint.qposadr[0]), int(model.jnt_dofadr[joint.id])
    schedule = _Schedule.of(model, controls) if controls is not None and model.nu else None
    joints = _Joints.of(model, joint.id)
    boxes = _Boxes.of(scenario)
    if resume is None:
        start = np.array(scenario.payload.start_position) + (0 if offset is None else offset)
        data.qpos[qpos : qpos + 3] = start
        mujoco.mj_forward(model, data)
        position: Vec3 = tuple(start.tolist())  # type: ignore[assignment]
        progress = Progress(
            position,
            float(data.energy[0] + data.energy[1]),
            0.0,
            0.0,
            0.0,
            joints.out_of_range(data.qpos.tolist()),  # the built pose counts too
            0,
            0,
            _distance(position, boxes.goal),
            None,
            False,
            None,
        )
    else:
        mujoco.mj_setState(model, data, resume.state, RESUMED_STATE)
        progress = resume.progress
    (
        position,
        energy0,
        max_speed,
        energy_gain,
        work,
        out_of_range,
        dwell,
        rest,
        min_goal_distance,
        touched,
        reached,
        time_to_goal,
    ) = progress

    check_steps = max(1, round(CHECK_EVERY_S / model.opt.timestep))
    check_dt = check_steps * model.opt.timestep
    dwell_needed = math.ceil(GOAL_DWELL_S / check_dt)
    rest_needed = math.ceil(rest_s / check_dt)
    rest_anywhere = rest_needed >= dwell_needed
    bad_acceleration = data.warning[mujoco.mjtWarning.mjWARN_BADQACC]
    duration = scenario.simulation.duration_s
    quiet_from = schedule.end_s if schedule else 0.0
    timestep = model.opt.timestep
    state_size = mujoco.mj_stateSize(model, RESUMED_STATE)
    if schedule is not None:
        steps = math.ceil(duration / timestep) + check_steps
        times, table = schedule.table(timestep, steps)
        step = times.index(data.time) if data.time in times else len(times)
        ctrl, force, velocity = data.ctrl, data.actuator_force, data.actuator_velocity
        changing = np.flatnonzero((table != table[-1]).any(axis=1))
        held_from = int(changing[-1]) + 1 if len(changing) else 0  # the controls' last change
    diverged = left = False
    while data.time < duration:
        if checkpoints is not None:
            state = np.empty(state_size)
            mujoco.mj_getState(model, data, state, RESUMED_STATE)
            checkpoints.append(
                Checkpoint(
                    state,
                    Progress(
                        position,
                        energy0,
                        max_speed,
                        energy_gain,
                        work,
                        out_of_range,
                        dwell,
                        rest,
                        min_goal_distance,
                        touched,
                        reached,
                        time_to_goal,
                    ),
                )
            )
        previous = position
        if schedule is None:
            mujoco.mj_step(model, data, nstep=check_steps)
        elif step + check_steps <= len(times) and times[step] == data.time:
            if count_work:
                for row in table[step : step + check_steps]:
                    ctrl[:] = row
                    mujoco.mj_step(model, data)
                    work += float(force @ velocity) * timestep
            elif step >= held_from:
                ctrl[:] = table[step]
                mujoco.mj_step(model, data, nstep=check_steps)
            else:
                for row in table[step : step + check_steps]:
                    ctrl[:] = row
                    mujoco.mj_step(model, data)
            step += check_steps
        else:  # beyond the table, or a resumed run between its times: interpolated as it goes
            for _ in range(check_steps):
                data.ctrl[:] = schedule.at(data.time)
                mujoco.mj_step(model, data)
                work += float(force @ velocity) * timestep if count_work else 0.0
            step = times.index(data.time) if data.time in times else len(times)
        coordinates = data.qpos.tolist()
        position = tuple(coordinates[qpos : qpos + 3])  # type: ignore[assignment]
        if bad_acceleration.number or not all(map(math.isfinite, coordinates)):
            diverged = True
            break
        velocities = data.qvel.tolist()
        vx, vy, vz = velocities[qvel : qvel + 3]
        speed = math.sqrt(vx * vx + vy * vy + vz * vz)
        max_speed = max(max_speed, speed)
        kinetic, potential = data.energy.tolist()
        energy_gain = max(energy_gain, kinetic + potential - energy0 - work)
        out_of_range = out_of_range or joints.out_of_range(coordinates)
        touched = touched or boxes.touched(previous, position)
        if not _inside(position, boxes.bounds):
            left = True
            break
        min_goal_distance = min(min_goal_distance, _distance(position, boxes.goal))
        dwell = dwell + 1 if _inside(position, boxes.goal) else 0
        if dwell >= dwell_needed and not reached:
            reached, time_to_goal = True, round(data.time - GOAL_DWELL_S, 4)
            if stop_at_goal:
                break
        moving = speed > REST_SPEED or max(map(abs, velocities)) > 10 * REST_SPEED
        if moving and aloof is not None and speed <= REST_SPEED:
            ignored = aloof(data)
            fastest = max((abs(v) for n, v in enumerate(velocities) if n not in ignored), default=0)
            moving = fastest > 10 * REST_SPEED
        rest = 0 if moving or data.time < quiet_from else rest + 1
        if touched or (rest >= rest_needed and (rest_anywhere or not dwell)):
            break
    return Run(
        reached_goal=reached,
        time_to_goal=time_to_goal,
        touched_forbid=touched,
        diverged=diverged,
        left_bounds=left,
        max_speed=max_speed,
        energy_gain=energy_gain,
        final_position=position,
        min_goal_distance=min_goal_distance,
        sim_time=round(float(data.time), 4),
        actuator_work=work,
        out_of_range=out_of_range,
        joint_speed=joints.fastest(data.qvel.tolist()),
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
    """Distance from the payload at its start to the nearest other geom, and that geom (every
    geom of the payload's body counts as the payload: a ring is several)."""
    data = mujoco.MjData(model)
    mujoco.mj_forward(model, data)
    fromto = np.zeros(6)
    best = (math.inf, "")
    body = model.geom_bodyid[payload_geom]
    pieces = [g for g in range(model.ngeom) if model.geom_bodyid[g] == body]
    for geom in range(model.ngeom):
        if model.geom_bodyid[geom] == body:
            continue
        for piece in pieces:
            distance = mujoco.mj_geomDistance(model, data, piece, geom, 1.0, fromto)
            if distance < best[0]:
                best = (distance, model.geom(geom).name)
    return best
