"""Building blocks family scripts share: slabs, walls and planks, in millimetres.

Scripts run in the sandbox, where build123d is installed; the orchestrating process never
imports this module. A family's code version covers this file, like the kit's.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

from build123d import Box, Compound, Part, Plane, Polygon, Pos, Rot, extrude

from benchgen_dagster.kit import Actuator, actuator_cost

XZ = tuple[float, float]


def block(x: tuple[float, float], y: tuple[float, float], z: tuple[float, float]) -> Part:
    """An axis-aligned solid spanning the given ranges."""
    size = (x[1] - x[0], y[1] - y[0], z[1] - z[0])
    return Pos((x[0] + x[1]) / 2, (y[0] + y[1]) / 2, (z[0] + z[1]) / 2) * Box(*size)


def slope_angle(start: XZ, end: XZ) -> float:
    """Degrees below the horizontal of the line from start to end (positive going down)."""
    return math.degrees(math.atan2(start[1] - end[1], abs(end[0] - start[0])))


def plank(
    start: XZ,
    end: XZ,
    width: float,
    thickness: float = 10.0,
    y: float = 0.0,
    rail_height: float = 0.0,
) -> Part | Compound:
    """A straight plank whose top surface runs along the line start → end in the x-z plane,
    optionally with side rails (a chute)."""
    dx, dz = end[0] - start[0], end[1] - start[1]
    length = math.hypot(dx, dz)
    tilt = math.atan2(-dz, dx)  # about +y: positive tips the +x end down
    pieces = [Pos(0, 0, -thickness / 2) * Box(length, width, thickness)]
    if rail_height:
        pieces += [
            Pos(0, side * (width / 2 - 3.0), rail_height / 2) * Box(length, 6.0, rail_height)
            for side in (-1, 1)
        ]
    shape = pieces[0] if len(pieces) == 1 else Compound(pieces)
    centre = Pos((start[0] + end[0]) / 2, y, (start[1] + end[1]) / 2)
    return centre * (Rot(0, math.degrees(tilt), 0) * shape)


def budget(
    volume_mm3: float,
    density: float = 600.0,
    cost_per_kg: float = 4.0,
    actuators: Iterable[Actuator] = (),
) -> dict:
    """Cost and weight limits that leave a solver half again the reference solution's material
    (wood by default) and actuators, as `ScenarioBuild` keyword arguments."""
    grams = volume_mm3 * density * 1e-6
    motors = sum(actuator_cost(a.force_limit) for a in actuators)
    return {
        "max_unit_cost": round(1.5 * (grams * 1e-3 * cost_per_kg + motors) + 1.0, 2),
        "max_weight_g": round(1.5 * grams + 50.0, 1),
    }


def open_box(
    x: tuple[float, float], y: tuple[float, float], floor_z: float, height: float, wall: float
) -> Compound:
    """A box without a lid, as five convex slabs (a base and four walls)."""
    slabs = [
        block(x, y, (floor_z, floor_z + wall)),
        block((x[0], x[0] + wall), y, (floor_z, floor_z + height)),
        block((x[1] - wall, x[1]), y, (floor_z, floor_z + height)),
        block((x[0] + wall, x[1] - wall), (y[0], y[0] + wall), (floor_z, floor_z + height)),
        block((x[0] + wall, x[1] - wall), (y[1] - wall, y[1]), (floor_z, floor_z + height)),
    ]
    return Compound(slabs)


def slab_with_hole(
    x: tuple[float, float],
    y: tuple[float, float],
    z: tuple[float, float],
    hole_x: tuple[float, float],
    hole_y: tuple[float, float],
) -> Compound:
    """A horizontal slab with a rectangular hole through it, as four convex slabs."""
    return Compound(
        [
            block((x[0], hole_x[0]), y, z),
            block((hole_x[1], x[1]), y, z),
            block(hole_x, (y[0], hole_y[0]), z),
            block(hole_x, (hole_y[1], y[1]), z),
        ]
    )


def prism(outline_xz: list[XZ], half_y: float) -> Part:
    """A solid of the polygon `outline_xz` (x, z points) extruded across y from -half_y to
    half_y: wedges, slopes and bumps."""
    return extrude(Plane.XZ * Polygon(*outline_xz, align=None), amount=half_y, both=True)
