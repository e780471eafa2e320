"""Ball to a goal about a metre sideways.

A ball is dropped above a long floor and lands where it falls. The goal lies a metre or so
along the floor, against a backstop. A forbid zone behind the drop point rules out sending the
ball the wrong way.
"""

import math

from build123d import Box, Pos, Rot

from benchgen_dagster.kit import Payload, ScenarioBuild, Zone, draw
from benchgen_dagster.kit.parts import budget

SPLIT = "train"
PAYLOAD = (
    "A ball 18 to 35 mm in radius, of rubber, wood, steel or plastic, dropped 250 to 420 mm "
    "above a long floor between side rails."
)
ZONES = (
    "The goal is the floor 800 to 1200 mm along from the drop point, 200 to 300 mm deep, "
    "against a backstop. A forbid zone covers the floor behind the drop point. The build zone "
    "runs from just behind the drop point to short of the goal, below the ball."
)
SOLUTION = "A ramp under the drop point that turns the fall into a roll towards the goal."
PARAMS = {
    "goal_distance": (800.0, 1200.0),
    "goal_width": (200.0, 300.0),
    "drop_height": (250.0, 420.0),
    "ball_radius": (18.0, 35.0),
    "start_x": (-40.0, 40.0),
    "start_y": (-40.0, 40.0),
    "scale_y": (0.8, 1.6),
    "material": ["rubber", "wood", "steel", "plastic"],
}
FLOOR_THICKNESS = 20.0
RAIL_HEIGHT = 60.0
RAMP_THICKNESS = 10.0
JITTER = 4.0


def build(seed: int, params: dict) -> ScenarioBuild:
    p = draw(PARAMS, seed, params)
    half_y = 250.0 * p["scale_y"]
    goal_near = p["goal_distance"] - p["goal_width"] / 2
    goal_far = p["goal_distance"] + p["goal_width"] / 2
    x_min, x_max = -300.0, goal_far + 20.0
    length = x_max - x_min

    floor = Pos(x_min + length / 2, 0, -FLOOR_THICKNESS / 2) * Box(
        length, 2 * half_y, FLOOR_THICKNESS
    )
    backstop = Pos(goal_far + 10.0, 0, 50.0) * Box(20.0, 2 * half_y, 100.0)
    rails = [
        Pos(x_min + length / 2, side * (half_y + 10.0), RAIL_HEIGHT / 2)
        * Box(length, 20.0, RAIL_HEIGHT)
        for side in (-1, 1)
    ]

    start = (p["start_x"], p["start_y"], p["drop_height"])
    build_zone = Zone(
        (-140.0, -half_y + 5, 0.0),
        (goal_near - 20.0, half_y - 5, p["drop_height"] - p["ball_radius"] - 20.0),
    )
    ramp = _ramp(start, p["ball_radius"], build_zone)
    return ScenarioBuild(
        parts={"floor": floor, "backstop": backstop, "rail_left": rails[0], "rail_right": rails[1]},
        payload=Payload("sphere", (p["ball_radius"],), p["material"], start, JITTER),
        goal_zone=Zone((goal_near, -half_y + 5, 0.0), (goal_far, half_y - 5, 150.0)),
        forbid_zones={"behind": Zone((x_min + 10, -half_y + 5, 0.0), (-170.0, half_y - 5, 100.0))},
        build_zone=build_zone,
        bounds=Zone(
            (x_min - 30, -half_y - 60, -60.0), (x_max + 60, half_y + 60, p["drop_height"] + 200)
        ),
        solution={"ramp": ramp},
        params=p,
        **budget(ramp.volume),
    )


def _ramp(start, radius, build_zone):
    """A plank sloping down in +x from just under the ball to the floor."""
    x_top = start[0] - 60.0
    z_top = start[2] - radius - 40.0
    run = max(build_zone.max[0] - 10.0 - x_top, 1.0)
    angle = max(math.radians(30.0), math.atan2(z_top, run))
    run = z_top / math.tan(angle)
    lift = RAMP_THICKNESS * math.cos(angle) + 0.5  # keeps the low corner clear of the floor
    centre_x = x_top + run / 2 + RAMP_THICKNESS / 2 * math.sin(angle)
    centre_z = z_top / 2 - RAMP_THICKNESS / 2 * math.cos(angle) + lift
    plank = Box(math.hypot(run, z_top), 160.0, RAMP_THICKNESS)
    return Pos(centre_x, start[1], centre_z) * Rot(0, math.degrees(angle), 0) * plank
