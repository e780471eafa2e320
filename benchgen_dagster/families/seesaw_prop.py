"""Ball across a seesaw that tips the wrong way.

A seesaw rests on its longer, heavier right arm. A ball dropped onto its left arm tips it
over to the left, and rolls off that way, away from a bin beyond the right end, which is the
goal. A prop under the left arm keeps the seesaw where it is, so the ball rolls down it to
the right and into the bin.
"""

import math

from build123d import Box, Pos, Rot

from benchgen_dagster.kit import Joint, Payload, ScenarioBuild, Zone, draw
from benchgen_dagster.kit.parts import block, budget, open_box, prism

SPLIT = "test"
PAYLOAD = (
    "A steel ball 18 to 26 mm in radius, dropped 30 mm above the seesaw's left arm, 65 to 85% "
    "of the way to its end."
)
ZONES = (
    "The goal is the inside of the bin beyond the seesaw's right end. A forbid zone covers the "
    "floor left of the seesaw. The build zone is the space under the seesaw's left arm."
)
SOLUTION = (
    "A prop under the left arm, its top sloped to meet the seesaw's underside, so the seesaw "
    "cannot tip and the ball rolls down it to the right, over the bin's near wall."
)
PARAMS = {
    "length": (380.0, 460.0),
    "offset": (30.0, 50.0),
    "pivot_height": (90.0, 120.0),
    "tilt": (4.0, 6.0),
    "ball_place": (0.7, 0.9),
    "ball_radius": (18.0, 26.0),
    "bin_length": (200.0, 260.0),
    "start_y": (-30.0, 30.0),
    "scale_y": (0.8, 1.3),
    "material": ["steel"],
}
FLOOR = 40.0
PLANK = 12.0
WALL = 10.0
JITTER = 3.0


def build(seed: int, params: dict) -> ScenarioBuild:
    p = draw(PARAMS, seed, params)
    half_y = 200.0 * p["scale_y"]
    left = p["length"] / 2 - p["offset"]
    right = p["length"] / 2 + p["offset"]
    pivot_z, tilt = p["pivot_height"], p["tilt"]
    slope = math.tan(math.radians(tilt))
    radius = p["ball_radius"]
    width = 2 * radius + 60.0

    def underside(x: float) -> float:  # the seesaw's underside at x, as built
        return pivot_z - x * slope

    right_x = right * math.cos(math.radians(tilt))
    left_x = -left * math.cos(math.radians(tilt))
    bin_near = right_x + 10.0
    bin_far = bin_near + p["bin_length"]
    x_min, x_max = left_x - 260.0, bin_far + 60.0

    floor = block((x_min, x_max), (-half_y, half_y), (-FLOOR, 0.0))
    fulcrum = prism([(-45.0, 0.0), (45.0, 0.0), (0.0, pivot_z - 1.0)], width / 2)
    rest_x = right_x - 40.0
    rest = block(
        (rest_x - 15.0, rest_x + 15.0),
        (-width / 2, width / 2),
        (0.0, underside(rest_x + 15.0) - 1.0),
    )
    bin_ = open_box((bin_near, bin_far), (-width / 2 - 20.0, width / 2 + 20.0), 0.0, 40.0, WALL)
    board = block((bin_far - WALL, bin_far), (-width / 2 - 20.0, width / 2 + 20.0), (40.0, 200.0))
    plank = (
        Pos(0, 0, pivot_z)
        * Rot(0, tilt, 0)
        * Pos((right - left) / 2, 0, PLANK / 2)
        * Box(p["length"], width, PLANK)
    )
    prop_x = (left_x + 12.0, left_x + 42.0)
    prop = prism(
        [
            (prop_x[0], 0.0),
            (prop_x[1], 0.0),
            (prop_x[1], underside(prop_x[1]) - 0.5),
            (prop_x[0], underside(prop_x[0]) - 0.5),
        ],
        width / 2 - 10.0,
    )
    along = p["ball_place"] * left
    start_x = -along * math.cos(math.radians(tilt))
    start = (
        start_x,
        p["start_y"],
        underside(start_x) + PLANK / math.cos(math.radians(tilt)) + radius + 30.0,
    )
    return ScenarioBuild(
        parts={
            "floor": floor,
            "fulcrum": fulcrum,
            "rest": rest,
            "bin": bin_,
            "backboard": board,
            "seesaw": plank,
        },
        payload=Payload("sphere", (radius,), p["material"], start, JITTER),
        goal_zone=Zone(
            (bin_near + WALL, -width / 2 - 10.0, 0.0), (bin_far - WALL, width / 2 + 10.0, 60.0)
        ),
        forbid_zones={
            "left_floor": Zone((x_min + 10.0, -half_y + 5, 0.0), (left_x - 30.0, half_y - 5, 20.0))
        },
        build_zone=Zone(
            (left_x - 20.0, -half_y + 5, 0.0), (-50.0, half_y - 5, underside(prop_x[0]))
        ),
        bounds=Zone(
            (x_min - 40, -half_y - 60, -FLOOR - 40.0), (x_max + 40, half_y + 60, start[2] + 200)
        ),
        solution={"prop": prop},
        joints={
            "seesaw": Joint(
                "hinge", (0.0, 1.0, 0.0), (0.0, 0.0, pivot_z), range=(-60.0, 5.0), damping=0.01
            )
        },
        materials={"bin": "plastic", "backboard": "plastic", "fulcrum": "steel"},
        params=p,
        duration_s=5.0,
        **budget(prop.volume),
    )
