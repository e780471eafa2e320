"""Ball down a hole in a table.

A ball is dropped onto a table top, where it stays. The table has a square hole, off to the
side, with a stop plate hanging into its far edge; under the hole a bin stands on the floor,
and the goal is inside the bin. The floor beyond the bin is forbidden.
"""

import math

from benchgen_dagster.kit import Payload, ScenarioBuild, Zone, attempts
from benchgen_dagster.kit.parts import block, budget, open_box, plank, slab_with_hole, slope_angle

SPLIT = "train"
PAYLOAD = (
    "A ball 13 to 22 mm in radius, of rubber, wood or plastic, dropped 190 to 300 mm above the "
    "table top."
)
ZONES = (
    "The goal is the inside of the bin on the floor under the hole in the table. A forbid zone "
    "covers the floor beyond the bin. The build zone is on the table, from behind the drop "
    "point to the near edge of the hole, up to below the ball."
)
SOLUTION = (
    "A ramp on the table from under the drop point towards the hole; the ball rolls across, "
    "hits the stop and drops."
)
PARAMS = {
    "table_height": (160.0, 260.0),
    "hole_x": (300.0, 440.0),
    "hole_y": (-60.0, 60.0),
    "hole": (80.0, 110.0),
    "bin_height": (50.0, 80.0),
    "drop_above": (190.0, 300.0),
    "ball_radius": (13.0, 22.0),
    "start_y": (-10.0, 10.0),
    "scale_y": (0.8, 1.4),
    "material": ["rubber", "wood", "plastic"],
}
TOP = 20.0
RAMP = 10.0
WALL = 10.0
JITTER = 3.0


def build(seed: int, params: dict) -> ScenarioBuild:
    for p in attempts(seed, PARAMS, params):
        height, radius = p["table_height"], p["ball_radius"]
        hole_near = p["hole_x"] - p["hole"] / 2
        top = (-60.0, height + p["drop_above"] - radius - 40.0)
        end = (hole_near - 10.0, height + RAMP / math.cos(math.radians(35.0)) + 1.0)
        if 15.0 <= slope_angle(top, end) <= 35.0 and p["hole"] >= 4 * radius:
            break
    half_y = 220.0 * p["scale_y"]
    hole_x, hole_y, hole = p["hole_x"], p["hole_y"] * p["scale_y"], p["hole"]
    hole_far = hole_x + hole / 2
    x_min, x_max = -240.0, hole_far + 160.0

    hole_y_range = (hole_y - hole / 2, hole_y + hole / 2)
    table = slab_with_hole(
        (x_min, x_max),
        (-half_y, half_y),
        (height - TOP, height),
        (hole_near, hole_far),
        hole_y_range,
    )
    # The stop hangs down into the hole, so a ball crossing fast still drops into the bin.
    stop = block(
        (hole_far - 20.0, hole_far),
        (hole_y_range[0] + 1.0, hole_y_range[1] - 1.0),
        (p["bin_height"] + 15.0, height + 60.0),
    )
    bin_half = hole / 2 + 30.0
    outer = ((hole_x - bin_half, hole_x + bin_half), (hole_y - bin_half, hole_y + bin_half))
    container = open_box(*outer, 0.0, p["bin_height"], WALL)
    floor = block((x_min, x_max), (-half_y, half_y), (-20.0, 0.0))
    ramp = plank(top, end, 4 * radius + 30.0, RAMP, y=hole_y, rail_height=20.0)
    start = (0.0, hole_y + p["start_y"], height + p["drop_above"])
    return ScenarioBuild(
        parts={"floor": floor, "table": table, "stop": stop, "bin": container},
        payload=Payload("sphere", (radius,), p["material"], start, JITTER),
        goal_zone=Zone(
            (outer[0][0] + WALL, outer[1][0] + WALL, 0.0),
            (outer[0][1] - WALL, outer[1][1] - WALL, p["bin_height"]),
        ),
        forbid_zones={
            "floor_beyond_bin": Zone(
                (outer[0][1] + 20, -half_y + 5, 0.0), (x_max - 10, half_y - 5, 30.0)
            )
        },
        build_zone=Zone(
            (-150.0, -half_y + 5, height),
            (hole_near + 5.0, half_y - 5, start[2] - radius - 15.0),
        ),
        bounds=Zone((x_min - 40, -half_y - 60, -60.0), (x_max + 60, half_y + 60, start[2] + 200)),
        solution={"ramp": ramp},
        materials={"bin": "plastic"},
        params=p,
        **budget(ramp.volume),
    )
