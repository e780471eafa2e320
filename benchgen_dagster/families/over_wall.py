"""Ball over a wall.

A ball is dropped in front of a solid wall that runs across the floor, from side to side. The
goal lies on the floor behind the wall, against a backstop; the floor in front of the wall is
forbidden.
"""

from benchgen_dagster.kit import Payload, ScenarioBuild, Zone, attempts
from benchgen_dagster.kit.parts import block, budget, plank, slope_angle

SPLIT = "train"
PAYLOAD = (
    "A ball 15 to 30 mm in radius, of rubber, wood, steel or plastic, dropped 420 to 560 mm "
    "above the floor in front of the wall."
)
ZONES = (
    "The goal is the floor behind the wall, up to the backstop. A forbid zone covers the floor "
    "in front of the wall. The build zone runs from behind the drop point to just beyond the "
    "wall, from a little below the top of the wall up to below the ball."
)
SOLUTION = (
    "A chute from under the drop point that clears the top of the wall and lets the ball fall "
    "behind it."
)
PARAMS = {
    "wall_x": (220.0, 420.0),
    "wall_height": (120.0, 220.0),
    "wall_thickness": (20.0, 60.0),
    "goal_depth": (220.0, 340.0),
    "drop_height": (420.0, 560.0),
    "ball_radius": (15.0, 30.0),
    "start_x": (-30.0, 30.0),
    "start_y": (-40.0, 40.0),
    "scale_y": (0.7, 1.5),
    "material": ["rubber", "wood", "steel", "plastic"],
}
CHUTE = 10.0
RAIL = 25.0
JITTER = 3.0


def build(seed: int, params: dict) -> ScenarioBuild:
    for p in attempts(seed, PARAMS, params):
        wall_far = p["wall_x"] + p["wall_thickness"]
        top = (p["start_x"] - 60.0, p["drop_height"] - p["ball_radius"] - 40.0)
        end = (wall_far + 30.0, p["wall_height"] + 20.0)
        if slope_angle(top, end) >= 20.0:
            break
    half_y = 200.0 * p["scale_y"]
    x_min, x_end = -250.0, wall_far + p["goal_depth"]

    floor = block((x_min, x_end + 20.0), (-half_y, half_y), (-20.0, 0.0))
    wall = block((p["wall_x"], wall_far), (-half_y, half_y), (0.0, p["wall_height"]))
    backstop = block((x_end, x_end + 20.0), (-half_y, half_y), (0.0, 100.0))
    chute = plank(top, end, 140.0, CHUTE, y=p["start_y"], rail_height=RAIL)
    start = (p["start_x"], p["start_y"], p["drop_height"])
    return ScenarioBuild(
        parts={"floor": floor, "wall": wall, "backstop": backstop},
        payload=Payload("sphere", (p["ball_radius"],), p["material"], start, JITTER),
        goal_zone=Zone((wall_far + 50.0, -half_y + 5, 0.0), (x_end, half_y - 5, 120.0)),
        forbid_zones={
            "front_floor": Zone((90.0, -half_y + 5, 0.0), (p["wall_x"] - 5.0, half_y - 5, 30.0))
        },
        build_zone=Zone(
            (-160.0, -half_y + 5, p["wall_height"] - 40.0),
            (wall_far + 80.0, half_y - 5, p["drop_height"] - p["ball_radius"] - 15.0),
        ),
        bounds=Zone((x_min - 40, -half_y - 60, -60.0), (x_end + 80, half_y + 60, start[2] + 200)),
        solution={"chute": chute},
        params=p,
        **budget(chute.volume),
    )
