"""Static rules: what must hold of a scene before anything is simulated."""

from __future__ import annotations

from collections.abc import Iterator

from benchgen_dagster.kit import actuator_cost
from benchgen_dagster.schema.contract import MATERIALS, Box3, Controls, Reason, Scenario
from benchgen_dagster.validation.scene import ActuatorSpec, Part


class RuleViolation(Exception):
    def __init__(self, reason: Reason, message: str) -> None:
        super().__init__(message)
        self.reason = reason


def check_rules(
    scenario: Scenario,
    solution: tuple[Part, ...],
    actuators: tuple[ActuatorSpec, ...] = (),
    controls: Controls | None = None,
) -> dict[str, float]:
    """Raise RuleViolation for the first broken rule; return the measurements on success."""
    for reason, message in violations(scenario, solution, actuators, controls):
        raise RuleViolation(reason, message)
    weight_g, cost = solution_weight_and_cost(solution, actuators)
    return {"solution_weight_g": round(weight_g, 3), "solution_cost": round(cost, 4)}


def violations(
    scenario: Scenario,
    solution: tuple[Part, ...],
    actuators: tuple[ActuatorSpec, ...] = (),
    controls: Controls | None = None,
) -> Iterator[tuple[Reason, str]]:
    bounds = scenario.simulation.bounds
    goal = scenario.goal_zone
    payload = scenario.payload
    if not bounds.contains_box(goal):
        yield Reason.goal_out_of_bounds, "the goal zone is not inside the simulation bounds"
    reach = payload.bounding_radius
    if min(goal.size) < 2 * reach:
        yield (
            Reason.goal_smaller_than_payload,
            f"the goal zone {_fmt(goal.size)} m cannot hold a payload {2 * reach:.3f} m across",
        )
    for zone in scenario.forbid_zones:
        if zone.overlaps(goal):
            yield Reason.zones_overlap, f"forbid zone {zone.name} overlaps the goal zone"
    if not bounds.contains_box(scenario.build_zone):
        yield Reason.build_zone_out_of_bounds, "the build zone is not inside the simulation bounds"
    start = Box3.spanning(
        payload.start_position, payload.start_position, reach + payload.start_jitter
    )
    if not bounds.contains_box(start):
        yield Reason.payload_out_of_bounds, "the payload's start (with jitter) leaves the bounds"
    for zone in scenario.forbid_zones:
        if zone.overlaps(start):
            yield Reason.payload_in_forbid_zone, f"the payload starts in forbid zone {zone.name}"
    for part in solution:
        excess = overhang(part.bounds, scenario.build_zone)
        if excess:
            yield (
                Reason.solution_outside_build_zone,
                f"solution part {part.label} reaches outside the build zone ({excess})",
            )
    if controls is not None:
        yield from controls_beyond_limits(actuators, controls)
    weight_g, cost = solution_weight_and_cost(solution, actuators)
    limits = scenario.constraints
    if weight_g > limits.max_weight_g or cost > limits.max_unit_cost:
        yield (
            Reason.solution_over_budget,
            f"the reference solution weighs {weight_g:.0f} g and costs {cost:.2f}, over the "
            f"limits {limits.max_weight_g:.0f} g and {limits.max_unit_cost:.2f}",
        )


def controls_beyond_limits(
    actuators: tuple[ActuatorSpec, ...], controls: Controls
) -> Iterator[tuple[Reason, str]]:
    """A schedule that asks an actuator for more than its control range allows: MuJoCo would
    quietly clamp it, so the schedule would not describe the run."""
    for actuator in actuators:
        low, high = actuator.control_range
        for time, value in controls.controls[actuator.name]:
            if not low - 1e-9 <= value <= high + 1e-9:
                yield (
                    Reason.actuator_over_limit,
                    f"the schedule of {actuator.name} asks for {value:.4g} at {time:g} s, "
                    f"outside its control range [{low:.4g}, {high:.4g}]",
                )
                break


def solution_weight_and_cost(
    solution: tuple[Part, ...], actuators: tuple[ActuatorSpec, ...] = ()
) -> tuple[float, float]:
    """The solution's weight in grams and its cost: its material, and each actuator by its
    force limit (`kit.actuator_cost`)."""
    weight_kg = sum(p.volume * MATERIALS[p.material].density for p in solution)
    cost = sum(
        p.volume * MATERIALS[p.material].density * MATERIALS[p.material].cost_per_kg
        for p in solution
    )
    cost += sum(actuator_cost(a.force_limit) for a in actuators)
    return weight_kg * 1000, cost


def overhang(inner: Box3, outer: Box3, tolerance: float = 1e-4) -> str:
    """Where `inner` sticks out of `outer`, e.g. "x+ 12.0 mm", or "" when it fits."""
    sides = []
    for axis, name in enumerate("xyz"):
        below = outer.min[axis] - inner.min[axis]
        above = inner.max[axis] - outer.max[axis]
        if below > tolerance:
            sides.append(f"{name}- {below * 1000:.1f} mm")
        if above > tolerance:
            sides.append(f"{name}+ {above * 1000:.1f} mm")
    return ", ".join(sides)


def _fmt(values: tuple[float, ...]) -> str:
    return "×".join(f"{v:.3f}" for v in values)
