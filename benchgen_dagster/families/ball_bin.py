"""Ball into a bin, lower down and to the side.

A ball is dropped above an upper floor that ends in a step down. A bin with a backboard stands
on the lower floor beyond the step; the goal is its inside. A forbid zone covers the lower
floor in front of the bin. Draws whose chute would not clear the step are redrawn.
"""

import math

from build123d import Box, Compound, Pos, Rot

from benchgen_dagster.kit import Payload, ScenarioBuild, Zone, attempts
from benchgen_dagster.kit.parts import budget

SPLIT = "test"
PAYLOAD = (
    "A ball 15 to 28 mm in radius, of rubber, wood or steel, dropped 330 to 480 mm above the "
    "upper floor."
)
ZONES = (
    "The goal is the inside of the bin, on the lower floor beyond the step. A forbid zone "
    "covers the lower floor between the step and the bin. The build zone runs from behind the "
    "drop point to the bin's backboard, from just above the bin's walls up to below the ball."
)
SOLUTION = "A chute from under the drop point, over the step, ending above the bin."
PARAMS = {
    "step_x": (220.0, 360.0),
    "step_depth": (120.0, 260.0),
    "bin_offset": (180.0, 320.0),
    "bin_width": (170.0, 240.0),
    "wall_height": (60.0, 90.0),
    "drop_height": (330.0, 480.0),
    "ball_radius": (15.0, 28.0),
    "scale_y": (0.8, 1.5),
    "material": ["rubber", "wood", "steel"],
}
WALL = 10.0
CHUTE_THICKNESS = 8.0
JITTER = 4.0


def build(seed: int, params: dict) -> ScenarioBuild:
    for p in attempts(seed, PARAMS, params):
        chute = _chute(p)
        if chute is not None:
            break
    half_y = 200.0 * p["scale_y"]
    step_x, depth = p["step_x"], p["step_depth"]
    bin_near = step_x + p["bin_offset"] - p["bin_width"] / 2
    bin_far = bin_near + p["bin_width"]
    x_min, x_max = -250.0, bin_far + 120.0

    upper = Pos((x_min + step_x) / 2, 0, -10.0) * Box(step_x - x_min, 2 * half_y, 20.0)
    lower = Pos((step_x + x_max) / 2, 0, -depth - 10.0) * Box(x_max - step_x, 2 * half_y, 20.0)
    riser = Pos(step_x - 10.0, 0, -depth / 2 - 10.0) * Box(20.0, 2 * half_y, depth - 20.0)
    container = _bin(bin_near, bin_far, -depth, p["wall_height"])
    start = (0.0, 0.0, p["drop_height"])
    return ScenarioBuild(
        parts={"upper_floor": upper, "riser": riser, "lower_floor": lower, "bin": container},
        payload=Payload("sphere", (p["ball_radius"],), p["material"], start, JITTER),
        goal_zone=Zone(
            (bin_near + WALL, -70.0, -depth), (bin_far - WALL, 70.0, -depth + p["wall_height"])
        ),
        forbid_zones={
            "lower_floor": Zone(
                (step_x + 5, -half_y + 5, -depth), (bin_near - 15, half_y - 5, -depth + 30)
            )
        },
        build_zone=Zone(
            (-120.0, -half_y + 5, -depth + p["wall_height"] + 5),
            (bin_far - WALL - 5, half_y - 5, p["drop_height"] - p["ball_radius"] - 15),
        ),
        bounds=Zone(
            (x_min - 40, -half_y - 60, -depth - 60),
            (x_max + 40, half_y + 60, p["drop_height"] + 200),
        ),
        solution={"chute": chute},
        materials={"bin": "plastic"},
        params=p,
        **budget(chute.volume),
    )


def _bin(near: float, far: float, floor_z: float, wall_height: float):
    """A bin of five boxes (each convex), with a tall backboard on the far side."""
    width, centre = far - near, (near + far) / 2
    base = Pos(centre, 0, floor_z + WALL / 2) * Box(width, 160.0, WALL)
    near_wall = Pos(near + WALL / 2, 0, floor_z + wall_height / 2) * Box(WALL, 160.0, wall_height)
    backboard_height = wall_height + 200.0
    backboard = Pos(far - WALL / 2, 0, floor_z + backboard_height / 2) * Box(
        WALL, 160.0, backboard_height
    )
    sides = [
        Pos(centre, side * 75.0, floor_z + wall_height / 2)
        * Box(width - 2 * WALL, WALL, wall_height)
        for side in (-1, 1)
    ]
    return Compound([base, near_wall, backboard, *sides])


def _chute(p: dict):
    """A straight chute from under the ball to above the bin, or None when it would not
    clear the edge of the step."""
    x_top, z_top = -50.0, p["drop_height"] - p["ball_radius"] - 60.0
    bin_near = p["step_x"] + p["bin_offset"] - p["bin_width"] / 2
    x_end = bin_near + 0.35 * p["bin_width"]
    z_end = -p["step_depth"] + p["wall_height"] + 15.0
    slope = (z_top - z_end) / (x_end - x_top)
    underside_at_step = (
        z_top - slope * (p["step_x"] + 10.0 - x_top) - CHUTE_THICKNESS / math.cos(math.atan(slope))
    )
    if underside_at_step < 2.0 or math.degrees(math.atan(slope)) < 18.0:
        return None
    angle = math.atan(slope)
    length = math.hypot(x_end - x_top, z_top - z_end)
    centre = (
        (x_top + x_end) / 2 + CHUTE_THICKNESS / 2 * math.sin(angle),
        0.0,
        (z_top + z_end) / 2 - CHUTE_THICKNESS / 2 * math.cos(angle),
    )
    plank = Box(length, 110.0, CHUTE_THICKNESS)
    rails = [Pos(0, side * 50.0, 20.0) * Box(length, 6.0, 32.0) for side in (-1, 1)]
    return Pos(*centre) * Rot(0, math.degrees(angle), 0) * Compound([plank, *rails])
