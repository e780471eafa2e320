"""Ball around the end of a wall.

A ball is dropped above a floor between side rails. A wall stands across the floor ahead of
it, leaving an opening at one side only; the goal lies behind the wall, against a backstop.
The floor in front of the wall is forbidden.
"""

import math

from build123d import Rot

from benchgen_dagster.kit import Payload, ScenarioBuild, Zone, draw
from benchgen_dagster.kit.parts import block, budget, plank

SPLIT = "test"
PAYLOAD = (
    "A ball 15 to 26 mm in radius, of rubber, wood or plastic, dropped 280 to 380 mm above a "
    "floor between side rails."
)
ZONES = (
    "The goal is the floor behind the wall, up to the backstop. A forbid zone covers the floor "
    "just in front of the closed part of the wall, clear of the opening. The build zone runs "
    "from behind the drop point to just short of the wall, below the ball."
)
SOLUTION = (
    "A ramp under the drop point turned towards the opening, so the ball rolls diagonally "
    "through it."
)
PARAMS = {
    "wall_x": (420.0, 560.0),
    "opening": (150.0, 220.0),
    "side": [-1, 1],
    "goal_depth": (260.0, 360.0),
    "drop_height": (280.0, 380.0),
    "ball_radius": (15.0, 26.0),
    "scale_y": (1.0, 1.5),
    "material": ["rubber", "wood", "plastic"],
}
RAMP = 10.0
JITTER = 3.0


def build(seed: int, params: dict) -> ScenarioBuild:
    p = draw(PARAMS, seed, params)
    radius, half_y, side = p["ball_radius"], 250.0 * p["scale_y"], p["side"]
    wall_x = p["wall_x"]
    x_min, x_end = -260.0, wall_x + 20.0 + p["goal_depth"]
    opening_y = side * (half_y - p["opening"] / 2)
    closed = (-half_y, half_y - p["opening"]) if side > 0 else (-half_y + p["opening"], half_y)

    # The forbidden floor keeps clear of the opening by a ball's width and more.
    margin = 4 * radius + 40.0
    away = (closed[0] + 5, closed[1] - margin) if side > 0 else (closed[0] + margin, closed[1] - 5)
    floor = block((x_min, x_end + 20.0), (-half_y - 20, half_y + 20), (-20.0, 0.0))
    rails = {
        name: block((x_min, x_end), (y, y + 20.0), (0.0, 80.0))
        for name, y in (("rail_left", -half_y - 20.0), ("rail_right", half_y))
    }
    wall = block((wall_x, wall_x + 20.0), closed, (0.0, 160.0))
    backstop = block((x_end, x_end + 20.0), (-half_y - 20, half_y + 20), (0.0, 100.0))

    heading = math.atan2(opening_y, wall_x + 60.0)  # aim a little beyond the opening
    start = (0.0, 0.0, p["drop_height"])
    back = 60.0
    top = (-back, p["drop_height"] - radius - 40.0)
    reach = top[1] / math.tan(math.radians(40.0))
    ramp = plank(top, (top[0] + reach, RAMP * 1.3 + 0.5), 4 * radius + 40.0, RAMP, rail_height=18.0)
    # Turn the ramp about the drop point, so the ball still lands on its centre line.
    ramp = Rot(0, 0, math.degrees(heading)) * ramp
    return ScenarioBuild(
        parts={"floor": floor, **rails, "wall": wall, "backstop": backstop},
        payload=Payload("sphere", (radius,), p["material"], start, JITTER),
        goal_zone=Zone((wall_x + 60.0, -half_y + 5, 0.0), (x_end, half_y - 5, 120.0)),
        forbid_zones={
            "front_floor": Zone((wall_x - 120.0, away[0], 0.0), (wall_x - 10.0, away[1], 30.0))
        },
        build_zone=Zone(
            (-180.0, -half_y + 5, 0.0), (wall_x - 20.0, half_y - 5, start[2] - radius - 15.0)
        ),
        bounds=Zone((x_min - 40, -half_y - 80, -60.0), (x_end + 80, half_y + 80, start[2] + 200)),
        solution={"ramp": ramp},
        params=p,
        **budget(ramp.volume),
    )
