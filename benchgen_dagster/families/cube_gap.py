"""Cube across a gap.

A cube is dropped onto a sloped platform and slides down it. The slope breaks off at a gap
and carries on beyond it, down to a backstop; the goal is at the bottom, against the
backstop. Without help the cube falls into the gap, whose floor is forbidden.
"""

import math

from build123d import Box, Pos, Rot

from benchgen_dagster.kit import Payload, ScenarioBuild, Zone, draw
from benchgen_dagster.kit.parts import budget, prism

SPLIT = "validation"
PAYLOAD = (
    "A cube 36 to 64 mm on a side, of plastic, steel or ice, dropped onto the top of the upper "
    "slope."
)
ZONES = (
    "The goal is the bottom of the lower slope, against the backstop. A forbid zone covers the "
    "floor of the gap. The build zone runs from the top of the upper slope to just beyond the "
    "gap, up to below the cube."
)
SOLUTION = "A plank laid on the slope from under the cube across the gap."
PARAMS = {
    "slope_deg": (26.0, 34.0),
    "upper_length": (300.0, 450.0),
    "gap": (120.0, 240.0),
    "lower_length": (300.0, 450.0),
    "cube_half": (18.0, 32.0),
    "scale_y": (0.8, 1.5),
    "top_height": (420.0, 560.0),
    "material": ["plastic", "steel", "ice"],
}
SURFACE = "plastic"
PLANK_THICKNESS = 10.0
JITTER = 3.0


def build(seed: int, params: dict) -> ScenarioBuild:
    p = draw(PARAMS, seed, params)
    angle = math.radians(p["slope_deg"])
    half_y = 150.0 * p["scale_y"]

    def on_slope(s: float) -> tuple[float, float]:
        """World (x, z) of the point s millimetres down the slope from the gap's upper edge."""
        return s * math.cos(angle), p["top_height"] - s * math.sin(angle)

    upper = _wedge(on_slope(-p["upper_length"]), on_slope(0.0), half_y)
    lower_end = p["gap"] + p["lower_length"]
    lower = _wedge(on_slope(p["gap"]), on_slope(lower_end), half_y)
    x_end, z_end = on_slope(lower_end)
    backstop = Pos(x_end + 10.0, 0, (z_end + 120.0) / 2) * Box(20.0, 2 * half_y, z_end + 120.0)
    x_left = on_slope(-p["upper_length"])[0]
    floor = Pos((x_left + x_end) / 2 + 10, 0, -10.0) * Box(x_end - x_left + 40, 2 * half_y, 20.0)

    cube = p["cube_half"]
    s_start = -p["upper_length"] + 2.5 * cube
    x_start, z_surface = on_slope(s_start)
    start = (x_start, 0.0, z_surface + cube * math.sqrt(3) + 3 * JITTER + 10.0)
    x_gap_far = on_slope(p["gap"])[0]
    plank = _plank(on_slope, s_start - cube, p["gap"] + 40.0, angle)
    goal_x = x_end - max(4 * cube, 120.0)
    return ScenarioBuild(
        parts={"floor": floor, "upper_slope": upper, "lower_slope": lower, "backstop": backstop},
        payload=Payload("box", (cube, cube, cube), p["material"], start, JITTER),
        goal_zone=Zone((goal_x, -half_y + 5, z_end), (x_end, half_y - 5, z_end + 160.0)),
        forbid_zones={
            "gap_floor": Zone((5.0, -half_y + 5, 0.0), (x_gap_far - 5.0, half_y - 5, 40.0))
        },
        build_zone=Zone(
            (x_left, -half_y, 0.0), (x_gap_far + 60.0, half_y, start[2] - cube - 2 * JITTER)
        ),
        bounds=Zone((x_left - 60, -half_y - 60, -60.0), (x_end + 80, half_y + 60, start[2] + 200)),
        solution={"plank": plank},
        materials={
            "floor": "wood",
            "upper_slope": SURFACE,
            "lower_slope": SURFACE,
            "backstop": "wood",
        },
        solution_material=SURFACE,
        params=p,
        **budget(plank.volume, density=950.0, cost_per_kg=3.0),
    )


def _wedge(high: tuple[float, float], low: tuple[float, float], half_y: float):
    """A block standing on the floor whose top slopes from `high` down to `low` (x, z)."""
    return prism([(high[0], 0.0), (low[0], 0.0), low, high], half_y)


def _plank(on_slope, s_from: float, s_to: float, angle: float):
    """A plank lying on the slope between two distances along it."""
    length = s_to - s_from
    x, z = on_slope((s_from + s_to) / 2)
    lift = PLANK_THICKNESS / 2 + 0.3
    centre = (x + lift * math.sin(angle), 0.0, z + lift * math.cos(angle))
    return Pos(*centre) * Rot(0, math.degrees(angle), 0) * Box(length, 140.0, PLANK_THICKNESS)
