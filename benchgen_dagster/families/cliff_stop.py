"""Ball stopped before a cliff.

A ball is dropped onto a slope that runs down into a flat runout ending at a cliff edge. Left
alone the ball rolls down, across the runout and over the edge into the pit below, whose floor
is forbidden. The goal is the end of the runout, just before the edge.
"""

from benchgen_dagster.kit import Payload, ScenarioBuild, Zone, draw
from benchgen_dagster.kit.parts import block, budget, prism

SPLIT = "validation"
PAYLOAD = (
    "A ball 15 to 28 mm in radius, of rubber, wood, plastic or steel, dropped 30 to 80 mm "
    "above the upper part of the slope."
)
ZONES = (
    "The goal is the end of the runout, just before the cliff edge. A forbid zone covers the "
    "floor of the pit below the edge. The build zone covers the runout, from the foot of the "
    "slope to the edge."
)
SOLUTION = "A stop wall standing on the runout at the edge of the cliff."
PARAMS = {
    "slope_height": (120.0, 240.0),
    "slope_length": (260.0, 420.0),
    "runout": (600.0, 900.0),
    "goal_depth": (120.0, 160.0),
    "pit_depth": (120.0, 220.0),
    "pit_width": (200.0, 320.0),
    "ball_radius": (15.0, 28.0),
    "drop_above": (30.0, 80.0),
    "start_y": (-40.0, 40.0),
    "scale_y": (0.8, 1.5),
    "material": ["rubber", "wood", "plastic", "steel"],
}
STOP = 20.0
JITTER = 3.0


def build(seed: int, params: dict) -> ScenarioBuild:
    p = draw(PARAMS, seed, params)
    radius, half_y = p["ball_radius"], 180.0 * p["scale_y"]
    rise, run = p["slope_height"], p["slope_length"]
    x_min = -120.0
    edge = run + p["runout"]  # the cliff edge, on the runout's far end
    pit_floor = -p["pit_depth"]
    x_end = edge + p["pit_width"]

    ground = block((x_min, edge), (-half_y, half_y), (-20.0, 0.0))
    slope = prism([(x_min, 0.0), (run, 0.0), (0.0, rise), (x_min, rise)], half_y)
    pit = block((edge, x_end), (-half_y, half_y), (pit_floor - 20.0, pit_floor))
    cliff = block((edge - 20.0, edge), (-half_y, half_y), (pit_floor - 20.0, -20.0))
    far_wall = block((x_end, x_end + 20.0), (-half_y, half_y), (pit_floor - 20.0, 80.0))

    x_start = 0.25 * run
    surface = rise * (1 - x_start / run)
    start = (x_start, p["start_y"], surface + radius + p["drop_above"])
    stop = block((edge - STOP, edge), (-half_y + 2, half_y - 2), (0.5, 3.5 * radius + 20.0))
    return ScenarioBuild(
        parts={"ground": ground, "slope": slope, "cliff": cliff, "pit": pit, "far_wall": far_wall},
        payload=Payload("sphere", (radius,), p["material"], start, JITTER),
        goal_zone=Zone(
            (edge - STOP - p["goal_depth"], -half_y + 5, 0.0), (edge - STOP, half_y - 5, 120.0)
        ),
        forbid_zones={
            "pit_floor": Zone(
                (edge + 5, -half_y + 5, pit_floor), (x_end - 5, half_y - 5, pit_floor + 40.0)
            )
        },
        build_zone=Zone((run, -half_y + 2, 0.0), (edge + 5.0, half_y - 2, 200.0)),
        bounds=Zone(
            (x_min - 40, -half_y - 60, pit_floor - 60), (x_end + 80, half_y + 60, start[2] + 200)
        ),
        solution={"stop": stop},
        params=p,
        **budget(stop.volume),
    )
