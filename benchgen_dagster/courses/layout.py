"""The scenario language's modules and how a course of them is laid out, in millimetres.

A course runs along +x: a start pad where the payload is dropped, then the modules in order,
the last of which (a bin or a cup) holds the goal. Each module declares its parameters with
their ranges; `resolve` draws a value for every range of a spec from a seed, and `lay_out`
turns the values into plain pieces (boxes, prisms, cylinders), the zones, the payload and the
reference solution: a chute whose straight top line runs from under the payload down to above
the goal, made of one piece per module it crosses.

Standard library only: this module runs in the sandbox (under the builder) and in the
orchestrating process (checking a spec before anything runs) alike.
"""

from __future__ import annotations

import itertools
import math
import random
from dataclasses import dataclass, field
from typing import Any

# name → parameter → (low, high) in millimetres (counts for `steps`)
MODULES: dict[str, dict[str, tuple[float, float]]] = {
    "platform": {"length": (120.0, 800.0)},
    "step_up": {"height": (15.0, 200.0), "length": (150.0, 600.0)},
    "step_down": {"height": (15.0, 400.0), "length": (150.0, 600.0)},
    "ramp": {"length": (150.0, 800.0), "rise": (-300.0, 300.0)},
    "stairs": {
        "steps": (2, 8),
        "step_height": (15.0, 90.0),
        "step_depth": (50.0, 250.0),
        "rise_sign": (-1, 1),
    },
    "gap": {"width": (40.0, 500.0), "depth": (80.0, 500.0)},
    "wall": {"height": (30.0, 300.0), "thickness": (8.0, 60.0), "length": (150.0, 600.0)},
    "window_wall": {
        "window_width": (40.0, 400.0),
        "window_height": (40.0, 400.0),
        "thickness": (8.0, 60.0),
        "length": (150.0, 600.0),
    },
    "slot_wall": {"slot_width": (20.0, 300.0), "thickness": (8.0, 60.0), "length": (150.0, 600.0)},
    "bump": {"height": (10.0, 120.0), "base": (40.0, 300.0), "length": (150.0, 600.0)},
    "post": {"radius": (8.0, 60.0), "height": (40.0, 400.0), "length": (150.0, 600.0)},
    "corridor": {"length": (200.0, 1000.0), "width": (60.0, 400.0), "wall_height": (20.0, 200.0)},
    "funnel": {
        "length": (150.0, 600.0),
        "mouth": (120.0, 500.0),
        "throat": (40.0, 300.0),
        "wall_height": (20.0, 200.0),
    },
    # kinematic: a barrier across the path that the reference solution's actuator opens
    "gate": {"length": (250.0, 800.0), "height": (40.0, 300.0), "thickness": (6.0, 30.0)},
    "lever": {"length": (150.0, 800.0), "height": (30.0, 200.0), "thickness": (6.0, 30.0)},
    "slider": {"length": (150.0, 800.0), "height": (60.0, 300.0), "thickness": (10.0, 80.0)},
    "bin": {"width": (80.0, 400.0), "depth": (80.0, 400.0), "wall_height": (25.0, 200.0)},
    "cup": {"radius": (30.0, 200.0), "height": (25.0, 200.0)},
}
GOAL_MODULES = ("bin", "cup")
KINEMATIC_MODULES = ("gate", "lever", "slider")
WHOLE_NUMBERS = {"steps", "rise_sign"}
# shape → size parameters (millimetres) with their ranges
PAYLOADS: dict[str, dict[str, tuple[float, float]]] = {
    "sphere": {"radius": (6.0, 60.0)},
    "box": {"side": (12.0, 120.0)},
    "cylinder": {"radius": (6.0, 60.0), "length": (12.0, 150.0)},
    "capsule": {"radius": (6.0, 40.0), "length": (12.0, 150.0)},
    # lying flat: the outer radius, the band's radial width, the height along its axis
    "ring": {"radius": (6.0, 60.0), "width": (4.0, 30.0), "height": (4.0, 40.0)},
}
MATERIALS = ("wood", "steel", "aluminium", "rubber", "plastic", "ice")
# friction of each material (as in the dataset contract), for the chute's slope
FRICTION = {"wood": 0.5, "steel": 0.4, "aluminium": 0.45, "rubber": 0.9, "plastic": 0.35}
FRICTION["ice"] = 0.05
COURSE_WIDTH = (200.0, 800.0)

START_PAD = 220.0
START_X = 110.0
FLOOR = 60.0  # under the lowest floor: a payload dropped from high must not pass through
CHUTE = 10.0  # thickness of the chute
RAIL_HEIGHT = 30.0
CLEARANCE = 12.0  # between the chute's underside and anything below it
MAX_SLOPE_DEG = 48.0
ROLLING_SLOPE_DEG = 12.0
SLIDING_MARGIN_DEG = 9.0
JITTER = 3.0
DROP = RAIL_HEIGHT + 20.0  # the payload starts this far above the chute, clear of its rails
BARRIER_GAP = 4.0  # between the chute's top and a barrier's underside
BARRIER_OVERHANG = 40.0  # how far a barrier reaches beyond the chute's edge on each side
MOVER_GAP = 1.5  # between a barrier and the solution part that moves it
OPEN_S = 0.25  # when the reference solution has its barriers open
DRIVE_RATE = 20.0  # rad/s: how briskly a solution's drive follows its control
BARRIER_DENSITY = 600.0  # kg/m³: the barriers are wood, the scenery's default material


class CourseError(ValueError):
    """A course that cannot be laid out, naming the module (1-based) and field at fault."""

    def __init__(self, where: str, field_name: str, message: str) -> None:
        self.where, self.field_name = where, field_name
        super().__init__(f"{where}: {field_name}: {message}")


def module_label(index: int, kind: str) -> str:
    return f"module {index + 1} ({kind})"


# --- resolving a spec's ranges -------------------------------------------------------------


def resolve(spec: dict[str, Any], seed: int, fixed: dict[str, Any] | None = None) -> dict:
    """The spec with one value drawn for each range (`[low, high]`) and choice (a list of
    strings), from a generator seeded by the seed. `fixed` maps flat parameter names (as
    `flat_params` gives them) to values that win over the draws."""
    rng = random.Random(f"course:{seed}")
    fixed = fixed or {}

    def pick(name: str, value: Any, whole: bool = False) -> Any:
        drawn = _draw(rng, value, whole)  # drawn even when fixed, so other draws do not shift
        return fixed.get(name, drawn)

    payload = {key: pick(f"payload.{key}", value, False) for key, value in spec["payload"].items()}
    modules = []
    for index, module in enumerate(spec["modules"]):
        prefix = f"m{index + 1}"
        modules.append(
            {
                key: value
                if key == "type"
                else pick(f"{prefix}.{key}", value, key in WHOLE_NUMBERS)
                for key, value in module.items()
            }
        )
    course = {
        "payload": payload,
        "width": pick("width", spec.get("width", 400.0)),
        "modules": modules,
    }
    if spec.get("start_height") is not None:
        course["start_height"] = pick("start_height", spec["start_height"])
    return course


def _draw(rng: random.Random, value: Any, whole: bool) -> Any:
    if isinstance(value, list) and value and all(isinstance(v, str) for v in value):
        return rng.choice(value)
    if isinstance(value, list | tuple):
        low, high = value
        return rng.randint(int(low), int(high)) if whole else round(rng.uniform(low, high), 3)
    return value


def flat_params(resolved: dict[str, Any]) -> dict[str, Any]:
    """A resolved course as flat scalar parameters: what a scenario records."""
    params: dict[str, Any] = {
        "course": ",".join(m["type"] for m in resolved["modules"]),
        "width": resolved["width"],
    }
    params.update({f"payload.{k}": v for k, v in resolved["payload"].items()})
    if resolved.get("start_height") is not None:
        params["start_height"] = resolved["start_height"]
    for index, module in enumerate(resolved["modules"]):
        params.update({f"m{index + 1}.{k}": v for k, v in module.items() if k != "type"})
    return params


# --- laying out a resolved course ----------------------------------------------------------


@dataclass(frozen=True)
class Piece:
    """A convex solid: `box` (lo, hi corners), `prism` (an x-z outline across y from y0 to
    y1), `cylinder` (centre x, y, radius, z0, z1) or `yawed` (centre, size, yaw in degrees
    about z)."""

    kind: str
    data: tuple


@dataclass(frozen=True)
class ChutePiece:
    """A straight plank whose top runs from `start` to `end` (x, z), optionally railed."""

    start: tuple[float, float]
    end: tuple[float, float]
    width: float
    rails: bool


@dataclass(frozen=True)
class JointPiece:
    """A joint as `kit.Joint` takes it: `hinge` (degrees) or `slide` (millimetres)."""

    kind: str
    axis: tuple[float, float, float]
    anchor: tuple[float, float, float]
    range: tuple[float, float]
    damping: float
    armature: float = 0.0


@dataclass(frozen=True)
class Mover:
    """A part of the reference solution on a joint, driven by a position actuator from 0 to
    `open` (degrees or millimetres) by `OPEN_S` and held there."""

    pieces: list[Piece]
    joint: JointPiece
    open: float
    gain: float
    force_limit: float


@dataclass
class Layout:
    parts: dict[str, list[Piece]]
    solution: dict[str, ChutePiece]
    payload: dict[str, Any]  # shape, size (MuJoCo half sizes), material, start, jitter
    goal: tuple[tuple[float, float, float], tuple[float, float, float]]
    forbid: dict[str, tuple[tuple[float, float, float], tuple[float, float, float]]]
    build_zone: tuple[tuple[float, float, float], tuple[float, float, float]]
    bounds: tuple[tuple[float, float, float], tuple[float, float, float]]
    materials: dict[str, str]
    solution_material: str
    slope_deg: float
    duration_s: float
    # (x_lo, x_hi, top, where): what the chute must clear
    tops: list[tuple[float, float, float, str]] = field(default_factory=list)
    joints: dict[str, JointPiece] = field(default_factory=dict)  # of scenery parts
    movers: dict[str, Mover] = field(default_factory=dict)  # of the solution


def payload_geometry(payload: dict[str, Any]) -> tuple[list[float], float, float, bool]:
    """MuJoCo half sizes, half-width across y, half-height, and whether it rolls."""
    shape = payload["shape"]
    if shape == "sphere":
        r = payload["radius"]
        return [r], r, r, True
    if shape == "box":
        h = payload["side"] / 2
        return [h, h, h], h, h, False
    if shape == "ring":
        r, half = payload["radius"], payload["height"] / 2
        return [r, payload["width"] / 2, half], r, half, False
    r, half = payload["radius"], payload["length"] / 2
    if shape == "cylinder":
        return [r, half], r, half, False
    return [r, half], r, half + r, False  # capsule: upright, half-length of its middle


def lay_out(course: dict[str, Any]) -> Layout:
    """Pieces, zones, payload and chute of a resolved course; CourseError when the values do
    not make a sound course."""
    modules = course["modules"]
    if not 1 <= len(modules) <= 8:
        raise CourseError("course", "modules", "a course has 1 to 8 modules")
    last = modules[-1]["type"]
    if last not in GOAL_MODULES:
        raise CourseError(
            module_label(len(modules) - 1, last),
            "type",
            f"the last module holds the goal, so it must be one of {', '.join(GOAL_MODULES)}",
        )
    for index, module in enumerate(modules[:-1]):
        if module["type"] in GOAL_MODULES:
            raise CourseError(
                module_label(index, module["type"]), "type", "only the last module holds a goal"
            )
    payload = course["payload"]
    material = payload["material"]
    if payload["shape"] == "ring" and payload["width"] >= payload["radius"]:
        raise CourseError(
            "payload",
            "width",
            f"a ring's band ({payload['width']:g} mm) must be narrower than its radius "
            f"({payload['radius']:g} mm)",
        )
    size, half_w, half_h, rolls = payload_geometry(payload)
    half_y = course["width"] / 2
    chute_width = 2 * half_w + 36.0
    if chute_width > 2 * half_y - 20:
        raise CourseError("course", "width", f"{2 * half_y:g} mm is too narrow for the payload")
    friction = FRICTION[material]
    if rolls:
        min_slope = ROLLING_SLOPE_DEG
    else:
        min_slope = math.degrees(math.atan(friction)) + SLIDING_MARGIN_DEG
        if min_slope > MAX_SLOPE_DEG - 4:
            raise CourseError(
                "payload",
                "material",
                f"a {material} {payload['shape']} would not slide down a chute",
            )

    ctx = _Context(
        half_y=half_y,
        payload_half_w=half_w,
        payload_half_h=half_h,
        chute_half_width=chute_width / 2,
    )
    ctx.add_floor("start", 0.0, START_PAD, 0.0)
    _kerbs(ctx, max(40.0, half_w + 25.0))
    x, floor = START_PAD, 0.0
    for index, module in enumerate(modules):
        where = module_label(index, module["type"])
        ctx.boundaries.append((x, _label(index, module)))
        x, floor = MODULE_BUILDERS[module["type"]](ctx, where, index, module, x, floor)
    assert ctx.goal is not None and ctx.chute_end is not None

    x_end, z_end = ctx.chute_end
    x_top = START_X - half_w - 15.0
    slope = max(min_slope, _clearing_slope(ctx.tops, x_end, z_end))
    if course.get("start_height") is not None:
        slope = _slope_for_start(course["start_height"], slope, half_h, x_end, z_end)
        if slope > MAX_SLOPE_DEG:
            raise CourseError(
                "course",
                "start_height",
                f"{course['start_height']:g} mm is too high above the goal for a chute of at "
                f"most {MAX_SLOPE_DEG:.0f}°; lower it, or put more course before the goal",
            )
    if slope > MAX_SLOPE_DEG:
        _x_lo, _x_hi, top, where = _binding_top(ctx.tops, x_end, z_end)
        raise CourseError(
            where,
            "height",
            f"its top at {top:.0f} mm stands too high for a chute from the start down to the "
            f"goal (it would need a slope of {slope:.0f}°, at most {MAX_SLOPE_DEG:.0f}°); "
            "lower it, or put more course between it and the goal",
        )
    tan = math.tan(math.radians(slope))

    def line(x_at: float) -> float:
        return z_end + tan * (x_end - x_at)

    for check in ctx.pierced:
        check(line, tan)
    solution = _chute_pieces(ctx, line, x_top, x_end, chute_width)
    z_top = line(START_X)
    start_z = z_top + half_h + DROP + JITTER
    lowest = min(ctx.lowest, min(c.end[1] for c in solution.values()) - CHUTE - 10)
    z_base = lowest - FLOOR
    for label, pieces in ctx.parts.items():
        ctx.parts[label] = [_grounded(p, z_base) for p in pieces]
    x_max = ctx.x_far
    chute_bottom = min(c.end[1] for c in solution.values()) - CHUTE / math.cos(math.radians(slope))
    chute_top = line(x_top) + RAIL_HEIGHT + 10.0
    mover_top = max((p.data[1][2] for m in ctx.movers.values() for p in m.pieces), default=0.0)
    build_zone = (
        (x_top - 25.0, -half_y + 5, chute_bottom - 5.0),
        (
            x_end + 25.0,
            half_y - 5,
            max(start_z - half_h - 2 * JITTER - 2.0, chute_top, mover_top + 5.0),
        ),
    )
    bounds = (
        (-60.0, -half_y - 60.0, z_base - 60.0),
        (x_max + 80.0, half_y + 60.0, max(start_z, ctx.highest) + 200.0),
    )
    length = x_max
    return Layout(
        parts={k: v for k, v in ctx.parts.items() if v},
        solution=solution,
        payload={
            "shape": payload["shape"],
            "size": size,
            "material": material,
            "start": (START_X, 0.0, start_z),
            "jitter": JITTER,
        },
        goal=ctx.goal,
        forbid=ctx.forbid,
        build_zone=build_zone,
        bounds=bounds,
        materials=ctx.materials,
        solution_material="wood" if rolls else "ice",
        slope_deg=round(slope, 3),
        duration_s=round(min(10.0, 4.0 + length / 700.0), 2),
        tops=ctx.tops,
        joints=ctx.joints,
        movers=ctx.movers,
    )


@dataclass
class _Context:
    half_y: float
    payload_half_w: float
    payload_half_h: float
    parts: dict[str, list[Piece]] = field(default_factory=dict)
    materials: dict[str, str] = field(default_factory=dict)
    tops: list[tuple[float, float, float, str]] = field(default_factory=list)
    forbid: dict[str, tuple] = field(default_factory=dict)
    pierced: list[Any] = field(default_factory=list)  # checks run once the chute line is known
    # x ranges where the chute is narrowed and without rails: (x0, x1, width)
    narrows: list[tuple[float, float, float]] = field(default_factory=list)
    goal: tuple | None = None
    chute_end: tuple[float, float] | None = None
    lowest: float = 0.0
    highest: float = 0.0
    x_far: float = 0.0
    boundaries: list[tuple[float, str]] = field(default_factory=list)  # module start x, label
    joints: dict[str, JointPiece] = field(default_factory=dict)
    movers: dict[str, Mover] = field(default_factory=dict)
    chute_half_width: float = 0.0

    def piece(self, label: str, kind: str, *data: Any) -> None:
        self.parts.setdefault(label, []).append(Piece(kind, tuple(data)))

    def add_floor(self, label: str, x0: float, x1: float, z: float, where: str = "") -> None:
        """A floor block from the base (set once the lowest level is known) up to z."""
        self.piece(label, "box", (x0, -self.half_y, None), (x1, self.half_y, z))
        self.top(x0, x1, z, where or label)
        self.lowest = min(self.lowest, z)
        self.x_far = max(self.x_far, x1)

    def top(self, x0: float, x1: float, z: float, where: str) -> None:
        self.tops.append((x0, x1, z, where))
        self.highest = max(self.highest, z)


def _kerbs(ctx: _Context, height: float) -> None:
    """Low walls behind and beside the start pad: a payload that topples where it lands
    stays on the course."""
    hy, kerb = ctx.half_y, 12.0
    ctx.piece("start", "box", (0.0, -hy, 0.0), (kerb, hy, height))
    ctx.piece("start", "box", (kerb, hy - kerb, 0.0), (START_PAD, hy, height))
    ctx.piece("start", "box", (kerb, -hy, 0.0), (START_PAD, -hy + kerb, height))
    ctx.top(0.0, START_PAD, height, "the start pad")


def _label(index: int, module: dict[str, Any]) -> str:
    return f"m{index + 1}_{module['type']}"


def _need(condition: bool, where: str, field_name: str, message: str) -> None:
    if not condition:
        raise CourseError(where, field_name, message)


def _platform(ctx: _Context, where: str, i: int, m: dict, x: float, f: float):
    ctx.add_floor(_label(i, m), x, x + m["length"], f, where)
    return x + m["length"], f


def _step_up(ctx: _Context, where: str, i: int, m: dict, x: float, f: float):
    ctx.add_floor(_label(i, m), x, x + m["length"], f + m["height"], where)
    return x + m["length"], f + m["height"]


def _step_down(ctx: _Context, where: str, i: int, m: dict, x: float, f: float):
    ctx.add_floor(_label(i, m), x, x + m["length"], f - m["height"], where)
    return x + m["length"], f - m["height"]


def _ramp(ctx: _Context, where: str, i: int, m: dict, x: float, f: float):
    length, rise = m["length"], m["rise"]
    _need(abs(rise) <= length * 0.6, where, "rise", f"{rise:g} mm is too steep for {length:g} mm")
    x1, f1 = x + length, f + rise
    ctx.piece(
        _label(i, m), "prism", [(x, None), (x1, None), (x1, f1), (x, f)], -ctx.half_y, ctx.half_y
    )
    ctx.top(x, x1, max(f, f1), where)
    ctx.lowest = min(ctx.lowest, f, f1)
    ctx.x_far = x1
    return x1, f1


def _stairs(ctx: _Context, where: str, i: int, m: dict, x: float, f: float):
    steps, height, depth = int(m["steps"]), m["step_height"], m["step_depth"]
    sign = -1 if m.get("rise_sign", -1) < 0 else 1
    for k in range(steps):
        level = f + sign * height * (k + 1)
        ctx.add_floor(_label(i, m), x + k * depth, x + (k + 1) * depth, level, where)
    return x + steps * depth, f + sign * height * steps


def _gap(ctx: _Context, where: str, i: int, m: dict, x: float, f: float):
    width, depth = m["width"], m["depth"]
    bottom = f - depth
    label = _label(i, m)
    ctx.piece(label, "box", (x, -ctx.half_y, None), (x + width, ctx.half_y, bottom))
    ctx.lowest = min(ctx.lowest, bottom)
    ctx.x_far = x + width
    ctx.forbid[f"{label}_floor"] = (
        (x + 3.0, -ctx.half_y + 5, bottom),
        (x + width - 3.0, ctx.half_y - 5, bottom + 40.0),
    )
    _need(depth >= 60.0, where, "depth", "a gap must be at least 60 mm deep")
    return x + width, f


def _wall(ctx: _Context, where: str, i: int, m: dict, x: float, f: float):
    length, thick = m["length"], m["thickness"]
    _need(thick < length - 60, where, "thickness", f"{thick:g} mm leaves no floor either side")
    label = _label(i, m)
    ctx.add_floor(label, x, x + length, f, where)
    mid = x + length / 2
    ctx.piece(
        label,
        "box",
        (mid - thick / 2, -ctx.half_y, f),
        (mid + thick / 2, ctx.half_y, f + m["height"]),
    )
    ctx.top(mid - thick / 2, mid + thick / 2, f + m["height"], where)
    return x + length, f


def _pierced_wall(ctx: _Context, where: str, i: int, m: dict, x: float, f: float, kind: str):
    """A wall the chute passes through, by a window or a slot placed where the chute's line
    crosses it; the wall rises well above the line, so nothing goes over it."""
    length, thick = m["length"], m["thickness"]
    _need(thick < length - 60, where, "thickness", f"{thick:g} mm leaves no floor either side")
    label = _label(i, m)
    ctx.add_floor(label, x, x + length, f, where)
    x0, x1 = x + length / 2 - thick / 2, x + length / 2 + thick / 2
    hy = ctx.half_y
    opening = m["window_width"] if kind == "window" else m["slot_width"]
    field_name = "window_width" if kind == "window" else "slot_width"
    needed = 2 * ctx.payload_half_w + 14.0
    _need(
        opening >= needed,
        where,
        field_name,
        f"{opening:g} mm is too narrow for the payload ({2 * ctx.payload_half_w:g} mm across); "
        f"at least {needed:g} mm",
    )
    _need(opening <= 2 * hy - 40, where, field_name, f"{opening:g} mm is wider than the course")
    # the railed chute stops short of the wall by what its tilted rails lean forward
    margin = 5.0 + (RAIL_HEIGHT + CHUTE) * math.sin(math.radians(MAX_SLOPE_DEG))
    ctx.narrows.append((x0 - margin, x1 + margin, opening - 8.0))
    pass_height = 2 * ctx.payload_half_h + 25.0

    def place(line: Any, tan: float) -> None:
        under = line(x1 + 5.0) - CHUTE * math.sqrt(1 + tan * tan) - 8.0
        over = line(x0 - 5.0) + pass_height
        if kind == "window":
            height = m["window_height"]
            need = over - under
            _need(
                height >= need,
                where,
                "window_height",
                f"{height:g} mm cannot pass the payload on a chute; at least {math.ceil(need)} mm",
            )
            bottom = max(under, f + 5.0)
            top = bottom + height
        else:
            bottom, top = f, over
        wall_top = top + max(80.0, 2 * ctx.payload_half_h + 40.0)
        o = opening / 2
        ctx.piece(label, "box", (x0, -hy, f), (x1, -o, wall_top))
        ctx.piece(label, "box", (x0, o, f), (x1, hy, wall_top))
        if bottom > f + 1.0:
            ctx.piece(label, "box", (x0, -o, f), (x1, o, bottom))
        ctx.piece(label, "box", (x0, -o, top), (x1, o, wall_top))
        ctx.highest = max(ctx.highest, wall_top)

    ctx.pierced.append(place)
    return x + length, f


def _window_wall(ctx: _Context, where: str, i: int, m: dict, x: float, f: float):
    return _pierced_wall(ctx, where, i, m, x, f, "window")


def _slot_wall(ctx: _Context, where: str, i: int, m: dict, x: float, f: float):
    return _pierced_wall(ctx, where, i, m, x, f, "slot")


def _bump(ctx: _Context, where: str, i: int, m: dict, x: float, f: float):
    length, base, height = m["length"], m["base"], m["height"]
    _need(base <= length - 20, where, "base", f"{base:g} mm does not fit in {length:g} mm")
    label = _label(i, m)
    ctx.add_floor(label, x, x + length, f, where)
    mid = x + length / 2
    outline = [
        (mid - base / 2, f),
        (mid + base / 2, f),
        (mid + base / 6, f + height),
        (mid - base / 6, f + height),
    ]
    ctx.piece(label, "prism", outline, -ctx.half_y, ctx.half_y)
    ctx.top(mid - base / 2, mid + base / 2, f + height, where)
    return x + length, f


def _post(ctx: _Context, where: str, i: int, m: dict, x: float, f: float):
    length, radius = m["length"], m["radius"]
    _need(2 * radius < length - 40, where, "radius", f"{radius:g} mm does not fit in {length:g} mm")
    label = _label(i, m)
    ctx.add_floor(label, x, x + length, f, where)
    mid = x + length / 2
    ctx.piece(label, "cylinder", mid, 0.0, radius, f, f + m["height"])
    ctx.top(mid - radius, mid + radius, f + m["height"], where)
    return x + length, f


def _corridor(ctx: _Context, where: str, i: int, m: dict, x: float, f: float):
    length, width, height = m["length"], m["width"], m["wall_height"]
    wall = 12.0
    _need(
        width <= 2 * ctx.half_y - 2 * wall - 60,
        where,
        "width",
        f"{width:g} mm leaves no room beside the corridor",
    )
    _need(
        width >= 2 * ctx.payload_half_w + 10,
        where,
        "width",
        f"{width:g} mm is too narrow for the payload",
    )
    label = _label(i, m)
    ctx.add_floor(label, x, x + length, f, where)
    for sign in (-1, 1):
        inner, outer = sign * width / 2, sign * (width / 2 + wall)
        ctx.piece(
            label, "box", (x, min(inner, outer), f), (x + length, max(inner, outer), f + height)
        )
        y_lo, y_hi = sorted((sign * (width / 2 + wall + 2), sign * (ctx.half_y - 5)))
        ctx.forbid[f"{label}_{'left' if sign > 0 else 'right'}"] = (
            (x + 5.0, y_lo, f),
            (x + length - 5.0, y_hi, f + 30.0),
        )
    ctx.top(x, x + length, f + height, where)
    return x + length, f


def _funnel(ctx: _Context, where: str, i: int, m: dict, x: float, f: float):
    length, mouth, throat, height = m["length"], m["mouth"], m["throat"], m["wall_height"]
    _need(throat < mouth, where, "throat", f"{throat:g} mm must be narrower than the mouth")
    _need(mouth <= 2 * ctx.half_y - 40, where, "mouth", f"{mouth:g} mm is wider than the course")
    _need(
        throat >= 2 * ctx.payload_half_w + 12,
        where,
        "throat",
        f"{throat:g} mm is too narrow for the payload",
    )
    label = _label(i, m)
    ctx.add_floor(label, x, x + length, f, where)
    wall = 10.0
    for sign in (-1, 1):
        y0, y1 = sign * (mouth / 2 + wall / 2), sign * (throat / 2 + wall / 2)
        run = math.hypot(length - 20, y1 - y0)
        yaw = math.degrees(math.atan2(y1 - y0, length - 20))
        ctx.piece(
            label,
            "yawed",
            (x + length / 2, (y0 + y1) / 2, f + height / 2),
            (run, wall, height),
            yaw,
        )
    ctx.top(x, x + length, f + height, where)
    return x + length, f


def _barrier(ctx: _Context, where: str, i: int, m: dict, x: float, f: float):
    """A barrier across the chute's path in the middle of a floor, just clear of the chute:
    leaves that swing up and aside on hinges along x at their outer lower edges (a `gate`
    has two, a `lever` one plank across the whole path), or a block that slides aside along
    y (`slider`). Its joint only lets it open away from the payload, which pushes along x, so
    the payload alone cannot get past; the reference solution's arm or pusher, on the same
    joint, opens it before the payload arrives."""
    kind, length, height, thick = m["type"], m["length"], m["height"], m["thickness"]
    _need(thick < length - 120, where, "thickness", f"{thick:g} mm leaves no floor either side")
    needed = 2 * ctx.payload_half_h + 10.0
    if kind == "slider":
        needed += 30.0  # the pusher runs above the payload's way
    _need(
        height >= needed,
        where,
        "height",
        f"{height:g} mm would let the payload past without opening it; at least "
        f"{math.ceil(needed)} mm",
    )
    reach = ctx.chute_half_width + BARRIER_OVERHANG
    beside = reach + (MOVER_GAP + 45.0 if kind == "slider" else 0.0)  # the pusher's side
    _need(
        beside + 10.0 <= ctx.half_y,
        where,
        "type",
        f"the course is too narrow for a {kind} beside the chute; widen it to at least "
        f"{math.ceil(2 * (beside + 10.0))} mm",
    )
    label = _label(i, m)
    ctx.add_floor(label, x, x + length, f, where)
    x0, x1 = x + length / 2 - thick / 2, x + length / 2 + thick / 2
    margin = 5.0 + (RAIL_HEIGHT + CHUTE) * math.sin(math.radians(MAX_SLOPE_DEG))
    ctx.narrows.append((x0 - margin, x1 + margin, 2 * ctx.chute_half_width))
    inner = ctx.chute_half_width + 4.0  # the movers keep outside the chute

    def place(line: Any, tan: float) -> None:
        bottom = line(x0) + min(BARRIER_GAP, ctx.payload_half_h)  # a flat ring cannot slip under
        top = bottom + height
        ctx.highest = max(ctx.highest, bottom + 2 * reach + height)  # a leaf swung up
        if kind == "slider":
            travel = 2 * reach + 10.0
            block = f"{label}_block"
            ctx.piece(block, "box", (x0, -reach, bottom), (x1, reach, top))
            ctx.joints[block] = JointPiece(
                "slide", (0.0, 1.0, 0.0), (x + length / 2, 0.0, bottom), (0.0, travel + 20.0), 0.002
            )
            mass = BARRIER_DENSITY * thick * 2 * reach * height * 1e-9  # kg
            stiffness = 2 * mass * DRIVE_RATE**2  # N/m, the pusher's armature as heavy again
            low = bottom + needed - 20.0
            pusher = Piece(
                "box", ((x0, -reach - MOVER_GAP - 40.0, low), (x1, -reach - MOVER_GAP, top))
            )
            ctx.movers[f"{label}_pusher"] = Mover(
                [pusher],
                JointPiece(
                    "slide",
                    (0.0, 1.0, 0.0),
                    (x + length / 2, -reach, top),
                    (0.0, travel + 10.0),
                    0.0,
                    armature=mass,
                ),
                open=travel,
                gain=round(stiffness / 1000.0, 6),  # N per mm
                force_limit=round(1.5 * stiffness * travel / 1000.0, 3),
            )
            return
        sides = (-1, 1) if kind == "gate" else (-1,)
        for sign in sides:
            side = "left" if sign > 0 else "right"
            hinge = sign * reach
            tip = sign * MOVER_GAP / 2 if kind == "gate" else reach
            y_lo, y_hi = sorted((hinge, tip))
            leaf = f"{label}_{side}" if kind == "gate" else f"{label}_plank"
            ctx.piece(leaf, "box", (x0, y_lo, bottom), (x1, y_hi, top))
            # a positive turn about +x lifts a leaf hinged on the right (-y); mirrored on the left
            axis = (-float(sign), 0.0, 0.0)
            ctx.joints[leaf] = JointPiece(
                "hinge", axis, (x + length / 2, hinge, bottom), (0.0, 92.0), 0.0005
            )
            a_lo, a_hi = sorted((hinge, sign * inner))
            arm = Piece(
                "box", ((x0, a_lo, bottom - MOVER_GAP - 12.0), (x1, a_hi, bottom - MOVER_GAP))
            )
            span = (y_hi - y_lo) * 1e-3
            mass = BARRIER_DENSITY * thick * (y_hi - y_lo) * height * 1e-9
            inertia = mass * (span**2 + (height * 1e-3) ** 2) / 3  # kg·m², about the hinge
            stiffness = 2 * inertia * DRIVE_RATE**2  # N·m/rad, the arm's armature as heavy again
            ctx.movers[f"{leaf}_arm"] = Mover(
                [arm],
                JointPiece(
                    "hinge",
                    axis,
                    (x + length / 2, hinge, bottom),
                    (0.0, 100.0),
                    0.0,
                    armature=inertia,
                ),
                open=90.0,
                gain=round(math.radians(stiffness), 6),  # N·m per degree
                force_limit=round(1.5 * stiffness * math.pi / 2 + 9.81 * mass * span, 3),
            )

    ctx.pierced.append(place)
    return x + length, f


def _bin(ctx: _Context, where: str, i: int, m: dict, x: float, f: float):
    width, depth, height = m["width"], m["depth"], m["wall_height"]
    wall = 10.0
    label = _label(i, m)
    _need(depth <= 2 * ctx.half_y - 20, where, "depth", f"{depth:g} mm is wider than the course")
    inside = min(width, depth) - 2 * wall
    needed = 2 * _reach(ctx) + 10.0
    _need(
        inside >= needed,
        where,
        "width" if width <= depth else "depth",
        f"{min(width, depth):g} mm is too small for the payload; at least "
        f"{math.ceil(needed + 2 * wall)} mm",
    )
    near, far = x + 60.0, x + 60.0 + width
    ctx.add_floor(label, x, far + 80.0, f, where)
    hd = depth / 2
    backboard = height + 200.0
    ctx.piece(label, "box", (near, -hd, f), (far, hd, f + wall))
    ctx.piece(label, "box", (near, -hd, f + wall), (near + wall, hd, f + height))
    ctx.piece(label, "box", (far - wall, -hd, f + wall), (far, hd, f + backboard))
    for sign in (-1, 1):
        y0, y1 = sorted((sign * hd, sign * (hd - wall)))
        ctx.piece(label, "box", (near + wall, y0, f + wall), (far - wall, y1, f + height))
    ctx.highest = max(ctx.highest, f + backboard)
    reach = _reach(ctx)
    ctx.goal = (
        (near + wall, -hd + wall, f + wall),
        (far - wall, hd - wall, f + wall + max(height - wall, 2 * reach + 6)),
    )
    ctx.top(x, near + wall, f + height, where)  # the near wall
    ctx.chute_end = (near + wall + 0.3 * (width - 2 * wall), f + height + 15.0)
    ctx.materials[label] = "plastic"
    return far + 80.0, f


def _cup(ctx: _Context, where: str, i: int, m: dict, x: float, f: float):
    radius, height = m["radius"], m["height"]
    wall = 8.0
    label = _label(i, m)
    inner = radius - wall
    needed = wall + math.sqrt(2) * (_reach(ctx) + 6.0)
    _need(
        radius >= needed,
        where,
        "radius",
        f"{radius:g} mm is too small for the payload; at least {math.ceil(needed)} mm",
    )
    _need(
        2 * radius <= 2 * ctx.half_y - 30,
        where,
        "radius",
        f"{radius:g} mm is wider than the course",
    )
    centre = x + 60.0 + radius
    far = centre + radius  # the backboard stands against the cup: what flies over drops in
    ctx.add_floor(label, x, far + 60.0, f, where)
    sides = 16
    ctx.piece(label, "cylinder", centre, 0.0, radius, f, f + wall)
    chord = 2 * radius * math.tan(math.pi / sides) + 1.0
    for k in range(sides):
        angle = 2 * math.pi * k / sides
        rho = radius - wall / 2
        ctx.piece(
            label,
            "yawed",
            (centre + rho * math.cos(angle), rho * math.sin(angle), f + wall + (height - wall) / 2),
            (wall, chord, height - wall),
            math.degrees(angle),
        )
    backboard = height + 200.0
    ctx.piece(label, "box", (far, -radius - 20, f), (far + 12.0, radius + 20, f + backboard))
    ctx.highest = max(ctx.highest, f + backboard)
    half = inner / math.sqrt(2) - 2.0
    reach = _reach(ctx)
    ctx.goal = (
        (centre - half, -half, f + wall),
        (centre + half, half, f + wall + max(height - wall, 2 * reach + 6)),
    )
    ctx.top(x, centre - radius + wall, f + height, where)
    ctx.chute_end = (centre - 0.35 * radius, f + height + 15.0)
    ctx.materials[label] = "plastic"
    return far + 60.0, f


def _reach(ctx: _Context) -> float:
    return math.hypot(ctx.payload_half_w, ctx.payload_half_w, ctx.payload_half_h)


MODULE_BUILDERS = {
    "platform": _platform,
    "step_up": _step_up,
    "step_down": _step_down,
    "ramp": _ramp,
    "stairs": _stairs,
    "gap": _gap,
    "wall": _wall,
    "window_wall": _window_wall,
    "slot_wall": _slot_wall,
    "bump": _bump,
    "post": _post,
    "corridor": _corridor,
    "funnel": _funnel,
    "gate": _barrier,
    "lever": _barrier,
    "slider": _barrier,
    "bin": _bin,
    "cup": _cup,
}
assert set(MODULE_BUILDERS) == set(MODULES)


def _slope_for_start(
    start_height: float, least: float, half_h: float, x_end: float, z_end: float
) -> float:
    """The slope that starts the payload at `start_height` above the start pad."""
    line_at_start = start_height - half_h - DROP - JITTER
    slope = math.degrees(math.atan2(line_at_start - z_end, x_end - START_X))
    if slope < least - 1e-6:
        lowest = z_end + math.tan(math.radians(least)) * (x_end - START_X) + half_h + DROP + JITTER
        raise CourseError(
            "course",
            "start_height",
            f"{start_height:g} mm is too low for a chute that clears the course down to the "
            f"goal; at least {math.ceil(lowest)} mm",
        )
    return slope


def _clearing_slope(tops: list, x_end: float, z_end: float) -> float:
    """The least slope (degrees) at which a line ending at (x_end, z_end) clears every top."""
    need = 0.0
    for x_lo, x_hi, top, _ in tops:
        if x_lo >= x_end - 1.0:
            continue
        run = x_end - min(x_hi, x_end - 1.0)
        rise = top + CLEARANCE + CHUTE * 1.4 - z_end
        need = max(need, math.degrees(math.atan2(rise, run)))
    return need


def _binding_top(tops: list, x_end: float, z_end: float) -> tuple:
    return max(
        (t for t in tops if t[0] < x_end - 1.0),
        key=lambda t: (t[2] + CLEARANCE + CHUTE * 1.4 - z_end) / (x_end - min(t[1], x_end - 1.0)),
    )


def _chute_pieces(ctx: _Context, line: Any, x_top: float, x_end: float, width: float) -> dict:
    """The reference chute: one straight plank along the line per module it crosses (narrower,
    without rails, where it passes a window or a slot)."""
    cuts = sorted({x_top, x_end, *(c for n in ctx.narrows for c in n[:2] if x_top < c < x_end)})
    cuts = sorted({*cuts, *(x for x, _ in ctx.boundaries if x_top < x < x_end)})
    pieces: dict[str, ChutePiece] = {}
    for a, b in itertools.pairwise(cuts):
        narrow = next((n for n in ctx.narrows if n[0] <= a and b <= n[1]), None)
        owner = [name for x, name in ctx.boundaries if x <= (a + b) / 2]
        base = f"chute_{owner[-1] if owner else 'start'}"
        label = base if base not in pieces else f"{base}_{len(pieces)}"
        pieces[label] = ChutePiece(
            start=(a, line(a)),
            end=(b, line(b)),
            width=narrow[2] if narrow else width,
            rails=narrow is None,
        )
    return pieces


def _grounded(piece: Piece, z_base: float) -> Piece:
    """A piece whose `None` heights (the base) are set to the course's base level."""
    if piece.kind == "box":
        lo, hi = piece.data
        return Piece("box", (tuple(z_base if v is None else v for v in lo), hi))
    if piece.kind == "prism":
        outline, y0, y1 = piece.data
        return Piece("prism", ([(px, z_base if pz is None else pz) for px, pz in outline], y0, y1))
    return piece
