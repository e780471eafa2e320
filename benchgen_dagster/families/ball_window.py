"""Ball through a window in a wall.

A ball is dropped in front of a tall wall that stands across the floor. The wall has one
window, raised above the floor and off-centre; the goal lies on the floor behind the wall,
against a backstop. The floor in front of the wall is forbidden. The wall is a single concave
solid, so it is decomposed into convex pieces.
"""

from benchgen_dagster.kit import Payload, ScenarioBuild, Zone, attempts
from benchgen_dagster.kit.parts import block, budget, plank, slope_angle

SPLIT = "train"
PAYLOAD = (
    "A ball 14 to 24 mm in radius, of rubber, wood, steel or plastic, dropped 360 to 500 mm "
    "above the floor in front of the wall, in line with the window."
)
ZONES = (
    "The goal is the floor behind the wall, up to the backstop. A forbid zone covers the floor "
    "in front of the wall. The build zone runs from behind the drop point to just beyond the "
    "wall, from the floor up to below the ball."
)
SOLUTION = (
    "A chute from under the drop point, down through the window, that lets the ball out behind "
    "the wall."
)
PARAMS = {
    "wall_x": (280.0, 480.0),
    "wall_height": (260.0, 360.0),
    "sill": (50.0, 120.0),
    "window_width": (130.0, 200.0),
    "window_height": (90.0, 150.0),
    "window_y": (-80.0, 80.0),
    "goal_depth": (220.0, 320.0),
    "drop_height": (360.0, 500.0),
    "ball_radius": (14.0, 24.0),
    "start_y": (-15.0, 15.0),
    "scale_y": (0.8, 1.4),
    "material": ["rubber", "wood", "steel", "plastic"],
}
WALL = 20.0
CHUTE = 10.0
RAIL = 18.0
JITTER = 3.0


def build(seed: int, params: dict) -> ScenarioBuild:
    for p in attempts(seed, PARAMS, params):
        top = (-60.0, p["drop_height"] - p["ball_radius"] - 40.0)
        end = (p["wall_x"] + WALL + 25.0, p["sill"] + CHUTE + 3.0)
        room = p["window_height"] - CHUTE - RAIL - 6.0
        if slope_angle(top, end) >= 20.0 and room >= 2 * p["ball_radius"] + 10.0:
            break
    half_y = 220.0 * p["scale_y"]
    wall_x, window_y = p["wall_x"], p["window_y"] * p["scale_y"]
    x_min, x_end = -260.0, wall_x + WALL + p["goal_depth"]

    floor = block((x_min, x_end + WALL), (-half_y, half_y), (-20.0, 0.0))
    window = block(
        (wall_x - 1, wall_x + WALL + 1),
        (window_y - p["window_width"] / 2, window_y + p["window_width"] / 2),
        (p["sill"], p["sill"] + p["window_height"]),
    )
    wall = block((wall_x, wall_x + WALL), (-half_y, half_y), (0.0, p["wall_height"])) - window
    backstop = block((x_end, x_end + WALL), (-half_y, half_y), (0.0, 100.0))
    chute = plank(top, end, p["window_width"] - 30.0, CHUTE, y=window_y, rail_height=RAIL)
    start = (0.0, window_y + p["start_y"], p["drop_height"])
    return ScenarioBuild(
        parts={"floor": floor, "wall": wall, "backstop": backstop},
        payload=Payload("sphere", (p["ball_radius"],), p["material"], start, JITTER),
        goal_zone=Zone((wall_x + WALL + 40.0, -half_y + 5, 0.0), (x_end, half_y - 5, 120.0)),
        forbid_zones={
            "front_floor": Zone((80.0, -half_y + 5, 0.0), (wall_x - 10.0, half_y - 5, 30.0))
        },
        build_zone=Zone(
            (-150.0, -half_y + 5, 0.0),
            (wall_x + WALL + 60.0, half_y - 5, p["drop_height"] - p["ball_radius"] - 15.0),
        ),
        bounds=Zone((x_min - 40, -half_y - 60, -60.0), (x_end + 80, half_y + 60, start[2] + 200)),
        solution={"chute": chute},
        params=p,
        **budget(chute.volume),
    )
