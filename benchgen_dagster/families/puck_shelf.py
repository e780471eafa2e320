"""Puck onto a higher shelf.

A flat puck is dropped above the floor, well short of a raised shelf. The goal is the top of
the shelf, which has a lip at its far end; left alone the puck lands on the floor and stays
there.
"""

from benchgen_dagster.kit import Payload, ScenarioBuild, Zone, attempts
from benchgen_dagster.kit.parts import block, budget, plank, slope_angle

SPLIT = "train"
PAYLOAD = (
    "A flat puck, a cylinder 22 to 34 mm in radius and 28 to 44 mm tall, of plastic, steel or "
    "ice, dropped 440 to 560 mm above the floor, well short of the shelf."
)
ZONES = (
    "The goal is the top of the shelf, up to the lip at its far end; there is no forbid zone. "
    "The build zone runs from behind the drop point to just past the shelf's near edge, from "
    "the floor up to below the puck."
)
SOLUTION = (
    "A smooth chute from under the drop point that ends at the shelf's edge, so the puck "
    "slides off it onto the shelf and stops against the lip."
)
PARAMS = {
    "shelf_x": (240.0, 380.0),
    "shelf_height": (120.0, 220.0),
    "shelf_depth": (200.0, 300.0),
    "drop_height": (440.0, 560.0),
    "puck_radius": (22.0, 34.0),
    "puck_half_height": (14.0, 22.0),
    "start_y": (-40.0, 40.0),
    "scale_y": (0.8, 1.5),
    "material": ["plastic", "steel", "ice"],
}
SURFACE = "plastic"
CHUTE = 10.0
FLOOR = 60.0  # thick, so a fast puck cannot tunnel through it
RAIL = 30.0
JITTER = 3.0


def build(seed: int, params: dict) -> ScenarioBuild:
    for p in attempts(seed, PARAMS, params):
        top = (-60.0, p["drop_height"] - p["puck_radius"] - 50.0)
        end = (p["shelf_x"] + 40.0, p["shelf_height"] + CHUTE + 4.0)
        if slope_angle(top, end) >= 30.0:
            break
    half_y = 200.0 * p["scale_y"]
    shelf_x, shelf_top = p["shelf_x"], p["shelf_height"]
    shelf_far = shelf_x + p["shelf_depth"]
    x_min = -250.0

    floor = block((x_min, shelf_far + 40.0), (-half_y, half_y), (-FLOOR, 0.0))
    shelf = block((shelf_x, shelf_far), (-half_y, half_y), (0.0, shelf_top))
    lip = block((shelf_far, shelf_far + 20.0), (-half_y, half_y), (0.0, shelf_top + 60.0))
    chute = plank(top, end, 2 * p["puck_radius"] + 40.0, CHUTE, y=p["start_y"], rail_height=RAIL)
    start = (0.0, p["start_y"], p["drop_height"])
    return ScenarioBuild(
        parts={"floor": floor, "shelf": shelf, "lip": lip},
        payload=Payload(
            "cylinder", (p["puck_radius"], p["puck_half_height"]), p["material"], start, JITTER
        ),
        goal_zone=Zone(
            (shelf_x + 90.0, -half_y + 5, shelf_top), (shelf_far, half_y - 5, shelf_top + 80.0)
        ),
        build_zone=Zone(
            (-160.0, -half_y + 5, 0.0),
            (shelf_x + 80.0, half_y - 5, p["drop_height"] - p["puck_radius"] - 20.0),
        ),
        bounds=Zone(
            (x_min - 40, -half_y - 60, -FLOOR - 40.0),
            (shelf_far + 100, half_y + 60, start[2] + 200),
        ),
        solution={"chute": chute},
        materials={"shelf": SURFACE, "lip": "wood"},
        solution_material=SURFACE,
        params=p,
        **budget(chute.volume, density=950.0, cost_per_kg=3.0),
    )
