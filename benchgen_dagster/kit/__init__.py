"""What a family script imports: the shape of what `build` returns, and seeded parameter draws.

A family script is a module with a `PARAMS` dict of declared ranges and a function
`build(seed: int, params: dict) -> ScenarioBuild`. Everything in a script is in millimetres
and degrees: parts are build123d solids, zones are axis-aligned boxes (`Zone`), a part may
turn or slide on a `Joint`, and a reference solution may drive its joints with `Actuator`s
following a control schedule. The script runs in a sandbox; what it returns is turned into
plain data there and checked by trusted code outside, which converts to metres and radians.

This module uses only the standard library, so that it loads anywhere a script can run.
"""

from __future__ import annotations

import random
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

Vec3 = tuple[float, float, float]
# A declared range: (low, high) draws uniformly (integers when both ends are ints),
# a list draws one of its items.
Range = tuple[float, float] | list[Any]


@dataclass(frozen=True)
class Zone:
    """An axis-aligned box in millimetres: a goal, forbid or build zone, or the bounds."""

    min: Vec3
    max: Vec3


@dataclass(frozen=True)
class Payload:
    """The object to move. `size` follows MuJoCo: sphere (radius,), box (half-x, half-y,
    half-z), cylinder (radius, half-length); millimetres."""

    shape: str
    size: tuple[float, ...]
    material: str
    start: Vec3
    jitter: float = 3.0


@dataclass(frozen=True)
class Joint:
    """A part on a joint: it turns about (`"hinge"`) or slides along (`"slide"`) `axis` through
    `anchor` (millimetres). `range` is how far it may go from the pose it was built in: degrees
    for a hinge, millimetres for a slide (None: unlimited). `damping` resists its speed, in N
    per mm/s (slide) or N·m per degree/s (hinge); `armature` adds inertia, kg or kg·m²."""

    kind: str
    axis: Vec3
    anchor: Vec3
    range: tuple[float, float] | None = None
    damping: float = 0.0
    armature: float = 0.0


@dataclass(frozen=True)
class Actuator:
    """What drives the joint of the solution part `joint`. A `"motor"` applies its control as
    a force (N) or torque (N·m); a `"position"` actuator pulls the joint towards its control
    (mm or degrees from the built pose) with stiffness `gain` (N per mm or N·m per degree),
    critically damped; a `"velocity"` actuator drives it at its control (mm/s or degrees/s)
    with gain `gain` (N per mm/s or N·m per degree/s). Its force never exceeds `force_limit`
    (N or N·m); its control stays within `control_range`."""

    joint: str
    kind: str
    force_limit: float
    control_range: tuple[float, float]
    gain: float = 0.0


@dataclass
class ScenarioBuild:
    """What `build` returns. `parts` and `solution` map labels to build123d shapes; a shape
    with several solids becomes several convex-or-decomposed pieces of one part.

    `joints` puts parts (of the scenery or of the solution, by label) on joints; the scenery's
    joints are passive. `actuators` (solution only) drive solution joints, and `controls` is
    each actuator's schedule: `[(t_s, value), ...]` sorted by time, linearly interpolated and
    held at the first and last value outside them, in the actuator's control units."""

    parts: dict[str, Any]
    payload: Payload
    goal_zone: Zone
    build_zone: Zone
    bounds: Zone
    solution: dict[str, Any]
    max_unit_cost: float
    max_weight_g: float
    params: dict[str, Any]
    forbid_zones: dict[str, Zone] = field(default_factory=dict)
    materials: dict[str, str] = field(default_factory=dict)
    solution_material: str = "wood"
    duration_s: float = 4.0
    joints: dict[str, Joint] = field(default_factory=dict)
    actuators: dict[str, Actuator] = field(default_factory=dict)
    controls: dict[str, list[tuple[float, float]]] = field(default_factory=dict)


@dataclass
class Mechanism:
    """A solver's design that moves: `parts` as in `ScenarioBuild.solution` (label → build123d
    shape or STL bytes, millimetres), with `joints`, `actuators` and `controls` declared as a
    family script declares its reference solution's."""

    parts: dict[str, Any]
    joints: dict[str, Joint] = field(default_factory=dict)
    actuators: dict[str, Actuator] = field(default_factory=dict)
    controls: dict[str, list[tuple[float, float]]] = field(default_factory=dict)


# What a motor costs against a scenario's budget: a price per actuator and per newton (or
# newton-metre) of its force limit.
ACTUATOR_BASE_COST = 1.0
ACTUATOR_COST_PER_NEWTON = 0.05


def actuator_cost(force_limit: float) -> float:
    """The cost of one actuator of this force limit."""
    return ACTUATOR_BASE_COST + ACTUATOR_COST_PER_NEWTON * force_limit


def draw(
    ranges: Mapping[str, Range], seed: int, fixed: Mapping[str, Any] | None = None, attempt: int = 0
) -> dict[str, Any]:
    """Draw one value per declared range from a generator seeded by (seed, attempt).

    Values in `fixed` win over draws. The same arguments always give the same values.
    """
    rng = random.Random(f"{seed}:{attempt}")
    fixed = fixed or {}
    values: dict[str, Any] = {}
    for name, spec in ranges.items():
        value = _draw_one(rng, spec)  # drawn even when fixed, so other draws do not shift
        values[name] = fixed.get(name, value)
    return values


def attempts(
    seed: int, ranges: Mapping[str, Range], fixed: Mapping[str, Any] | None = None, limit: int = 20
) -> Iterator[dict[str, Any]]:
    """Successive draws for a script that redraws when an offset makes parts overlap."""
    for attempt in range(limit):
        yield draw(ranges, seed, fixed, attempt)
    raise RuntimeError(f"no valid draw for seed {seed} in {limit} attempts")


def _draw_one(rng: random.Random, spec: Range) -> Any:
    if isinstance(spec, list):
        return rng.choice(spec)
    low, high = spec
    if isinstance(low, int) and isinstance(high, int):
        return rng.randint(low, high)
    return round(rng.uniform(low, high), 6)
