"""Returns a scenario whose zones are NaN."""

from benchgen_dagster.kit import Payload, ScenarioBuild, Zone

NAN = float("nan")


def build(seed, params):
    box = Zone((NAN, NAN, NAN), (NAN, NAN, NAN))
    return ScenarioBuild(
        parts={},
        payload=Payload("sphere", (20.0,), "wood", (0, 0, 100)),
        goal_zone=box,
        build_zone=box,
        bounds=box,
        solution={},
        max_unit_cost=1.0,
        max_weight_g=1.0,
        params={},
    )
