"""A family that breaks one rule on request: `params["break"]` names the rule.

It starts from the built-in ball_sideways family and changes one thing, so each variant
differs from a sound scenario in exactly the way under test.
"""

from dataclasses import replace

from build123d import Box, Pos

from benchgen_dagster.families.ball_sideways import build as sound_build
from benchgen_dagster.kit import Payload, Zone


def build(seed, params):
    mode = params.pop("break", "none")
    base = sound_build(seed, params)
    start = base.payload.start
    if mode == "none":
        return base
    if mode == "zones_overlap":
        return replace(base, forbid_zones={"on_goal": base.goal_zone})
    if mode == "trivial":
        x, y, _ = start
        return replace(base, goal_zone=Zone((x - 150, y - 150, 0.0), (x + 150, y + 150, 150.0)))
    if mode == "unsolvable":
        corner = base.build_zone.min
        return replace(
            base, solution={"ramp": Pos(corner[0] + 30, corner[1] + 30, 15) * Box(40, 40, 30)}
        )
    if mode == "mm_m_mixup":  # zones and bounds written in metres, parts in millimetres
        metres = lambda z: Zone(tuple(v / 1000 for v in z.min), tuple(v / 1000 for v in z.max))  # noqa: E731
        return replace(
            base,
            bounds=metres(base.bounds),
            goal_zone=metres(base.goal_zone),
            build_zone=metres(base.build_zone),
        )
    if mode == "nan":
        return replace(base, payload=replace(base.payload, start=(float("nan"), 0.0, start[2])))
    if mode == "parts_interpenetrate":
        return replace(base, parts={**base.parts, "block": Pos(500, 0, 0) * Box(100, 100, 100)})
    if mode == "payload_in_solid":
        return replace(base, payload=replace(base.payload, start=(start[0], start[1], 5.0)))
    if mode == "unknown_material":
        return replace(base, payload=replace(base.payload, material="unobtainium"))
    if mode == "duplicate_label":
        return replace(base, solution={"floor": base.solution["ramp"]})
    if mode == "tiny_part":
        return replace(base, parts={**base.parts, "speck": Pos(0, 0, 600) * Box(0.5, 0.5, 0.5)})
    if mode == "solution_outside_build_zone":
        ramp = base.solution["ramp"]
        return replace(base, solution={"ramp": Pos(0, 0, 150) * ramp})
    if mode == "solution_over_budget":
        return replace(base, max_weight_g=1.0)
    if mode == "goal_out_of_bounds":
        return replace(base, goal_zone=Zone((5000, -100, 0), (5300, 100, 150)))
    if mode == "payload_in_forbid_zone":
        return replace(
            base,
            forbid_zones={
                "start": Zone(
                    (start[0] - 50, start[1] - 50, start[2] - 50),
                    (start[0] + 50, start[1] + 50, start[2] + 50),
                )
            },
        )
    if mode == "payload_left_bounds":  # dropped beyond the end of the floor
        far = base.bounds.max[0] - 40
        return replace(
            base, payload=Payload("sphere", base.payload.size, "steel", (far, 0, 300), 1.0)
        )
    if mode == "script_error":
        raise ValueError("this variant is broken on purpose")
    if mode == "wrong_type":
        return {"parts": {}}
    raise KeyError(mode)
