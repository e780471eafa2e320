"""Ball through a swinging gate.

A ball is dropped onto the floor in front of a gate: a light flap hinged along its top edge
that hangs across the whole floor. The goal lies behind the gate, against a back wall. A
ball that merely drops stays in front of the gate; one that arrives fast enough swings the
flap up and rolls under it.
"""

from benchgen_dagster.kit import Joint, Payload, ScenarioBuild, Zone, attempts
from benchgen_dagster.kit.parts import block, budget, plank, slope_angle

SPLIT = "train"
PAYLOAD = (
    "A steel ball 18 to 26 mm in radius, dropped 320 to 420 mm above the floor, "
    "280 to 380 mm in front of the gate."
)
ZONES = (
    "The goal is the floor behind the gate, from beyond the flap's swing to the back wall. The "
    "build zone is the space in front of the gate, from the floor to below the ball; there is "
    "no forbid zone."
)
SOLUTION = (
    "A ramp with rails from under the drop point down to just above the floor in front of the "
    "gate, so the ball arrives fast enough to swing the flap open and roll on to the back wall."
)
PARAMS = {
    "gate_x": (280.0, 380.0),
    "gate_height": (110.0, 150.0),
    "drop_height": (320.0, 420.0),
    "goal_depth": (160.0, 220.0),
    "ball_radius": (18.0, 26.0),
    "start_y": (-30.0, 30.0),
    "scale_y": (0.7, 1.0),
    "material": ["steel"],
}
FLOOR = 40.0
FLAP = 4.0
POST = 20.0
JITTER = 3.0


def build(seed: int, params: dict) -> ScenarioBuild:
    for p in attempts(seed, PARAMS, params):
        top = (-60.0, p["drop_height"] - p["ball_radius"] - 50.0)
        end = (p["gate_x"] - 140.0, 22.0)
        if slope_angle(top, end) >= 30.0:
            break
    half_y = 150.0 * p["scale_y"]
    gate_x, hinge_z, radius = p["gate_x"], p["gate_height"], p["ball_radius"]
    goal_near = gate_x + hinge_z + 20.0  # beyond the flap's swing
    goal_far = goal_near + p["goal_depth"]
    x_min, x_max = -200.0, goal_far + 20.0

    floor = block((x_min, x_max), (-half_y - POST, half_y + POST), (-FLOOR, 0.0))
    beam = block((gate_x - 10.0, gate_x + 10.0), (-half_y, half_y), (hinge_z + 8.0, hinge_z + 20.0))
    walls = [
        block((x_min, x_max), y, (0.0, hinge_z + 20.0))
        for y in ((-half_y - POST, -half_y), (half_y, half_y + POST))
    ]
    back = block((goal_far, x_max), (-half_y, half_y), (0.0, 120.0))
    flap = block(
        (gate_x - FLAP / 2, gate_x + FLAP / 2), (-half_y + 3.0, half_y - 3.0), (8.0, hinge_z)
    )
    ramp = plank(top, end, 2 * radius + 40.0, 10.0, y=p["start_y"], rail_height=25.0)
    start = (0.0, p["start_y"], p["drop_height"])
    return ScenarioBuild(
        parts={
            "floor": floor,
            "beam": beam,
            "side_left": walls[0],
            "side_right": walls[1],
            "back_wall": back,
            "gate": flap,
        },
        payload=Payload("sphere", (radius,), p["material"], start, JITTER),
        goal_zone=Zone((goal_near, -half_y + 5, 0.0), (goal_far, half_y - 5, 70.0)),
        build_zone=Zone(
            (-150.0, -half_y + 5, 0.0),
            (gate_x - 20.0, half_y - 5, p["drop_height"] - radius - 20.0),
        ),
        bounds=Zone(
            (x_min - 40, -half_y - 80, -FLOOR - 40.0), (x_max + 40, half_y + 80, start[2] + 200)
        ),
        solution={"ramp": ramp},
        joints={
            "gate": Joint(
                "hinge",
                (0.0, 1.0, 0.0),
                (gate_x, 0.0, hinge_z),
                range=(-100.0, 100.0),
                damping=0.0002,
            )
        },
        materials={"gate": "wood"},
        params=p,
        duration_s=5.0,
        **budget(ramp.volume),
    )
