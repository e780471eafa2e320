"""Ball tossed onto a high ledge by a lever.

A ball is dropped onto the floor to the right of a tall ledge; the goal is the top of the
ledge, above the ball's start, up to a wall at its back. Nothing fixed can raise the ball:
the reference solution is a class-1 lever on a fulcrum that a motor snaps over, throwing the
ball from its right end back over the fulcrum onto the ledge.
"""

import math

from build123d import Box, Compound, Pos, Rot

from benchgen_dagster.kit import Actuator, Joint, Payload, ScenarioBuild, Zone, draw
from benchgen_dagster.kit.parts import block, budget, prism

SPLIT = "train"
PAYLOAD = (
    "A ball 16 to 22 mm in radius, of wood, rubber or plastic, dropped 20 mm above the cup at "
    "the lever's right end."
)
ZONES = (
    "The goal is the top of the ledge left of the lever, 140 to 190 mm up, between a low lip "
    "at its front and the wall at its back. The build zone is the space around the fulcrum "
    "that the lever sweeps; there is no forbid zone."
)
SOLUTION = (
    "A lever on a hinge over the fulcrum with a cup at its right end, resting right end down; "
    "a position actuator snaps it 50 degrees over, at its torque limit, and the ball flies off "
    "over the fulcrum onto the ledge as the lever brakes."
)
PARAMS = {
    "arm": (140.0, 170.0),
    "pivot_height": (90.0, 110.0),
    "ledge_height": (140.0, 190.0),
    "ledge_gap": (40.0, 70.0),
    "ledge_depth": (200.0, 260.0),
    "ball_radius": (16.0, 22.0),
    "torque": (1.2, 1.6),
    "start_y": (-20.0, 20.0),
    "scale_y": (0.8, 1.2),
    "material": ["wood", "rubber", "plastic"],
}
FLOOR = 40.0
LEVER = 10.0
DOWN = 20.0  # degrees the lever's right end rests below the horizontal
TURN = 50.0  # degrees the motor turns it, to its stop
JITTER = 2.0


def build(seed: int, params: dict) -> ScenarioBuild:
    p = draw(PARAMS, seed, params)
    half_y = 150.0 * p["scale_y"]
    arm, pivot_z, radius = p["arm"], p["pivot_height"], p["ball_radius"]
    ledge_near = -arm * math.cos(math.radians(DOWN)) - p["ledge_gap"]
    ledge_far = ledge_near - p["ledge_depth"]
    top = p["ledge_height"]
    x_max = arm + 160.0

    floor = block((ledge_far - 40.0, x_max), (-half_y, half_y), (-FLOOR, 0.0))
    ledge = block((ledge_far, ledge_near), (-half_y, half_y), (0.0, top))
    back = block((ledge_far - 20.0, ledge_far), (-half_y, half_y), (0.0, top + 300.0))
    lip = block((ledge_near - 10.0, ledge_near), (-half_y, half_y), (top, top + 15.0))
    fulcrum = prism([(-40.0, 0.0), (40.0, 0.0), (0.0, pivot_z - LEVER - 2.0)], 30.0)
    width = 2 * radius + 30.0
    lever = Pos(0, p["start_y"], pivot_z) * Rot(0, DOWN, 0) * _lever(arm, width, radius)
    motor = Actuator(
        joint="lever",
        kind="position",
        force_limit=p["torque"],
        control_range=(-TURN, 0.0),
        gain=0.2,
    )
    cup = arm - 8.0 - radius
    slope = math.radians(DOWN)
    start = (
        cup * math.cos(slope),
        p["start_y"],
        pivot_z - cup * math.sin(slope) + radius + 20.0,
    )
    return ScenarioBuild(
        parts={"floor": floor, "ledge": ledge, "lip": lip, "back_wall": back, "fulcrum": fulcrum},
        payload=Payload("sphere", (radius,), p["material"], start, JITTER),
        goal_zone=Zone((ledge_far, -half_y + 5, top), (ledge_near - 30.0, half_y - 5, top + 80.0)),
        build_zone=Zone(
            (ledge_near + 5.0, -half_y + 5, 0.0), (x_max - 20.0, half_y - 5, pivot_z + arm + 40.0)
        ),
        bounds=Zone(
            (ledge_far - 80.0, -half_y - 60, -FLOOR - 40.0), (x_max + 40, half_y + 60, 700.0)
        ),
        solution={"lever": lever},
        joints={
            "lever": Joint(
                "hinge",
                (0.0, 1.0, 0.0),
                (0.0, p["start_y"], pivot_z),
                range=(-TURN - 15.0, 1.0),
                damping=0.0002,
            )
        },
        actuators={"snap": motor},
        controls={"snap": [(0.0, 0.0), (0.8, 0.0), (0.82, -TURN)]},
        params=p,
        duration_s=5.0,
        **budget(lever.volume, actuators=[motor]),
    )


def _lever(arm: float, width: float, radius: float) -> Compound:
    """A plank from -arm to +arm along x under the hinge at the origin (its top surface
    through it), with a cup at its right end: an end lip and a ridge."""
    plank = Pos(0, 0, -LEVER / 2) * Box(2 * arm, width, LEVER)
    lip = Pos(arm - 4.0, 0, 12.0) * Box(8.0, width, 24.0)
    ridge = Pos(arm - 8.0 - 2 * radius - 6.0, 0, 4.0) * Box(6.0, width, 8.0)
    return Compound([plank + ridge, lip])  # the ridge is one solid with the plank
