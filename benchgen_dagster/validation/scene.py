"""A variant as trusted code sees it: its Scenario record and its checked part geometry."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

from pydantic import ValidationError

from benchgen_dagster.sandbox.protocol import RawActuator, RawBox, RawBuild, RawJoint, RawVariant
from benchgen_dagster.schema.contract import (
    MATERIALS,
    Box3,
    Constraints,
    Controls,
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


DEGREE = math.pi / 180


@dataclass(frozen=True)
class JointSpec:
    """A part's joint in metres and radians; `range` is measured from the built pose."""

    kind: str
    axis: tuple[float, float, float]
    anchor: tuple[float, float, float]
    range: tuple[float, float] | None
    damping: float
    armature: float

    @property
    def unit(self) -> float:
        """Metres per millimetre, or radians per degree: a script's units in the model's."""
        return MM if self.kind == "slide" else DEGREE


@dataclass(frozen=True)
class ActuatorSpec:
    """An actuator of the solution in the model's units: control range and gain per metre or
    radian, force limit in N or N·m."""

    name: str
    joint: str
    kind: str
    force_limit: float
    control_range: tuple[float, float]
    gain: float


@dataclass(frozen=True)
class Part:
    label: str
    material: str
    pieces: tuple[PieceGeometry, ...]
    joint: JointSpec | None = None

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
    actuators: tuple[ActuatorSpec, ...] = ()
    controls: Controls | None = None  # in the model's units, keyed by the actuators' names


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
                joint_spec(build.joints.get(label)),
            )
            for label, names in sorted(build.parts.items())
        )
        solution = tuple(
            Part(
                label,
                build.solution_material,
                tuple(piece_from_stl(variant.meshes[name]) for name in names),
                joint_spec(build.joints.get(label)),
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


def joint_spec(raw: RawJoint | None) -> JointSpec | None:
    """A declared joint in metres and radians: the one place a joint's units are converted."""
    if raw is None:
        return None
    length = math.sqrt(sum(a * a for a in raw.axis))
    if length < 1e-9:
        raise SceneError(Reason.script_output_invalid, "a joint's axis has no direction")
    unit = MM if raw.kind == "slide" else DEGREE
    low_high = None
    if raw.range is not None:
        low, high = raw.range
        if not low < high:
            raise SceneError(Reason.script_output_invalid, f"a joint range {raw.range} is empty")
        low_high = (low * unit, high * unit)
    return JointSpec(
        kind=raw.kind,
        axis=tuple(a / length for a in raw.axis),  # type: ignore[arg-type]
        anchor=tuple(v * MM for v in raw.anchor),  # type: ignore[arg-type]
        range=low_high,
        damping=raw.damping / unit,
        armature=raw.armature,
    )


def load_mechanism(
    build: RawBuild, solution: tuple[Part, ...], prefix: str
) -> tuple[tuple[ActuatorSpec, ...], Controls | None]:
    """The solution's actuators and their schedule in the model's units, named as in the
    solution's MJCF (`prefix` + name); raises SceneError for a joint on no part."""
    stray = sorted(set(build.joints) - {*build.parts, *build.solution})
    if stray:
        raise SceneError(
            Reason.script_output_invalid, f"joints on parts that do not exist: {', '.join(stray)}"
        )
    joints = {part.label: part.joint for part in solution if part.joint is not None}
    return mechanism(build.actuators, build.controls, joints, prefix)


def mechanism(
    declared: Mapping[str, RawActuator],
    schedules: Mapping[str, list[tuple[float, float]]],
    joints: Mapping[str, JointSpec],
    prefix: str,
) -> tuple[tuple[ActuatorSpec, ...], Controls | None]:
    """Declared actuators and their schedules (a script's units) in the model's units; raises
    SceneError for an actuator on no jointed part of the design, or a schedule of none."""
    if set(schedules) != set(declared):
        raise SceneError(
            Reason.script_output_invalid,
            "every actuator needs a control schedule and every schedule an actuator "
            f"(actuators {sorted(declared)}, schedules {sorted(schedules)})",
        )
    actuators, controls = [], {}
    for name, raw in sorted(declared.items()):
        joint = joints.get(raw.joint)
        if joint is None:
            raise SceneError(
                Reason.script_output_invalid,
                f"actuator {name} drives {raw.joint}, which is not a jointed solution part",
            )
        actuator = actuator_spec(prefix + name, raw, joint)
        actuators.append(actuator)
        scale = 1.0 if raw.kind == "motor" else joint.unit
        controls[actuator.name] = [(t, v * scale) for t, v in schedules[name]]
    if not actuators:
        return (), None
    try:
        return tuple(actuators), Controls(controls=controls)
    except ValidationError as error:
        raise SceneError(Reason.script_output_invalid, _short(error)) from None


def actuator_spec(name: str, raw: RawActuator, joint: JointSpec) -> ActuatorSpec:
    """A declared actuator in the model's units."""
    scale = 1.0 if raw.kind == "motor" else joint.unit
    low, high = raw.control_range
    if not low < high:
        raise SceneError(Reason.script_output_invalid, f"actuator {name}'s control range is empty")
    return ActuatorSpec(
        name=name,
        joint=raw.joint,
        kind=raw.kind,
        force_limit=raw.force_limit,
        control_range=(low * scale, high * scale),
        gain=raw.gain / joint.unit,
    )


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
            tier="kinematic" if build.joints or build.actuators else "spatial",
        )
    except (ValidationError, ValueError) as error:
        raise SceneError(Reason.script_output_invalid, _short(error)) from None


def payload_volume(shape: PayloadShape, size: list[float]) -> float:
    if shape is PayloadShape.sphere:
        return 4 / 3 * math.pi * size[0] ** 3
    if shape is PayloadShape.box:
        return 8 * size[0] * size[1] * size[2]
    if shape is PayloadShape.ring:
        inner = size[0] - 2 * size[1]
        return math.pi * (size[0] ** 2 - inner**2) * 2 * size[2]
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
