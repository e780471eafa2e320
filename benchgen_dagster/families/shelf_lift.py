"""Ball lifted onto a shelf above its start.

A ball is dropped onto the floor in front of a shelf whose top is well above it; the goal is
the top of the shelf, up to a wall at its back. Nothing in the world can raise the ball, so no
arrangement of fixed parts solves it: only a mechanism with a motor does.
"""

from benchgen_dagster.kit import Actuator, Joint, Payload, ScenarioBuild, Zone, draw
from benchgen_dagster.kit.parts import block, budget, plank

SPLIT = "train"
PAYLOAD = (
    "A ball 18 to 28 mm in radius, of rubber, wood or steel, dropped 30 mm above a point 50 "
    "to 80 mm in front of the shelf."
)
ZONES = (
    "The goal is the top of the shelf, from 60 mm behind its front edge to the wall at its "
    "back, 120 to 220 mm above the floor. The build zone is the space in front of the shelf, "
    "from the floor to 80 mm above the shelf's top; there is no forbid zone."
)
SOLUTION = (
    "A lift: a platform tilted 8 degrees towards the shelf on a vertical slide, driven by a "
    "position actuator from the floor to just above the shelf's top; the ball rolls against "
    "the shelf's face while it rises, then off the platform onto the shelf."
)
PARAMS = {
    "shelf_x": (150.0, 260.0),
    "shelf_height": (120.0, 220.0),
    "shelf_depth": (180.0, 260.0),
    "ball_radius": (18.0, 28.0),
    "ball_offset": (50.0, 80.0),
    "start_y": (-40.0, 40.0),
    "scale_y": (0.8, 1.4),
    "lift_seconds": (1.4, 2.2),
    "material": ["rubber", "wood", "steel"],
}
FLOOR = 60.0
PLATFORM = 10.0
TILT_DROP = 140.0 * 0.14  # mm the platform's top falls over its length: about 8 degrees
GAP = 3.0  # between the platform and the shelf's face
JITTER = 3.0


def build(seed: int, params: dict) -> ScenarioBuild:
    p = draw(PARAMS, seed, params)
    half_y = 200.0 * p["scale_y"]
    shelf_x, top, radius = p["shelf_x"], p["shelf_height"], p["ball_radius"]
    shelf_far = shelf_x + p["shelf_depth"]
    x_min = -150.0

    floor = block((x_min, shelf_far + 40.0), (-half_y, half_y), (-FLOOR, 0.0))
    shelf = block((shelf_x, shelf_far), (-half_y, half_y), (0.0, top))
    back = block((shelf_far, shelf_far + 20.0), (-half_y, half_y), (0.0, top + 80.0))

    near = shelf_x - GAP
    low_end = 14.0
    platform = plank(
        (near - 140.0, low_end + TILT_DROP),
        (near, low_end),
        2 * radius + 70.0,
        PLATFORM,
        y=p["start_y"],
    )
    rise = top + 12.0
    lift = Actuator(
        joint="platform",
        kind="position",
        force_limit=40.0,
        control_range=(0.0, rise + 20.0),
        gain=4.0,
    )
    start = (shelf_x - p["ball_offset"], p["start_y"], low_end + TILT_DROP + radius + 30.0)
    return ScenarioBuild(
        parts={"floor": floor, "shelf": shelf, "back_wall": back},
        payload=Payload("sphere", (radius,), p["material"], start, JITTER),
        goal_zone=Zone((shelf_x + 60.0, -half_y + 5, top), (shelf_far, half_y - 5, top + 70.0)),
        build_zone=Zone((near - 200.0, -half_y + 5, 0.0), (shelf_x - 1.0, half_y - 5, top + 80.0)),
        bounds=Zone(
            (x_min - 40, -half_y - 60, -FLOOR - 40.0), (shelf_far + 100, half_y + 60, top + 300)
        ),
        solution={"platform": platform},
        joints={
            "platform": Joint(
                "slide",
                (0.0, 0.0, 1.0),
                (near - 70.0, p["start_y"], low_end),
                range=(0.0, rise + 20.0),
            ),
        },
        actuators={"lift": lift},
        controls={"lift": [(0.0, 0.0), (0.6, 0.0), (0.6 + p["lift_seconds"], rise)]},
        materials={"shelf": "wood", "back_wall": "wood"},
        params=p,
        duration_s=6.0,
        **budget(platform.volume, actuators=[lift]),
    )
