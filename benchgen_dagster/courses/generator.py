"""Random courses: two to four modules, the last a bin or a cup, drawn from a seed; about one
in seven has a barrier the reference solution opens (a gate, a lever or a slider), which makes
it a kinematic scenario.

Each seed gives a different structure (which modules, in which order) and different values,
so one family makes thousands of structurally different scenarios without a model. The
ranges here are narrower than the modules' declared ones: values a chute solution handles.
Standard library only (it runs in the sandbox, under the `composed_course` family).
"""

from __future__ import annotations

import random
from typing import Any

from benchgen_dagster.courses.layout import CourseError, lay_out, resolve

OBSTACLES: dict[str, dict[str, Any]] = {
    "platform": {"length": [150.0, 400.0]},
    "step_up": {"height": [20.0, 80.0], "length": [180.0, 350.0]},
    "step_down": {"height": [40.0, 200.0], "length": [180.0, 350.0]},
    "ramp": {"length": [200.0, 400.0], "rise": [-150.0, 60.0]},
    "stairs": {
        "steps": [2, 4],
        "step_height": [20.0, 50.0],
        "step_depth": [70.0, 140.0],
        "rise_sign": -1,
    },
    "gap": {"width": [100.0, 260.0], "depth": [120.0, 300.0]},
    "wall": {"height": [40.0, 120.0], "thickness": [10.0, 30.0], "length": [200.0, 350.0]},
    "window_wall": {
        "window_width": [110.0, 200.0],
        "window_height": [150.0, 220.0],
        "thickness": [10.0, 30.0],
        "length": [200.0, 350.0],
    },
    "slot_wall": {"slot_width": [80.0, 140.0], "thickness": [10.0, 30.0], "length": [200.0, 350.0]},
    "bump": {"height": [15.0, 60.0], "base": [80.0, 160.0], "length": [200.0, 350.0]},
    "post": {"radius": [12.0, 30.0], "height": [60.0, 160.0], "length": [200.0, 350.0]},
    "corridor": {"length": [250.0, 500.0], "width": [100.0, 200.0], "wall_height": [30.0, 80.0]},
    "funnel": {
        "length": [200.0, 350.0],
        "mouth": [220.0, 320.0],
        "throat": [90.0, 140.0],
        "wall_height": [30.0, 80.0],
    },
}
# barriers the reference solution opens; a course draws at most one, on a stream of its own so
# the courses drawn without one stay as they were
MECHANISMS: dict[str, dict[str, Any]] = {
    "gate": {"length": [300.0, 500.0], "height": [80.0, 160.0], "thickness": [8.0, 20.0]},
    "lever": {"length": [200.0, 400.0], "height": [80.0, 140.0], "thickness": [8.0, 20.0]},
    "slider": {"length": [200.0, 400.0], "height": [110.0, 180.0], "thickness": [15.0, 40.0]},
}
MECHANISM_SHARE = 0.15
GOALS: dict[str, dict[str, Any]] = {
    "bin": {"width": [170.0, 260.0], "depth": [170.0, 260.0], "wall_height": [50.0, 90.0]},
    "cup": {"radius": [85.0, 130.0], "height": [50.0, 90.0]},
}
PAYLOADS: dict[str, dict[str, Any]] = {
    "sphere": {"radius": [12.0, 26.0], "material": ["rubber", "wood", "steel", "plastic"]},
    "box": {"side": [30.0, 50.0], "material": ["plastic", "steel", "ice"]},
    "cylinder": {
        "radius": [14.0, 24.0],
        "length": [24.0, 40.0],
        "material": ["plastic", "steel", "ice"],
    },
    "capsule": {
        "radius": [10.0, 16.0],
        "length": [16.0, 30.0],
        "material": ["plastic", "steel", "ice"],
    },
}
ATTEMPTS = 30


def random_spec(seed: int, module_count: int | None = None, shape: str | None = None) -> dict:
    """A course spec of fixed values that lays out, drawn from the seed; the count of
    modules (2–4, the goal included) and the payload's shape are drawn unless given."""
    rng = random.Random(f"composed:{seed}")
    mechanisms = random.Random(f"composed-mechanism:{seed}")
    for _ in range(ATTEMPTS):
        count = module_count or rng.randint(2, 4)
        kind = shape or rng.choice(sorted(PAYLOADS))
        modules = [
            {"type": name, **_values(rng, OBSTACLES[name])}
            for name in (rng.choice(sorted(OBSTACLES)) for _ in range(count - 1))
        ]
        if mechanisms.random() < MECHANISM_SHARE:
            name = mechanisms.choice(sorted(MECHANISMS))
            modules[mechanisms.randrange(len(modules))] = {
                "type": name,
                **_values(mechanisms, MECHANISMS[name]),
            }
        goal = rng.choice(sorted(GOALS)) if kind == "sphere" else "bin"  # sliders miss cups
        spec = {
            "payload": {"shape": kind, **_values(rng, PAYLOADS[kind])},
            "width": round(rng.uniform(380.0, 520.0), 1),
            "modules": [*modules, {"type": goal, **_values(rng, GOALS[goal])}],
        }
        try:
            lay_out(resolve(spec, seed))
        except CourseError:
            continue
        return spec
    raise RuntimeError(f"no course for seed {seed} in {ATTEMPTS} draws")


def _values(rng: random.Random, ranges: dict[str, Any]) -> dict[str, Any]:
    values = {}
    for key, value in ranges.items():
        if isinstance(value, list) and isinstance(value[0], str):
            values[key] = rng.choice(value)
        elif isinstance(value, list) and isinstance(value[0], int):
            values[key] = rng.randint(*value)
        elif isinstance(value, list):
            values[key] = round(rng.uniform(*value), 1)
        else:
            values[key] = value
    return values
