"""Ball carried up onto a ledge by a rotating arm.

A ball is dropped onto the floor in front of a ledge whose top is above it; the goal is the
top of the ledge, up to a wall at its back. No fixed part can raise the ball: the reference
solution is an arm hinged at the ledge's edge that scoops it up and tips it over.
"""

import math

from build123d import Box, Compound, Pos, Rot

from benchgen_dagster.kit import Actuator, Joint, Payload, ScenarioBuild, Zone, draw
from benchgen_dagster.kit.parts import block, budget

SPLIT = "test"
PAYLOAD = (
    "A ball 16 to 24 mm in radius, of rubber, wood or steel, dropped 30 mm above the far end "
    "of where the arm lies, in front of the ledge."
)
ZONES = (
    "The goal is the top of the ledge, from 50 mm behind its edge to the wall at its back, "
    "100 to 170 mm above the floor. The build zone is the space in front of the ledge that the "
    "arm sweeps; there is no forbid zone."
)
SOLUTION = (
    "An arm: a chute with a lip at its far end, hinged on a horizontal axis at the ledge's "
    "edge and lying down to the floor; a position actuator turns it up past the horizontal, "
    "so the ball rolls back along it onto the ledge."
)
PARAMS = {
    "ledge_x": (200.0, 280.0),
    "ledge_height": (100.0, 170.0),
    "ledge_depth": (180.0, 260.0),
    "arm_length": (250.0, 320.0),
    "ball_radius": (16.0, 24.0),
    "start_y": (-30.0, 30.0),
    "scale_y": (0.8, 1.4),
    "turn_seconds": (1.2, 2.0),
    "material": ["rubber", "wood", "steel"],
}
FLOOR = 60.0
ARM = 10.0
RAIL = 22.0
LIP = 30.0
GAP = 8.0  # between the hinge and the ledge's face
FINAL_SLOPE = 14.0  # degrees the arm slopes down towards the ledge at the end
JITTER = 3.0


def build(seed: int, params: dict) -> ScenarioBuild:
    p = draw(PARAMS, seed, params)
    half_y = 200.0 * p["scale_y"]
    ledge_x, top, radius = p["ledge_x"], p["ledge_height"], p["ball_radius"]
    ledge_far = ledge_x + p["ledge_depth"]
    length = p["arm_length"]
    x_min = ledge_x - length - 120.0

    floor = block((x_min, ledge_far + 40.0), (-half_y, half_y), (-FLOOR, 0.0))
    ledge = block((ledge_x, ledge_far), (-half_y, half_y), (0.0, top))
    back = block((ledge_far, ledge_far + 20.0), (-half_y, half_y), (0.0, top + 80.0))

    hinge = (ledge_x - GAP, p["start_y"], top)
    down = math.degrees(math.asin((top - 18.0) / length))  # the far end's top 18 mm up
    width = 2 * radius + 30.0
    arm = Pos(*hinge) * Rot(0, -down, 0) * _arm(length, width)
    turn = down + FINAL_SLOPE
    mover = Actuator(
        joint="arm", kind="position", force_limit=6.0, control_range=(0.0, turn + 10.0), gain=1.5
    )
    along = length - 8.0 - radius - 40.0  # the ball lands this far from the hinge
    slope = math.radians(down)
    start = (
        hinge[0] - along * math.cos(slope),
        p["start_y"],
        top - along * math.sin(slope) + radius + 30.0,
    )
    reach = length * math.sin(math.radians(FINAL_SLOPE))
    return ScenarioBuild(
        parts={"floor": floor, "ledge": ledge, "back_wall": back},
        payload=Payload("sphere", (radius,), p["material"], start, JITTER),
        goal_zone=Zone((ledge_x + 50.0, -half_y + 5, top), (ledge_far, half_y - 5, top + 70.0)),
        build_zone=Zone(
            (hinge[0] - length - 20.0, -half_y + 5, 0.0),
            (ledge_x - 1.0, half_y - 5, top + reach + RAIL + 40.0),
        ),
        bounds=Zone(
            (x_min - 40, -half_y - 60, -FLOOR - 40.0),
            (ledge_far + 100, half_y + 60, top + length + 200),
        ),
        solution={"arm": arm},
        joints={"arm": Joint("hinge", (0.0, 1.0, 0.0), hinge, range=(-3.0, turn + 10.0))},
        actuators={"turn": mover},
        controls={"turn": [(0.0, 0.0), (0.6, 0.0), (0.6 + p["turn_seconds"], turn)]},
        params=p,
        duration_s=6.0,
        **budget(arm.volume, actuators=[mover]),
    )


def _arm(length: float, width: float) -> Compound:
    """A chute along -x from the hinge at the origin (its top surface through it), with a lip
    across its far end."""
    plank = Pos(-length / 2, 0, -ARM / 2) * Box(length, width, ARM)
    rails = [
        Pos(-length / 2, side * (width / 2 - 3.0), RAIL / 2) * Box(length, 6.0, RAIL)
        for side in (-1, 1)
    ]
    lip = Pos(-length + 4.0, 0, LIP / 2) * Box(8.0, width - 12.0, LIP)
    return Compound([plank, *rails, lip])
