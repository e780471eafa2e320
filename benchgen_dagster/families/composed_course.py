"""A random course of modules.

Each seed draws a course of two to four modules from the scenario language (platforms, steps,
ramps, stairs, gaps, walls, walls with a window or a slot, bumps, posts, corridors, funnels),
the last a bin or a cup that holds the goal, and a payload (a ball, a cube, an upright
cylinder or a capsule). About one course in seven has a barrier across its path (a gate, a
lever or a slider) that its reference solution opens with an actuator: a kinematic scenario.
The trusted course builder lays it out and makes it solid.
"""

from benchgen_dagster.courses.build import build_course
from benchgen_dagster.courses.generator import random_spec
from benchgen_dagster.kit import ScenarioBuild, draw

SPLIT = "train"
PAYLOAD = (
    "A ball 12 to 26 mm in radius, a cube 30 to 50 mm on a side, an upright cylinder or a "
    "capsule, of rubber, wood, steel, plastic or ice, dropped above the start pad."
)
ZONES = (
    "The goal is the inside of the bin or cup at the end of the course. Forbid zones cover the "
    "floors of gaps and the floor outside corridors. The build zone spans the course from "
    "behind the payload to above the goal, up to below the payload."
)
SOLUTION = (
    "A straight chute from under the payload down to above the goal, one plank per module it "
    "crosses, railed except where it passes through a window, a slot or a barrier; for a "
    "gate, lever or slider, an arm or pusher on the barrier's joint that a position actuator "
    "drives open before the payload comes."
)
PARAMS = {
    "module_count": [2, 3, 4],
    "payload_shape": ["sphere", "box", "cylinder", "capsule"],
}


def build(seed: int, params: dict) -> ScenarioBuild:
    p = draw(PARAMS, seed, params)
    spec = random_spec(seed, p["module_count"], p["payload_shape"])
    made = build_course(spec, seed, {})
    made.params.update(p)
    return made
