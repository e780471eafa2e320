"""Cube pushed through a slot in the floor by a piston.

A cube is set down on a floor a little way short of a slot across it; the goal is a pit
under the slot. The cube barely falls when released, so nothing placed around it gives it
the speed to get there: the reference solution pushes it with a piston.
"""

from benchgen_dagster.kit import Actuator, Joint, Payload, ScenarioBuild, Zone, draw
from benchgen_dagster.kit.parts import block, budget, open_box, slab_with_hole

SPLIT = "validation"
PAYLOAD = (
    "A cube 36 to 52 mm across, of wood, plastic or steel, set down 8 mm above the floor, 60 "
    "to 130 mm short of the slot."
)
ZONES = (
    "The goal is the inside of the pit under the slot. The build zone is the floor behind the "
    "cube, up to 1 mm short of the slot, from the floor to twice the cube's height; there is "
    "no forbid zone."
)
SOLUTION = (
    "A piston: a block behind the cube on a horizontal slide, driven by a position actuator "
    "until its face reaches the slot's edge, so the cube tips into the pit."
)
PARAMS = {
    "slot_x": (220.0, 320.0),
    "slot_width": (100.0, 140.0),
    "pit_depth": (100.0, 150.0),
    "cube_half": (18.0, 26.0),
    "distance": (60.0, 130.0),
    "start_y": (-40.0, 40.0),
    "scale_y": (0.8, 1.4),
    "push_seconds": (1.0, 1.8),
    "material": ["wood", "plastic", "steel"],
}
FLOOR = 20.0
WALL = 10.0
HEAD = 40.0  # the piston's length along its stroke
CLEARANCE = 3.0  # between the piston and the floor
JITTER = 3.0


def build(seed: int, params: dict) -> ScenarioBuild:
    p = draw(PARAMS, seed, params)
    half_y = 200.0 * p["scale_y"]
    half, slot_x = p["cube_half"], p["slot_x"]
    slot_far = slot_x + max(p["slot_width"], 3.5 * half + 5.0)
    slot_y = (-half_y + 40.0, half_y - 40.0)
    x_min, x_max = -200.0, slot_far + 160.0
    depth = p["pit_depth"]

    floor = slab_with_hole(
        (x_min, x_max), (-half_y, half_y), (-FLOOR, 0.0), (slot_x, slot_far), slot_y
    )
    pit = open_box(
        (slot_x - WALL, slot_far + WALL),
        (slot_y[0] - WALL, slot_y[1] + WALL),
        -FLOOR - depth - WALL,
        depth + WALL,
        WALL,
    )
    cube_x = slot_x - p["distance"] - half
    face = cube_x - half - 12.0  # the piston's face at the start
    width = 2 * half + 30.0
    head = block(
        (face - HEAD, face),
        (p["start_y"] - width / 2, p["start_y"] + width / 2),
        (CLEARANCE, 2 * half - 4.0),
    )
    stroke = slot_x - 6.0 - face
    pusher = Actuator(
        joint="piston",
        kind="position",
        force_limit=40.0,
        control_range=(0.0, stroke + 10.0),
        gain=2.0,
    )
    start = (cube_x, p["start_y"], half + 8.0)
    return ScenarioBuild(
        parts={"floor": floor, "pit": pit},
        payload=Payload("box", (half, half, half), p["material"], start, JITTER),
        goal_zone=Zone((slot_x, slot_y[0], -FLOOR - depth), (slot_far, slot_y[1], -FLOOR)),
        build_zone=Zone(
            (face - HEAD - 60.0, -half_y + 5, 0.0), (slot_x - 1.0, half_y - 5, 4 * half)
        ),
        bounds=Zone(
            (x_min - 40, -half_y - 60, -FLOOR - depth - 60.0), (x_max + 40, half_y + 60, 300.0)
        ),
        solution={"piston": head},
        joints={
            "piston": Joint(
                "slide",
                (1.0, 0.0, 0.0),
                (face - HEAD / 2, p["start_y"], half),
                range=(0.0, stroke + 10.0),
            )
        },
        actuators={"push": pusher},
        controls={"push": [(0.0, 0.0), (0.4, 0.0), (0.4 + p["push_seconds"], stroke)]},
        materials={"pit": "plastic"},
        params=p,
        duration_s=5.0,
        **budget(head.volume, actuators=[pusher]),
    )
