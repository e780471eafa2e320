"""Ball over speed bumps.

A ball is dropped above a floor crossed by one or two low, wedge-shaped bumps. The goal lies
beyond the last bump, against a backstop; left alone the ball lands and stays in front of the
bumps. The floor behind the drop point is forbidden.
"""

from benchgen_dagster.kit import Payload, ScenarioBuild, Zone, draw
from benchgen_dagster.kit.parts import block, budget, plank, prism

SPLIT = "train"
PAYLOAD = (
    "A ball 18 to 32 mm in radius, of rubber, wood or plastic, dropped 300 to 440 mm above the "
    "floor in front of the bumps."
)
ZONES = (
    "The goal is the floor beyond the last bump, against a backstop. A forbid zone covers the "
    "floor behind the drop point. The build zone runs from behind the drop point to just short "
    "of the first bump, below the ball."
)
SOLUTION = (
    "A steep ramp under the drop point that gives the ball enough speed to roll over every bump."
)
PARAMS = {
    "bumps": (1, 2),
    "bump_height": (0.3, 0.6),  # of the ball's radius
    "bump_length": (60.0, 120.0),
    "first_bump": (380.0, 520.0),
    "bump_spacing": (150.0, 250.0),
    "goal_depth": (220.0, 320.0),
    "drop_height": (300.0, 440.0),
    "ball_radius": (18.0, 32.0),
    "start_y": (-40.0, 40.0),
    "scale_y": (0.8, 1.5),
    "material": ["rubber", "wood", "plastic"],
}
RAMP = 10.0
JITTER = 3.0


def build(seed: int, params: dict) -> ScenarioBuild:
    p = draw(PARAMS, seed, params)
    radius = p["ball_radius"]
    half_y = 200.0 * p["scale_y"]
    height = p["bump_height"] * radius
    bumps = {}
    for i in range(p["bumps"]):
        x0 = p["first_bump"] + i * p["bump_spacing"]
        x1 = x0 + p["bump_length"]
        bumps[f"bump_{i}"] = prism([(x0, 0.0), (x1, 0.0), ((x0 + x1) / 2, height)], half_y)
    last = p["first_bump"] + (p["bumps"] - 1) * p["bump_spacing"] + p["bump_length"]
    x_min, x_end = -260.0, last + 60.0 + p["goal_depth"]
    floor = block((x_min, x_end + 20.0), (-half_y, half_y), (-20.0, 0.0))
    backstop = block((x_end, x_end + 20.0), (-half_y, half_y), (0.0, 100.0))

    top = (-60.0, p["drop_height"] - radius - 40.0)
    ramp = plank(
        top,
        (top[1] / 1.1 + top[0], RAMP * 1.5 + 0.5),
        4 * radius + 40.0,
        RAMP,
        y=p["start_y"],
        rail_height=18.0,
    )
    start = (0.0, p["start_y"], p["drop_height"])
    return ScenarioBuild(
        parts={"floor": floor, **bumps, "backstop": backstop},
        payload=Payload("sphere", (radius,), p["material"], start, JITTER),
        goal_zone=Zone((last + 60.0, -half_y + 5, 0.0), (x_end, half_y - 5, 120.0)),
        forbid_zones={"behind": Zone((x_min + 10, -half_y + 5, 0.0), (-170.0, half_y - 5, 60.0))},
        build_zone=Zone(
            (-150.0, -half_y + 5, 0.0),
            (p["first_bump"] - 20.0, half_y - 5, start[2] - radius - 15.0),
        ),
        bounds=Zone((x_min - 40, -half_y - 60, -60.0), (x_end + 80, half_y + 60, start[2] + 200)),
        solution={"ramp": ramp},
        params=p,
        **budget(ramp.volume),
    )
