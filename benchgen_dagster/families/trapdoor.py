"""Ball over a trapdoor.

A ball rolls down a ramp onto a walkway and on towards a goal against a wall at its end. A
trapdoor in the walkway is hinged at its far edge with nothing under its near edge: it drops
open at once, and a ball that reaches it falls into the pit beneath.
"""

from benchgen_dagster.kit import Joint, Payload, ScenarioBuild, Zone, draw
from benchgen_dagster.kit.parts import block, budget, open_box, plank, slab_with_hole

SPLIT = "train"
PAYLOAD = (
    "A ball 16 to 24 mm in radius, of steel, rubber or wood, dropped 30 mm above the top of "
    "the ramp."
)
ZONES = (
    "The goal is the end of the walkway, against the wall. A forbid zone covers the floor of "
    "the pit under the trapdoor. The build zone is a low slab of space over the trapdoor and "
    "the walkway on either side of it."
)
SOLUTION = "A thin plank laid flat across the trapdoor's opening, so the ball rolls over it."
PARAMS = {
    "ramp_height": (60.0, 90.0),
    "hole_x": (140.0, 220.0),
    "hole_length": (160.0, 200.0),
    "walkway": (180.0, 240.0),
    "ball_radius": (16.0, 24.0),
    "start_y": (-20.0, 20.0),
    "scale_y": (0.8, 1.2),
    "material": ["steel", "rubber", "wood"],
}
DECK = 20.0
FLAP = 10.0
SIDE = 20.0
PIT = 200.0
JITTER = 3.0


def build(seed: int, params: dict) -> ScenarioBuild:
    p = draw(PARAMS, seed, params)
    half_y = 90.0 * p["scale_y"]
    radius = p["ball_radius"]
    hole_x, hole_far = p["hole_x"], p["hole_x"] + p["hole_length"]
    far = hole_far + p["walkway"]
    x_min = -320.0

    deck = slab_with_hole(
        (x_min, far),
        (-half_y, half_y),
        (-DECK, 0.0),
        (hole_x, hole_far),
        (-half_y + 1.0, half_y - 1.0),
    )
    pit = open_box(
        (hole_x - 10.0, hole_far + 10.0),
        (-half_y - SIDE, half_y + SIDE),
        -DECK - PIT,
        PIT - DECK,
        10.0,
    )
    sides = [
        block((x_min, far + 20.0), y, (-DECK, 60.0))
        for y in ((-half_y - SIDE, -half_y), (half_y, half_y + SIDE))
    ]
    end_wall = block((far, far + 20.0), (-half_y, half_y), (-DECK, 80.0))
    ramp = plank((x_min + 20.0, p["ramp_height"]), (-10.0, 10.0), 2 * half_y - 4.0, 10.0)
    flap = block((hole_x + 3.0, hole_far - 3.0), (-half_y + 4.0, half_y - 4.0), (-FLAP, 0.0))
    bridge = block((hole_x - 30.0, hole_far + 30.0), (-half_y + 4.0, half_y - 4.0), (0.0, 4.0))
    slope = (p["ramp_height"] - 10.0) / (-10.0 - x_min - 20.0)
    start_x = x_min + 60.0
    start = (start_x, p["start_y"], p["ramp_height"] - slope * 40.0 + radius + 30.0)
    return ScenarioBuild(
        parts={
            "deck": deck,
            "pit": pit,
            "side_left": sides[0],
            "side_right": sides[1],
            "end_wall": end_wall,
            "ramp": ramp,
            "trapdoor": flap,
        },
        payload=Payload("sphere", (radius,), p["material"], start, JITTER),
        goal_zone=Zone((far - 90.0, -half_y + 2, 0.0), (far, half_y - 2, 60.0)),
        forbid_zones={
            "pit_floor": Zone(
                (hole_x, -half_y + 12, -DECK - PIT + 10.0),
                (hole_far, half_y - 12, -DECK - PIT + 40.0),
            )
        },
        build_zone=Zone((hole_x - 60.0, -half_y + 2, 0.0), (hole_far + 60.0, half_y - 2, 30.0)),
        bounds=Zone(
            (x_min - 40, -half_y - 60, -DECK - PIT - 40.0), (far + 80, half_y + 60, start[2] + 150)
        ),
        solution={"bridge": bridge},
        joints={
            "trapdoor": Joint(
                "hinge",
                (0.0, 1.0, 0.0),
                (hole_far - 3.0, 0.0, -FLAP),
                range=(-95.0, 2.0),
                damping=0.002,
            )
        },
        materials={"ramp": "plastic", "deck": "wood"},
        params=p,
        duration_s=5.0,
        **budget(bridge.volume),
    )
