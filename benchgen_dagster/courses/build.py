"""The one trusted builder: any course spec into build123d parts, in the sandbox.

A spec family's script is this builder and its spec (see `courses.script`); the built-in
`composed_course` family draws a random spec per seed and builds it here too.
"""

from __future__ import annotations

from typing import Any

from build123d import Box, Compound, Cylinder, Pos, Rot

from benchgen_dagster.courses.layout import (
    CHUTE,
    OPEN_S,
    RAIL_HEIGHT,
    JointPiece,
    Piece,
    flat_params,
    lay_out,
    resolve,
)
from benchgen_dagster.kit import Actuator, Joint, Payload, ScenarioBuild, Zone
from benchgen_dagster.kit.parts import block, budget, plank, prism

DENSITY = {"wood": (600.0, 4.0), "ice": (920.0, 0.5)}


def build_course(spec: dict[str, Any], seed: int, params: dict[str, Any]) -> ScenarioBuild:
    """The scenario of one seed of a spec: its ranges drawn, laid out and made solid."""
    course = resolve(spec, seed, params)
    layout = lay_out(course)
    parts = {label: _solid(pieces) for label, pieces in layout.parts.items()}
    solution = {
        label: plank(c.start, c.end, c.width, CHUTE, rail_height=RAIL_HEIGHT if c.rails else 0.0)
        for label, c in layout.solution.items()
    }
    solution |= {label: _solid(m.pieces) for label, m in layout.movers.items()}
    actuators = {
        f"{label}_drive": Actuator(label, "position", m.force_limit, (0.0, m.open), m.gain)
        for label, m in layout.movers.items()
    }
    volume = sum(shape.volume for shape in solution.values())
    density, cost = DENSITY[layout.solution_material]
    p = layout.payload
    return ScenarioBuild(
        parts=parts,
        payload=Payload(p["shape"], tuple(p["size"]), p["material"], p["start"], p["jitter"]),
        goal_zone=Zone(*layout.goal),
        build_zone=Zone(*layout.build_zone),
        bounds=Zone(*layout.bounds),
        forbid_zones={name: Zone(*box) for name, box in layout.forbid.items()},
        solution=solution,
        materials=layout.materials,
        solution_material=layout.solution_material,
        params={**flat_params(course), "slope_deg": layout.slope_deg},
        duration_s=layout.duration_s,
        joints={
            label: _joint(j)
            for label, j in (
                *layout.joints.items(),
                *((label, m.joint) for label, m in layout.movers.items()),
            )
        },
        actuators=actuators,
        controls={
            f"{label}_drive": [(0.0, 0.0), (OPEN_S, m.open)] for label, m in layout.movers.items()
        },
        **budget(volume, density=density, cost_per_kg=cost, actuators=actuators.values()),
    )


def _joint(joint: JointPiece) -> Joint:
    return Joint(
        joint.kind,
        joint.axis,
        joint.anchor,
        range=joint.range,
        damping=joint.damping,
        armature=joint.armature,
    )


def _solid(pieces: list[Piece]) -> Any:
    shapes = [_shape(piece) for piece in pieces]
    return shapes[0] if len(shapes) == 1 else Compound(shapes)


def _shape(piece: Piece) -> Any:
    if piece.kind == "box":
        lo, hi = piece.data
        return block((lo[0], hi[0]), (lo[1], hi[1]), (lo[2], hi[2]))
    if piece.kind == "prism":
        outline, y0, y1 = piece.data
        return Pos(0, (y0 + y1) / 2, 0) * prism(outline, (y1 - y0) / 2)
    if piece.kind == "cylinder":
        x, y, radius, z0, z1 = piece.data
        return Pos(x, y, (z0 + z1) / 2) * Cylinder(radius, z1 - z0)
    centre, size, yaw = piece.data
    return Pos(*centre) * Rot(0, 0, yaw) * Box(*size)
