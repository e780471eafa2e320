"""Ball across a gap between two tables.

A ball is dropped onto the first of two tables of the same height, where it stays. The goal
is on the far end of the second table, against a backstop; the floor of the gap between the
tables is forbidden.
"""

import math

from benchgen_dagster.kit import Payload, ScenarioBuild, Zone, attempts
from benchgen_dagster.kit.parts import block, budget, plank, slope_angle

SPLIT = "train"
PAYLOAD = (
    "A ball 14 to 26 mm in radius, of rubber, wood, steel or plastic, dropped 200 to 300 mm "
    "above the first table."
)
ZONES = (
    "The goal is the far end of the second table, against a backstop. A forbid zone covers the "
    "floor of the gap between the tables. The build zone runs from behind the drop point to "
    "just beyond the gap, from the table tops up to below the ball."
)
SOLUTION = (
    "A ramp on the first table that gets the ball rolling, and a flat bridge from the end of "
    "the ramp across the gap."
)
PARAMS = {
    "table_height": (120.0, 240.0),
    "gap_start": (220.0, 340.0),
    "gap": (110.0, 220.0),
    "far_table": (280.0, 400.0),
    "drop_above": (200.0, 300.0),
    "ball_radius": (14.0, 26.0),
    "start_y": (-40.0, 40.0),
    "scale_y": (0.8, 1.5),
    "material": ["rubber", "wood", "steel", "plastic"],
}
BOARD = 10.0
JITTER = 3.0


def build(seed: int, params: dict) -> ScenarioBuild:
    for p in attempts(seed, PARAMS, params):
        height, radius = p["table_height"], p["ball_radius"]
        deck = height + BOARD + 0.5  # the top of the bridge
        top = (-60.0, height + p["drop_above"] - radius - 40.0)
        ramp_end = (p["gap_start"] - 60.0, deck)
        if 15.0 <= slope_angle(top, ramp_end) <= 40.0:
            break
    half_y = 200.0 * p["scale_y"]
    gap_start, gap_end = p["gap_start"], p["gap_start"] + p["gap"]
    x_min, x_end = -240.0, gap_end + p["far_table"]

    floor = block((x_min, x_end + 20.0), (-half_y, half_y), (-20.0, 0.0))
    near_table = block((x_min, gap_start), (-half_y, half_y), (0.0, height))
    far_table = block((gap_end, x_end), (-half_y, half_y), (0.0, height))
    backstop = block((x_end, x_end + 20.0), (-half_y, half_y), (0.0, height + 80.0))
    angle = math.radians(slope_angle(top, ramp_end))
    ramp = plank(
        top,
        (ramp_end[0] + 0.5 * BOARD * math.sin(angle), deck),
        4 * radius + 30,
        BOARD,
        y=p["start_y"],
        rail_height=18.0,
    )
    bridge = block(
        (ramp_end[0] + 5.0, gap_end + 40.0),
        (p["start_y"] - 2 * radius - 15, p["start_y"] + 2 * radius + 15),
        (height + 0.5, deck),
    )
    start = (0.0, p["start_y"], height + p["drop_above"])
    return ScenarioBuild(
        parts={
            "floor": floor,
            "near_table": near_table,
            "far_table": far_table,
            "backstop": backstop,
        },
        payload=Payload("sphere", (radius,), p["material"], start, JITTER),
        goal_zone=Zone((gap_end + 120.0, -half_y + 5, height), (x_end, half_y - 5, height + 120)),
        forbid_zones={
            "gap_floor": Zone((gap_start + 5, -half_y + 5, 0.0), (gap_end - 5, half_y - 5, 40.0))
        },
        build_zone=Zone(
            (-150.0, -half_y + 5, height),
            (gap_end + 60.0, half_y - 5, start[2] - radius - 15.0),
        ),
        bounds=Zone((x_min - 40, -half_y - 60, -60.0), (x_end + 80, half_y + 60, start[2] + 200)),
        solution={"ramp": ramp, "bridge": bridge},
        params=p,
        **budget(ramp.volume + bridge.volume),
    )
