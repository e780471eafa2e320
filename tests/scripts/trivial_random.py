"""A scenario almost any part solves: a ball falls down a tube, and the goal is the tube's air.

A ball is dropped into a square tube standing on a floor whose middle is forbidden. The goal and
the build zone are the same stretch of the tube's inside: gravity alone drops the ball through
it onto the forbidden floor, so it is not trivial, but almost any part placed there catches
the ball and holds it in the goal. Random designs solve it often: the difficulty stage must
reject it as trivial_random.
"""

from build123d import Compound

from benchgen_dagster.kit import Payload, ScenarioBuild, Zone, draw
from benchgen_dagster.kit.parts import block, budget

PAYLOAD = "A ball 20 mm in radius dropped into a tube."
ZONES = "The goal and the build zone are the same stretch of air inside the tube."
SOLUTION = "A shelf across the tube."
PARAMS = {"inner_half": (32.0, 36.0)}
TOP = 320.0
WALL = 10.0


def build(seed: int, params: dict) -> ScenarioBuild:
    p = draw(PARAMS, seed, params)
    h = p["inner_half"]
    floor = block((-300.0, 300.0), (-300.0, 300.0), (-20.0, 0.0))
    walls = Compound(
        [
            block((-h - WALL, -h), (-h - WALL, h + WALL), (0.0, TOP)),
            block((h, h + WALL), (-h - WALL, h + WALL), (0.0, TOP)),
            block((-h, h), (-h - WALL, -h), (0.0, TOP)),
            block((-h, h), (h, h + WALL), (0.0, TOP)),
        ]
    )
    shelf = block((-h + 1, h - 1), (-h + 1, h - 1), (120.0, 130.0))
    zone = Zone((-h + 0.5, -h + 0.5, 110.0), (h - 0.5, h - 0.5, 260.0))
    return ScenarioBuild(
        parts={"floor": floor, "tube": walls},
        payload=Payload("sphere", (20.0,), "wood", (0.0, 0.0, TOP + 60.0), 2.0),
        goal_zone=zone,
        forbid_zones={"floor_middle": Zone((-h, -h, 0.0), (h, h, 30.0))},
        build_zone=zone,
        bounds=Zone((-350.0, -350.0, -60.0), (350.0, 350.0, TOP + 200.0)),
        solution={"shelf": shelf},
        params=p,
        **budget(shelf.volume * 4),
    )
