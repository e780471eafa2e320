"""Cube down a staircase.

A cube is dropped onto the top landing of a staircase, where it stays. The goal is on the
floor beyond the foot of the stairs, against a backstop. Steps vary in number, rise and run.
"""

import math

from benchgen_dagster.kit import Payload, ScenarioBuild, Zone, draw
from benchgen_dagster.kit.parts import block, budget, plank

SPLIT = "train"
PAYLOAD = (
    "A cube 32 to 52 mm on a side, of plastic, steel or ice, dropped onto the top landing of "
    "the staircase."
)
ZONES = (
    "The goal is the floor beyond the foot of the stairs, against a backstop; there is no "
    "forbid zone. The build zone spans the stairs, from behind the cube to just past where the "
    "line of the step noses meets the floor."
)
SOLUTION = (
    "A smooth plank laid on the noses of the steps, from behind the cube down to the floor, "
    "that the cube slides down."
)
PARAMS = {
    "steps": (3, 5),
    "rise": (45.0, 70.0),
    "run": (70.0, 100.0),
    "landing": (180.0, 260.0),
    "goal_gap": (40.0, 120.0),
    "goal_depth": (200.0, 300.0),
    "cube_half": (16.0, 26.0),
    "start_x": (-20.0, 20.0),
    "scale_y": (0.7, 1.3),
    "material": ["plastic", "steel", "ice"],
}
SURFACE = "plastic"
PLANK = 10.0
JITTER = 3.0


def build(seed: int, params: dict) -> ScenarioBuild:
    p = draw(PARAMS, seed, params)
    half_y = 180.0 * p["scale_y"]
    steps, rise, run = p["steps"], p["rise"], p["run"]
    height = steps * rise
    edge = 0.0  # the nose of the top step
    x_min = edge - p["landing"]
    stairs = {
        f"step_{i}": block(
            (x_min if i == 0 else edge + (i - 1) * run, edge + i * run),
            (-half_y, half_y),
            (0.0, height - i * rise),
        )
        for i in range(steps)
    }
    foot = edge + (steps - 1) * run
    x_goal = foot + p["goal_gap"]
    x_end = x_goal + p["goal_depth"]
    floor = block((x_min, x_end + 20.0), (-half_y, half_y), (-20.0, 0.0))
    backstop = block((x_end, x_end + 20.0), (-half_y, half_y), (0.0, 100.0))

    angle = math.atan2(rise, run)
    lift = PLANK / math.cos(angle) + 0.5  # the plank's top above the line of the noses
    cube = p["cube_half"]
    x_start = edge - 2.2 * cube + p["start_x"]
    x_top = x_start - 1.5 * cube

    def nose_line(x: float) -> float:
        return height - (x - edge) * math.tan(angle)

    x_bottom = edge + height / math.tan(angle)
    slide = plank((x_top, nose_line(x_top) + lift), (x_bottom, lift), 3.2 * cube + 40.0, PLANK)
    top = nose_line(x_top) + lift
    start = (x_start, 0.0, top + cube * math.sqrt(3) + 3 * JITTER + 8.0)
    return ScenarioBuild(
        parts={**stairs, "floor": floor, "backstop": backstop},
        payload=Payload("box", (cube, cube, cube), p["material"], start, JITTER),
        goal_zone=Zone((x_goal, -half_y + 5, 0.0), (x_end, half_y - 5, 120.0)),
        build_zone=Zone((x_top - 40.0, -half_y + 5, 0.0), (x_bottom + 30.0, half_y - 5, top + 5.0)),
        bounds=Zone((x_min - 40, -half_y - 60, -60.0), (x_end + 80, half_y + 60, start[2] + 200)),
        solution={"plank": slide},
        materials={**{name: SURFACE for name in stairs}, "backstop": "wood"},
        solution_material=SURFACE,
        params=p,
        **budget(slide.volume, density=950.0, cost_per_kg=3.0),
    )
