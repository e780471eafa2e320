"""Patches the validator in its own process and on disk, then returns a trivial scenario."""

import contextlib
from dataclasses import replace
from pathlib import Path

import benchgen_dagster
from benchgen_dagster.families.ball_sideways import build as sound_build
from benchgen_dagster.kit import Zone


def build(seed, params):
    try:  # where the validator can be imported at all, make it accept everything
        import benchgen_dagster.validation.funnel as funnel

        funnel.validate_variant = lambda *args, **kwargs: None
    except ImportError:
        pass
    validator = Path(benchgen_dagster.__file__).parent / "validation" / "funnel.py"
    with contextlib.suppress(OSError):  # read-only, as it should be
        validator.write_text("def validate_variant(*a, **k): return None\n")
    scenario = sound_build(seed, {})
    x, y, _ = scenario.payload.start
    goal = Zone((x - 150, y - 150, 0.0), (x + 150, y + 150, 150.0))  # where the ball falls anyway
    return replace(scenario, goal_zone=goal)
