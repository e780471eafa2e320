"""How varied a set of scenarios is: placement, size, geometry and difficulty, and how many
are near-duplicates of another.

Each scenario is reduced to a few numbers (metres) and a geometry signature, the content
hashes of its scenery's meshes (`validation.model.geometry_signature`). Two scenarios are
near-duplicates when their geometry is identical and every number is within NEAR_M of the
other's.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence

from benchgen_dagster.schema.contract import Diversity, Scenario, Spread
from benchgen_dagster.schema.records import ValidationBatch
from benchgen_dagster.stores.bundles import Bundle

NEAR_M = 0.005
PLACEMENT = ("goal_x_m", "goal_y_m", "goal_z_m", "start_x_m", "start_y_m", "start_z_m")
DIFFICULTY = ("distance_to_goal_m", "height_change_m", "goal_clearance_m")
FEATURES = (*PLACEMENT, "payload_radius_m", *DIFFICULTY)


def scenario_features(scenario: Scenario) -> dict[str, float]:
    """Where the goal and the start are, how big the payload is and how hard the task looks:
    horizontal distance from start to goal, the drop from start to the goal's floor, and how
    much room the goal leaves around the payload (its narrowest side less the payload)."""
    goal, payload = scenario.goal_zone, scenario.payload
    centre = [(lo + hi) / 2 for lo, hi in zip(goal.min, goal.max, strict=True)]
    start = payload.start_position
    radius = payload.bounding_radius
    features = {
        **{f"goal_{axis}_m": centre[i] for i, axis in enumerate("xyz")},
        **{f"start_{axis}_m": start[i] for i, axis in enumerate("xyz")},
        "payload_radius_m": radius,
        "distance_to_goal_m": math.hypot(centre[0] - start[0], centre[1] - start[1]),
        "height_change_m": start[2] - goal.min[2],
        "goal_clearance_m": min(goal.size) - 2 * radius,
    }
    return {name: round(value, 6) for name, value in features.items()}


def near_duplicates(features: Sequence[dict[str, float]], signatures: Sequence[str]) -> int:
    """How many scenarios are near-duplicates of an earlier one."""
    count = 0
    for i in range(1, len(features)):
        if any(
            signatures[i] == signatures[j]
            and all(abs(features[i][k] - features[j][k]) <= NEAR_M for k in features[i])
            for j in range(i)
        ):
            count += 1
    return count


def summarise(features: Sequence[dict[str, float]], signatures: Sequence[str]) -> Diversity:
    def spread(name: str) -> Spread:
        values = [f[name] for f in features]
        return Spread(
            min=min(values),
            max=max(values),
            std=round(statistics.pstdev(values), 6),
        )

    return Diversity(
        scenarios=len(features),
        unique_geometries=len(set(signatures)),
        near_duplicates=near_duplicates(features, signatures),
        spreads={name: spread(name) for name in FEATURES} if features else {},
    )


def batch_diversity(batch: Bundle[ValidationBatch]) -> Diversity:
    """The diversity of a request's accepted scenarios."""
    scenarios = batch.record.scenarios
    return summarise(
        [scenario_features(s) for s in scenarios],
        [batch.record.geometry[s.scenario_id] for s in scenarios],
    )
