"""A variant as trusted code sees it: its Scenario record and its checked part geometry."""

from __future__ import annotations

import math
from dataclasses import dataclass

from pydantic import ValidationError

from benchgen_dagster.sandbox.protocol import RawBox, RawVariant
from benchgen_dagster.schema.contract import (
    MATERIALS,
    Box3,
    Constraints,
    Lineage,
    Payload,
    PayloadShape,
    Reason,
    Scenario,
    Simulation,
    Split,
    Zone,
    scenario_id_for,
)
from benchgen_dagster.validation.geometry import MM, GeometryError, PieceGeometry, piece_from_stl

TIMESTEP = 0.002
PLAUSIBLE_SCENE_M = (0.05, 50.0)  # the diagonal of the simulation bounds
PLAUSIBLE_PAYLOAD_M = (0.002, 0.5)  # each payload size


@dataclass(frozen=True)
class VariantContext:
    """What the pipeline knows of a variant besides what its script returned."""

    family: str
    split: Split
    lineage: Lineage

    def scenario_id(self, seed: int) -> str:
        return scenario_id_for(self.lineage.request_id, seed)


@dataclass(frozen=True)
class Part:
    label: str
    material: str
    pieces: tuple[PieceGeometry, ...]

    @property
    def volume(self) -> float:
        return sum(p.volume for p in self.pieces)

    @property
    def bounds(self) -> Box3:
        return Box3(
            min=tuple(min(p.bounds_min[k] for p in self.pieces) for k in range(3)),  # type: ignore[arg-type]
            max=tuple(max(p.bounds_max[k] for p in self.pieces) for k in range(3)),  # type: ignore[arg-type]
        )


@dataclass(frozen=True)
class Scene:
    scenario: Scenario
    parts: tuple[Part, ...]
    solution: tuple[Part, ...]


class SceneError(Exception):
    def __init__(self, reason: Reason, message: str) -> None:
        super().__init__(message)
        self.reason = reason


def metres(box: RawBox) -> tuple[tuple[float, ...], tuple[float, ...]]:
    return tuple(v * MM for v in box.min), tuple(v * MM for v in box.max)


def load_parts(variant: RawVariant) -> tuple[tuple[Part, ...], tuple[Part, ...]]:
    """The geometry stage: every mesh checked, converted to metres and made convex. Parts are
    taken in label order, so the result never depends on the order of a dict."""
    build = variant.build
    labels = [*build.parts, *build.solution]
    duplicates = sorted({x for x in labels if labels.count(x) > 1})
    if duplicates:
        raise SceneError(Reason.duplicate_label, f"labels used twice: {', '.join(duplicates)}")
    try:
        parts = tuple(
            Part(
                label,
                build.materials.get(label, "wood"),
                tuple(piece_from_stl(variant.meshes[name]) for name in names),
            )
            for label, names in sorted(build.parts.items())
        )
        solution = tuple(
            Part(
                label,
                build.solution_material,
                tuple(piece_from_stl(variant.meshes[name]) for name in names),
            )
            for label, names in sorted(build.solution.items())
        )
    except GeometryError as error:
        raise SceneError(error.reason, str(error)) from None
    empty = [p.label for p in (*parts, *solution) if not p.pieces]
    if empty:
        raise SceneError(Reason.mesh_invalid, f"parts without a solid: {', '.join(empty)}")
    if not parts:
        raise SceneError(Reason.mesh_invalid, "the scenario has no fixed parts")
    return parts, solution


def assemble_scenario(variant: RawVariant, context: VariantContext) -> Scenario:
    """The Scenario record in metres; raises SceneError for implausible units or bad values."""
    build = variant.build
    unknown = sorted(
        {*build.materials.values(), build.payload.material, build.solution_material}
        - MATERIALS.keys()
    )
    if unknown:
        raise SceneError(
            Reason.unknown_material, f"unknown materials {unknown}; known: {sorted(MATERIALS)}"
        )
    bounds_min, bounds_max = metres(build.bounds)
    diagonal = math.dist(bounds_min, bounds_max)
    sizes = [s * MM for s in build.payload.size]
    if not PLAUSIBLE_SCENE_M[0] <= diagonal <= PLAUSIBLE_SCENE_M[1] or not all(
        PLAUSIBLE_PAYLOAD_M[0] <= s <= PLAUSIBLE_PAYLOAD_M[1] for s in sizes
    ):
        raise SceneError(
            Reason.units_implausible,
            f"a scene {diagonal:.4g} m across with a payload of {sizes} m: "
            "lengths in a script are millimetres",
        )
    try:
        shape = PayloadShape(build.payload.shape)
        return Scenario(
            scenario_id=context.scenario_id(variant.job.seed),
            family=context.family,
            seed=variant.job.seed,
            params=build.params,
            simulation=Simulation(
                timestep=TIMESTEP, duration_s=build.duration_s, bounds=_box(build.bounds)
            ),
            build_zone=_box(build.build_zone),
            goal_zone=_box(build.goal_zone),
            forbid_zones=[
                Zone(name=name, **_box(z).model_dump())
                for name, z in sorted(build.forbid_zones.items())
            ],
            payload=Payload(
                shape=shape,
                size=sizes,
                material=build.payload.material,
                mass=round(
                    MATERIALS[build.payload.material].density * payload_volume(shape, sizes), 9
                ),
                start_position=tuple(v * MM for v in build.payload.start),  # type: ignore[arg-type]
                start_jitter=build.payload.jitter * MM,
            ),
            constraints=Constraints(
                max_unit_cost=build.max_unit_cost, max_weight_g=build.max_weight_g
            ),
            split=context.split,
            lineage=context.lineage,
        )
    except (ValidationError, ValueError) as error:
        raise SceneError(Reason.script_output_invalid, _short(error)) from None


def payload_volume(shape: PayloadShape, size: list[float]) -> float:
    if shape is PayloadShape.sphere:
        return 4 / 3 * math.pi * size[0] ** 3
    if shape is PayloadShape.box:
        return 8 * size[0] * size[1] * size[2]
    cylinder = math.pi * size[0] ** 2 * 2 * size[1]
    if shape is PayloadShape.capsule:
        return cylinder + 4 / 3 * math.pi * size[0] ** 3
    return cylinder


def _box(raw: RawBox) -> Box3:
    low, high = metres(raw)
    return Box3(min=low, max=high)  # type: ignore[arg-type]


def _short(error: Exception) -> str:
    if isinstance(error, ValidationError):
        first = error.errors()[0]
        return f"{'.'.join(str(p) for p in first['loc'])}: {first['msg']}"
    return str(error)
