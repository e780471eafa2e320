"""How hard a scenario is: a random-design baseline and its 95% Wilson interval.

The baseline places random simple parts in the build zone — planks, blocks and wedges (a wedge
is a block tilted into a ramp), one part or a few — each of wood, shrunk if need be to the
scenario's cost and weight limits, and never sunk into the scenery or the payload (such a draw
is drawn again; it is not a trial). Each design is simulated with the scenario's own success rule
(`simulate`: the payload ends in the goal and never touches a forbid zone).

Trials reuse one compiled model per scenario: it carries `MAX_PARTS` probe bodies (mocap
bodies, one box geom each) added once; a trial moves and resizes them in place (body pose,
geom size, bounding sphere and boxes, the geom's and the body's collision filters) and parks
the unused ones with collisions off, so no trial compiles anything; a moving part's mass and
inertia are rounded as the compiler rounds them. The model runs the scenario once with no part
added; a trial follows that run until the payload first comes within reach of one of its parts
(no contact can touch a part before), so it resumes from that run's last checkpoint before,
and a trial whose parts the payload never nears ends as that run did without a step of its
own. A moving part turns on a hinge through its centre, so it stays within its bounding
sphere: a trial whose moving part the payload never nears ends as that run did too. Runs end
early when the payload rests outside the goal (for `REST_S`, shorter than the reference runs'
rest), leaves the bounds or touches a forbid zone; a part spinning clear of everything that
moves does not keep a run from resting. None of this changes an outcome: a trial ends as
a plain one does on a model compiled for it with the scenario's full rule (`naive_trial`,
which `benchgen bench` times against).

Sampling is sequential: after `MIN_TRIALS`, it stops once the interval settles the outcome —
its lower bound reaches `TRIVIAL_LOW95` (rejected as trivial) or the whole interval lies in one
tier's band — and at `MAX_TRIALS` at the latest. Within that cap only the trivial verdict
settles early (a few trials prove a high rate; proving a low one takes hundreds), so trivial
scenarios cost little and every other one gets the whole cap. Tiers, by the rate k/N at the
stop:

| tier      | random solve rate                            |
|-----------|----------------------------------------------|
| easy      | ≥ 5% (and the lower bound below 10%)         |
| medium    | 2% to 5%                                     |
| hard      | above 0, below 2%                            |
| very_hard | 0: no random design solved it in the trials  |

Every draw is seeded by the scenario (its id and seed) and the trial's number, so the same
scenario gives the same trials, the same outcome and the same record.

A kinematic scenario's designs may also move (`KINEMATIC_BASELINE`): a third of them turn one
plank into a hinged one (free to swing about its width through its centre) and a third into
a motorised one (the same hinge driven at a random constant torque up to `MOTOR_TORQUE_NM`,
which costs `kit.actuator_cost` against the budget); their probes are two jointed bodies the
model carries besides the fixed ones.
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import mujoco
import numpy as np

from benchgen_dagster.kit import actuator_cost
from benchgen_dagster.schema.contract import (
    MATERIALS,
    Controls,
    Difficulty,
    DifficultyTier,
    Scenario,
)
from benchgen_dagster.validation.simulate import (
    CHECK_EVERY_S,
    RESUMED_STATE,
    Checkpoint,
    Run,
    simulate,
)

BASELINE = "random-parts/1"  # name/version: change the version when the draws change
KINEMATIC_BASELINE = "random-parts-moving/1"  # with a hinged and a motorised plank
MOVING = ("hinged", "motorised")  # the kinds of moving probe, each one body with a hinge
MOTOR = f"probe_{MOVING[1]}_motor"
MOTOR_TORQUE_NM = 2.0
BASELINE_SEED = 20_251_201
MIN_TRIALS = 8
MAX_TRIALS = 64  # 1/64 is below 2%: every tier is reachable within the cap
MAX_DRAWS = 40  # draws per trial that may be refused (sunk) before the trial fails
MAX_PARTS = 3
TRIVIAL_LOW95 = 0.10  # PHYRE's threshold: a lower bound this high means random designs work
TIER_BANDS: tuple[tuple[DifficultyTier, float, float], ...] = (
    ("very_hard", 0.0, 0.0),
    ("hard", 0.0, 0.02),
    ("medium", 0.02, 0.05),
    ("easy", 0.05, 1.0),
)
# A reference solution whose certificate (16 perturbed starts) has a Wilson lower bound below
# this is reported as fragile: it is not shown to work more often than not.
FRAGILE_LOW95 = 0.5
PROBE = "probe"
KINDS = ("plank", "block", "wedge")
PROBE_MATERIAL = "wood"
OVERLAP_TOLERANCE_M = 0.001  # the funnel's: parts may touch, not sink in by more than this
PLANK_THICKNESS_M = (0.006, 0.02)
PARKED = (0.0, 0.0, -1000.0)
REST_S = 0.1  # a trial resting outside the goal this long has failed
APPROACH_SLACK_M = 0.001  # beyond the bounding spheres and margins, for rounding
Z95 = 1.959963984540054


def wilson(successes: int, trials: int, z: float = Z95) -> tuple[float, float]:
    """The Wilson score interval of a binomial proportion (95% by default)."""
    if trials == 0:
        return 0.0, 1.0
    p = successes / trials
    denominator = 1 + z * z / trials
    center = (p + z * z / (2 * trials)) / denominator
    half = z * math.sqrt(p * (1 - p) / trials + z * z / (4 * trials * trials)) / denominator
    return max(0.0, center - half), min(1.0, center + half)


def tier_of(successes: int, trials: int) -> DifficultyTier:
    """The tier of a solve rate (the table in the module's docstring)."""
    if successes == 0:
        return "very_hard"
    rate = successes / trials
    for tier, low, high in TIER_BANDS[1:]:
        if low <= rate < high:
            return tier
    return "easy"


def settled(successes: int, trials: int) -> bool:
    """Whether the interval settles the verdict: its lower bound makes the scenario trivial, or
    the whole interval lies in one tier's band (easy's band ends at the trivial threshold, so
    an easy-looking scenario is not cut short while it may still prove trivial). No number of
    failures proves a rate of 0, and the narrow bands rarely hold an interval within the cap:
    trivial scenarios stop early, the others take the trials the cap allows."""
    if trials < MIN_TRIALS:
        return False
    low, high = wilson(successes, trials)
    if low >= TRIVIAL_LOW95:
        return True
    tier = tier_of(successes, trials)
    _, band_low, band_high = next(band for band in TIER_BANDS if band[0] == tier)
    return tier != "very_hard" and band_low <= low and high < min(band_high, TRIVIAL_LOW95)


def is_trivial(difficulty: Difficulty) -> bool:
    return difficulty.random_solve_low95 >= TRIVIAL_LOW95


# --- random designs -----------------------------------------------------------------------


@dataclass(frozen=True)
class Box:
    """A box part in metres: centre, half sizes and orientation (a unit quaternion w, x, y, z)."""

    kind: str
    center: tuple[float, float, float]
    half: tuple[float, float, float]
    quat: tuple[float, float, float, float]
    torque: float = 0.0  # a motorised plank's, N·m

    def matrix(self) -> np.ndarray:
        matrix = np.zeros(9)
        mujoco.mju_quat2Mat(matrix, np.array(self.quat))
        return matrix.reshape(3, 3)

    def reach(self) -> np.ndarray:
        """Half the size of its axis-aligned bounding box."""
        return np.abs(self.matrix()) @ np.array(self.half)

    @property
    def radius(self) -> float:
        """Its bounding sphere's: where it can be, turned any way about its centre."""
        return math.sqrt(sum(h * h for h in self.half))

    @property
    def volume(self) -> float:
        return 8 * self.half[0] * self.half[1] * self.half[2]


Design = tuple[Box, ...]


def _quat(yaw: float, tilt: float) -> tuple[float, float, float, float]:
    """Yaw about z, then a tilt about the part's own y axis: the product of the two
    quaternions, written out (its other terms are exact zeros)."""
    cy, sy, ct, st = math.cos(yaw / 2), math.sin(yaw / 2), math.cos(tilt / 2), math.sin(tilt / 2)
    return (cy * ct, 0.0 - sy * st, cy * st, sy * ct)


def _draw_box(
    rng: np.random.Generator, zone_min: tuple[float, ...], size: tuple[float, ...]
) -> Box:
    """One random part inside the zone. Plain floats rather than small arrays (the same
    numbers, at a fraction of the cost); the reach keeps numpy's product."""
    kind = KINDS[int(rng.integers(len(KINDS)))]  # rng.choice's draw, without its overhead
    horizontal, narrow = max(size[0], size[1]), min(size[0], size[1])
    if kind == "plank":
        half = [
            rng.uniform(0.25, 0.75) * horizontal,
            rng.uniform(0.1, 0.5) * narrow,
            rng.uniform(*PLANK_THICKNESS_M) / 2,
        ]
        yaw, tilt = rng.uniform(0, math.pi), rng.uniform(-0.6, 0.6)
    elif kind == "block":
        half = [h * s for h, s in zip(rng.uniform(0.05, 0.3, size=3).tolist(), size, strict=True)]
        yaw, tilt = rng.uniform(0, math.pi / 2), 0.0
    else:
        half = [
            rng.uniform(0.15, 0.5) * horizontal,
            rng.uniform(0.1, 0.4) * narrow,
            rng.uniform(0.05, 0.2) * size[2],
        ]
        yaw, tilt = rng.uniform(0, 2 * math.pi), rng.uniform(0.25, 0.8)
    quat = _quat(yaw, tilt)
    matrix = np.zeros(9)
    mujoco.mju_quat2Mat(matrix, np.array(quat))
    reach = (np.abs(matrix.reshape(3, 3)) @ np.array(half)).tolist()
    # shrink to fit the zone
    fit = min(1.0, *(s / 2 / max(r, 1e-9) for s, r in zip(size, reach, strict=True)))
    half = [h * fit * 0.999 for h in half]
    reach = [r * fit * 0.999 for r in reach]
    place = rng.uniform(0, 1, size=3).tolist()
    center = tuple(
        lo + r + u * (s - 2 * r) for lo, r, u, s in zip(zone_min, reach, place, size, strict=True)
    )
    return Box(kind, center, tuple(half), quat)  # type: ignore[arg-type]


def draw_design(rng: np.random.Generator, scenario: Scenario) -> Design:
    """One random design: one part half the time, else two or three."""
    zone = scenario.build_zone
    zone_min, size = zone.min, zone.size
    count = 1 if rng.uniform() < 0.5 else int(rng.integers(2, MAX_PARTS + 1))
    design = tuple(_draw_box(rng, zone_min, size) for _ in range(count))
    if scenario.tier == "kinematic":
        design = _with_a_moving_plank(rng, design)
    return design


def _with_a_moving_plank(rng: np.random.Generator, design: Design) -> Design:
    """A third of the time the first plank swings on a hinge, a third of the time a motor
    drives that hinge; otherwise the design as it is."""
    choice = int(rng.integers(0, 3))
    planks = [n for n, box in enumerate(design) if box.kind == "plank"]
    if choice == 2 or not planks:
        return design
    first = design[planks[0]]
    torque = float(rng.uniform(-MOTOR_TORQUE_NM, MOTOR_TORQUE_NM)) if choice == 1 else 0.0
    moving = Box(MOVING[choice], first.center, first.half, first.quat, torque)
    return (*design[: planks[0]], moving, *design[planks[0] + 1 :])


def weight_and_cost(design: Design) -> tuple[float, float]:
    material = MATERIALS[PROBE_MATERIAL]
    kilograms = sum(box.volume for box in design) * material.density
    return kilograms * 1000, kilograms * material.cost_per_kg


def within_budget(design: Design, scenario: Scenario) -> Design:
    """The design, shrunk about each part's centre just enough to meet the weight and cost
    limits (it stays in the build zone)."""
    weight_g, cost = weight_and_cost(design)
    limits = scenario.constraints
    motors = sum(actuator_cost(MOTOR_TORQUE_NM) for b in design if b.kind == MOVING[1])
    if motors >= limits.max_unit_cost:  # no motor within the budget: the plank swings free
        design = tuple(
            Box(MOVING[0], b.center, b.half, b.quat) if b.kind == MOVING[1] else b for b in design
        )
        motors = 0.0
    excess = max(weight_g / limits.max_weight_g, cost / (limits.max_unit_cost - motors))
    if excess <= 1:
        return design
    factor = 0.999 / excess ** (1 / 3)
    return tuple(
        Box(b.kind, b.center, tuple(h * factor for h in b.half), b.quat, b.torque)  # type: ignore[arg-type]
        for b in design
    )


# --- one compiled model, parts moved in place ---------------------------------------------


def add_probes(spec: mujoco.MjSpec, count: int = MAX_PARTS, moving: bool = False) -> None:
    """`count` parked probe bodies, each a box geom of the baseline's material; with `moving`,
    a hinged and a motorised one besides. The fixed ones are mocap bodies and massless: where
    they stand changes no energy, only what the payload meets."""
    friction = [MATERIALS[PROBE_MATERIAL].friction, 0.005, 0.0002]
    names = [f"{PROBE}{number}" for number in range(count)]
    for name in [*names, *(f"{PROBE}_{kind}" for kind in MOVING if moving)]:
        jointed = not name[len(PROBE) :].isdigit()
        body = spec.worldbody.add_body(name=name, mocap=not jointed, pos=list(PARKED))
        if jointed:
            body.add_joint(name=f"{name}_hinge", type=mujoco.mjtJoint.mjJNT_HINGE, axis=[0, 1, 0])
        body.add_geom(
            name=f"{name}_geom",
            type=mujoco.mjtGeom.mjGEOM_BOX,
            size=[0.01, 0.01, 0.01],
            density=MATERIALS[PROBE_MATERIAL].density if jointed else 0.0,
            friction=friction,
            condim=6,
            rgba=[0.3, 0.8, 0.3, 1.0],
        )
    if moving:
        motor = spec.add_actuator(
            name=MOTOR, target=f"{PROBE}_{MOVING[1]}_hinge", trntype=mujoco.mjtTrn.mjTRN_JOINT
        )
        motor.set_to_motor()
        motor.ctrllimited = motor.forcelimited = mujoco.mjtLimited.mjLIMITED_TRUE
        motor.ctrlrange = motor.forcerange = [-MOTOR_TORQUE_NM, MOTOR_TORQUE_NM]


def sinks(
    model: mujoco.MjModel, data: mujoco.MjData, geoms: Sequence[int], others: np.ndarray
) -> bool:
    """Whether one of `geoms` sinks into one of `others` by more than the funnel's tolerance."""
    fromto = np.zeros(6)
    for geom in geoms:
        # bounding spheres first: only geoms that could be within reach are measured
        gap = np.linalg.norm(data.geom_xpos[others] - data.geom_xpos[geom], axis=1)
        gap -= model.geom_rbound[others] + model.geom_rbound[geom]
        for other in others[gap < 0.01].tolist():
            distance = mujoco.mj_geomDistance(model, data, geom, other, 0.01, fromto)
            if distance < -OVERLAP_TOLERANCE_M:
                return True
    return False


def slot_names(moving: bool) -> list[str]:
    """The probes' names: the fixed ones, then the moving ones when there are any."""
    fixed = [f"{PROBE}{number}" for number in range(MAX_PARTS)]
    return fixed + ([f"{PROBE}_{kind}" for kind in MOVING] if moving else [])


def assign(design: Design, moving: bool) -> list[Box | None]:
    """Which part of the design each probe (in `slot_names` order) is, or None: parked."""
    slots: list[Box | None] = [None] * len(slot_names(moving))
    fixed = [box for box in design if box.kind not in MOVING]
    slots[: len(fixed)] = fixed
    for box in design:
        if box.kind in MOVING:
            slots[MAX_PARTS + MOVING.index(box.kind)] = box
    return slots


def controls_for(design: Design) -> Controls | None:
    """The motorised plank's constant torque, when the design has one."""
    torques = [box.torque for box in design if box.kind == MOVING[1]]
    return Controls(controls={MOTOR: [(0.0, torques[0])]}) if torques else None


def place(spec: mujoco.MjSpec, design: Design, moving: bool = False) -> None:
    """The design in a spec made with `add_probes`, for compiling (the per-trial baseline)."""
    for name, box in zip(slot_names(moving), assign(design, moving), strict=True):
        body, geom = spec.body(name), spec.geom(f"{name}_geom")
        if box is not None:
            body.pos, body.quat, geom.size = list(box.center), list(box.quat), list(box.half)
        else:
            body.pos = list(PARKED)
            geom.contype = geom.conaffinity = 0


class ProbeModel:
    """A scenario's model with probe parts that trials move and resize in place.

    It runs the scenario once with no part added and keeps that run: its state at every check
    and where each moving geom (the payload) was before every step. Until the payload comes
    within reach of a part (its bounding sphere and margins against the part's box) no contact
    can involve the part, so a trial follows that run exactly: it resumes from the last check
    before the payload first comes near one of its parts, and a trial whose parts the payload
    never approaches ends as that run did, without a step of its own."""

    def __init__(self, xml: str, scenario: Scenario) -> None:
        spec = mujoco.MjSpec.from_string(xml)
        self.kinematic = scenario.tier == "kinematic"
        add_probes(spec, moving=self.kinematic)
        self.model = spec.compile()
        self.data = mujoco.MjData(self.model)
        self.scenario = scenario
        model = self.model
        names = slot_names(self.kinematic)
        self.bodies = [model.body(name).id for name in names]
        self.geoms = [model.geom(f"{name}_geom").id for name in names]
        self.bvh = [int(model.body_bvhadr[b]) for b in self.bodies]
        self.contype = int(model.geom_contype[self.geoms[0]])
        self.conaffinity = int(model.geom_conaffinity[self.geoms[0]])
        self.others = np.array([g for g in range(model.ngeom) if g not in self.geoms])
        bodies = model.geom_bodyid[self.others]
        moving = (model.body_weldid[bodies] != 0) & (model.body_mocapid[bodies] < 0)
        self.moving = self.others[moving]
        # how near a moving geom's centre must come to a part for a contact to be possible
        self.reach = (
            model.geom_rbound[self.moving]
            + model.geom_margin[self.moving]
            + model.geom_margin[self.geoms[0]]
        )
        # the moving probes' degrees of freedom (each turns on a hinge through its centre)
        self.probe_dofs = [
            int(model.jnt_dofadr[model.body_jntadr[body]]) for body in self.bodies[MAX_PARTS:]
        ]
        self.check_steps = max(1, round(CHECK_EVERY_S / model.opt.timestep))
        self.checkpoints: list[Checkpoint] = []
        self.set(())
        self.at_start = mujoco.MjData(model)  # the scene as draws are checked against it
        mujoco.mj_kinematics(model, self.at_start)
        self.others_xpos = self.at_start.geom_xpos[self.others].copy()
        self.others_rbound = model.geom_rbound[self.others].copy()
        self.alone = simulate(
            model, scenario, data=self.data, rest_s=REST_S, checkpoints=self.checkpoints
        )
        self.path = self._path()

    def _path(self) -> np.ndarray:
        """Where the moving geoms are before each step of the part-free run (steps × moving
        geoms × 3): each check interval again from its checkpoint, one step at a time (a step
        leaves the positions it started from in `geom_xpos`)."""
        path = np.empty((len(self.checkpoints) * self.check_steps, len(self.moving), 3))
        step = 0
        for checkpoint in self.checkpoints:
            mujoco.mj_setState(self.model, self.data, checkpoint.state, RESUMED_STATE)
            for _ in range(self.check_steps):
                mujoco.mj_step(self.model, self.data)
                path[step] = self.data.geom_xpos[self.moving]
                step += 1
        return path

    def set(self, design: Design) -> None:
        """Move, resize and switch on the probes the design uses; park the others. A moving
        probe's mass and inertia follow its new size."""
        model = self.model
        slots = assign(design, self.kinematic)
        for number, (body, geom, box) in enumerate(
            zip(self.bodies, self.geoms, slots, strict=True)
        ):
            if box is not None:
                model.body_pos[body] = box.center
                model.body_quat[body] = box.quat
                model.geom_size[geom] = box.half
                model.geom_rbound[geom] = box.radius
                model.geom_aabb[geom] = (0.0, 0.0, 0.0, *box.half)
                if self.bvh[number] >= 0:  # the body's bounding volume, for the midphase
                    model.bvh_aabb[self.bvh[number]] = (0.0, 0.0, 0.0, *box.half)
                if number >= MAX_PARTS:
                    _size_inertia(model, body, box)
            else:
                model.body_pos[body] = PARKED
            switch = (self.contype, self.conaffinity) if box is not None else (0, 0)
            model.geom_contype[geom], model.geom_conaffinity[geom] = switch
            # the broad phase skips a body by its own filter, which `mj_setConst` derives from
            # its geoms': a probe parked at that moment would stay off in every later trial
            model.body_contype[body], model.body_conaffinity[body] = switch
        mujoco.mj_resetData(model, self.data)  # mocap poses come from body_pos/body_quat
        if any(box is not None for box in slots[MAX_PARTS:]):
            mujoco.mj_setConst(model, self.data)
        mujoco.mj_kinematics(model, self.data)

    def sunk(self, design: Design) -> bool:
        """Whether one of the design's parts sinks into the scenery or the payload at its start.
        A part is posed for the check alone (no reset, no kinematics), and only when a geom is
        within reach of its bounding sphere (a gap of more than 0.01 m cannot be an overlap)."""
        for geom, box in zip(self.geoms, assign(design, self.kinematic), strict=True):
            if box is None:
                continue
            radius = box.radius
            offsets = self.others_xpos - np.array(box.center)
            gap = np.sqrt((offsets * offsets).sum(axis=1)) - self.others_rbound - radius
            near = self.others[gap < 0.01]
            if not len(near):
                continue
            self.model.geom_size[geom] = box.half
            self.model.geom_rbound[geom] = radius
            self.at_start.geom_xpos[geom] = box.center
            self.at_start.geom_xmat[geom] = box.matrix().ravel()
            if sinks(self.model, self.at_start, [geom], near):
                return True
        return False

    def first_approach(self, design: Design) -> int | None:
        """The first step of the part-free run at which a moving geom (its bounding sphere and
        margin) comes within reach of one of the design's parts, or None if none ever does. A
        moving part may turn anywhere within its bounding sphere."""
        first = None
        for box in design:
            if box.kind in MOVING:
                gap = self._gap_to_sphere(self.path, box)
            else:
                local = (self.path - np.array(box.center)) @ box.matrix()  # in the box's frame
                outside = np.maximum(np.abs(local) - np.array(box.half), 0.0)
                gap = np.linalg.norm(outside, axis=2) - self.reach - APPROACH_SLACK_M
            near = np.flatnonzero((gap < 0).any(axis=1))
            if len(near) and (first is None or near[0] < first):
                first = int(near[0])
        return first

    def run(self, design: Design) -> Run:
        first = self.first_approach(design)
        if first is None:
            return self.alone
        if any(box.kind in MOVING for box in design):  # it moves from the start: a run of its own
            self.set(design)
            return simulate(
                self.model,
                self.scenario,
                data=self.data,
                rest_s=REST_S,
                controls=controls_for(design),
                count_work=False,
                aloof=self._aloof(design),
            )
        self.set(design)
        resume = self.checkpoints[first // self.check_steps]
        return simulate(self.model, self.scenario, data=self.data, rest_s=REST_S, resume=resume)

    def _aloof(self, design: Design) -> Callable[[mujoco.MjData], list[int]]:
        """For a trial's rest: the moving parts that, where the run's moving geoms are, cannot
        reach one of them (nor another moving part) however they turn. A motor spinning its
        plank in the air would otherwise keep every such run going to its time limit."""
        moving = [box for box in design if box.kind in MOVING]
        if len(moving) > 1 and math.dist(moving[0].center, moving[1].center) <= sum(
            box.radius + 2 * APPROACH_SLACK_M for box in moving
        ):
            return lambda data: []  # they may strike each other

        def aloof(data: mujoco.MjData) -> list[int]:
            positions = data.geom_xpos[self.moving]
            return [
                self.probe_dofs[MOVING.index(box.kind)]
                for box in moving
                if (self._gap_to_sphere(positions, box) > 0).all()
            ]

        return aloof

    def _gap_to_sphere(self, positions: np.ndarray, box: Box) -> np.ndarray:
        """How far each moving geom at `positions` (…, moving geoms, 3) is from reaching the
        bounding sphere of a part turning about its centre."""
        distance = np.linalg.norm(positions - np.array(box.center), axis=-1)
        return distance - box.radius - self.reach - APPROACH_SLACK_M


def _size_inertia(model: mujoco.MjModel, body: int, box: Box) -> None:
    """A box body's mass and inertia (about its centre, on its axes) for its size, rounded as
    MuJoCo's compiler rounds them: a hinged part's motion is chaotic enough that a last-digit
    difference can change a trial's outcome."""
    x, y, z = box.half
    mass = MATERIALS[PROBE_MATERIAL].density * (8 * x * y * z)
    model.body_mass[body] = mass
    model.body_inertia[body] = (
        mass * (y * y + z * z) / 3,
        mass * (x * x + z * z) / 3,
        mass * (x * x + y * y) / 3,
    )


def compiled_for(xml: str, scenario: Scenario, design: Design) -> mujoco.MjModel:
    """The scene's model with the design's parts compiled in: what `ProbeModel` spares every
    trial."""
    spec = mujoco.MjSpec.from_string(xml)
    kinematic = scenario.tier == "kinematic"
    add_probes(spec, moving=kinematic)
    place(spec, design, kinematic)
    return spec.compile()


def fresh_run(xml: str, scenario: Scenario, design: Design) -> Run:
    """The same trial on a model compiled for it, as `ProbeModel.run` makes it in place."""
    model = compiled_for(xml, scenario, design)
    return simulate(model, scenario, rest_s=REST_S, controls=controls_for(design))


def naive_trial(xml: str, scenario: Scenario, trial: int) -> tuple[Design | None, Run | None]:
    """The trial as a plain implementation makes it, for comparison: every draw gets the
    scene's model with the design's parts compiled from the scenario's MJCF and is checked for
    sinking on it, and the design is simulated with the scenario's own rule (no early exits
    beyond it). The same draws, so the same design and outcome as `trial_design` and
    `ProbeModel.run`."""
    rng = _rng(scenario, trial)
    kinematic = scenario.tier == "kinematic"
    for _ in range(MAX_DRAWS):
        design = within_budget(draw_design(rng, scenario), scenario)
        model = compiled_for(xml, scenario, design)
        data = mujoco.MjData(model)
        mujoco.mj_kinematics(model, data)
        names = slot_names(kinematic)
        slots = assign(design, kinematic)
        probes = [model.geom(f"{n}_geom").id for n, b in zip(names, slots, strict=True) if b]
        every_probe = {model.geom(f"{n}_geom").id for n in names}
        others = np.array([g for g in range(model.ngeom) if g not in every_probe])
        if not sinks(model, data, probes, others):
            return design, simulate(model, scenario, data=data, controls=controls_for(design))
    return None, None


def _rng(scenario: Scenario, trial: int) -> np.random.Generator:
    key = zlib.crc32(scenario.scenario_id.encode())
    return np.random.default_rng([BASELINE_SEED, key, scenario.seed, trial])


def trial_design(probes: ProbeModel, trial: int) -> tuple[Design | None, int]:
    """The trial's design and how many draws were refused before it (sunk into the scenery
    or the payload); None when every draw was."""
    rng = _rng(probes.scenario, trial)
    for refused in range(MAX_DRAWS):
        design = within_budget(draw_design(rng, probes.scenario), probes.scenario)
        if not probes.sunk(design):
            return design, refused
    return None, MAX_DRAWS


@dataclass(frozen=True)
class BaselineResult:
    difficulty: Difficulty
    refused_draws: int
    designs: tuple[Design, ...]

    def measurements(self) -> dict[str, float]:
        d = self.difficulty
        return {
            "trials": d.trials,
            "successes": d.successes,
            "random_solve_rate": d.random_solve_rate,
            "random_solve_low95": d.random_solve_low95,
            "random_solve_high95": d.random_solve_high95,
            "refused_draws": self.refused_draws,
        }


def random_baseline(
    xml: str, scenario: Scenario, max_trials: int = MAX_TRIALS, keep_designs: bool = False
) -> BaselineResult:
    """Sequential random-design trials on the scenario's MJCF (without its solution)."""
    name = KINEMATIC_BASELINE if scenario.tier == "kinematic" else BASELINE
    if max_trials <= 0:  # no trials asked for (the bench's validation phase): no model either
        return BaselineResult(difficulty(0, 0, name), 0, ())
    probes = ProbeModel(xml, scenario)
    trials = successes = refused = number = 0
    designs: list[Design] = []
    while trials < max_trials and number < 4 * max_trials and not settled(successes, trials):
        design, refused_here = trial_design(probes, number)
        number += 1
        refused += refused_here
        if design is None:  # every draw of this one sank into the scenery: not a trial
            continue
        trials += 1
        if keep_designs:
            designs.append(design)
        successes += probes.run(design).success
    return BaselineResult(difficulty(successes, trials, name), refused, tuple(designs))


def difficulty(successes: int, trials: int, baseline: str = BASELINE) -> Difficulty:
    low, high = wilson(successes, trials)
    return Difficulty(
        baseline=baseline,
        trials=trials,
        successes=successes,
        random_solve_rate=round(successes / trials, 6) if trials else 0.0,
        random_solve_low95=round(low, 6),
        random_solve_high95=round(high, 6),
        tier=tier_of(successes, trials),
    )


def tier_mix(tiers: Sequence[str]) -> dict[str, int]:
    """How many scenarios fall in each tier, in tier order."""
    return {tier: sum(t == tier for t in tiers) for tier, _, _ in reversed(TIER_BANDS)}
