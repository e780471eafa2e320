"""MuJoCo models of a scene, assembled with MjSpec and written as self-contained MJCF.

The MJCF carries its meshes inline and marks the zones as sites, so it is the whole world:
`mujoco.MjModel.from_xml_string(xml)` needs nothing else. Simulations run on the model
compiled from that very string, so what was checked is what consumers load.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass

import mujoco
import numpy as np

from benchgen_dagster.schema.contract import (
    MATERIALS,
    RING_SEGMENTS,
    Box3,
    Payload,
    PayloadShape,
    Scenario,
)
from benchgen_dagster.validation.scene import ActuatorSpec, Part, Scene

PAYLOAD_JOINT = "payload_joint"
SOLUTION_PREFIX = "solution_"
ROLLING_FRICTION = (0.005, 0.0002)  # torsional, rolling: a ball on a flat floor slows down
COLORS = {
    "part": (0.62, 0.6, 0.55, 1.0),
    "solution": (0.95, 0.6, 0.15, 1.0),
    "payload": (0.15, 0.35, 0.9, 1.0),
    "goal": (0.1, 0.85, 0.2, 0.35),
    "forbid": (0.9, 0.1, 0.1, 0.3),
    "build": (0.2, 0.4, 1.0, 0.08),
}
CAMERAS = ("iso", "side", "top")


def camera_names(text: str) -> tuple[str, ...]:
    """Comma-separated camera names, each one of `CAMERAS`: a misspelt one would fail every
    scenario's render."""
    names = tuple(name.strip() for name in text.split(",") if name.strip())
    unknown = [name for name in names if name not in CAMERAS]
    if unknown or not names:
        problem = f"unknown camera {', '.join(map(repr, unknown))}" if unknown else "no camera"
        raise ValueError(f"{problem} in {text!r}; the cameras are {', '.join(CAMERAS)}")
    return names


@dataclass(frozen=True)
class CompiledScene:
    xml: str
    solution_xml: str
    model: mujoco.MjModel
    solution_model: mujoco.MjModel
    geometry_sha256: str


def compile_scene(scene: Scene) -> CompiledScene:
    xml = scene_xml(scene, with_solution=False)
    solution_xml = scene_xml(scene, with_solution=True)
    return CompiledScene(
        xml,
        solution_xml,
        mujoco.MjModel.from_xml_string(xml),
        mujoco.MjModel.from_xml_string(solution_xml),
        geometry_signature(scene.parts),
    )


def geometry_signature(parts: tuple[Part, ...]) -> str:
    """A hash of the meshes the scenery is made of (each keyed by its content), for finding
    scenarios with the same geometry."""
    keys = sorted({hull.key for part in parts for piece in part.pieces for hull in piece.hulls})
    return hashlib.sha256(",".join(keys).encode()).hexdigest()[:16]


def scene_xml(scene: Scene, *, with_solution: bool) -> str:
    return scene_spec(scene, with_solution=with_solution).to_xml()


def scene_spec(scene: Scene, *, with_solution: bool) -> mujoco.MjSpec:
    scenario = scene.scenario
    spec = mujoco.MjSpec()
    spec.modelname = scenario.scenario_id
    spec.compiler.degree = False  # every angle was converted to radians, once, in the scene
    spec.option.timestep = scenario.simulation.timestep
    spec.option.integrator = mujoco.mjtIntegrator.mjINT_IMPLICITFAST
    spec.option.enableflags |= mujoco.mjtEnableBit.mjENBL_ENERGY
    spec.visual.global_.offwidth = 640
    spec.visual.global_.offheight = 480
    spec.visual.quality.shadowsize = 0  # no light casts shadows; the default map costs ~70 ms
    spec.stat.center = scenario.simulation.bounds.center
    spec.stat.extent = math.dist(scenario.simulation.bounds.min, scenario.simulation.bounds.max) / 2

    meshes: set[str] = set()
    add_parts(spec, scene.parts, "", COLORS["part"], meshes)
    if with_solution:
        add_parts(spec, scene.solution, SOLUTION_PREFIX, COLORS["solution"], meshes)
        add_actuators(spec, scene.actuators, SOLUTION_PREFIX)
    _add_payload(spec, scenario)
    _add_zones(spec, scenario)
    _add_lights_and_cameras(spec, scenario.simulation.bounds)
    return spec


def add_parts(
    spec: mujoco.MjSpec,
    parts: tuple[Part, ...],
    prefix: str,
    rgba: tuple[float, ...],
    meshes: set[str],
) -> None:
    """Fixed parts as geoms of the world body; a part on a joint as a body of its own, its
    origin on the joint's anchor, its mass from its material."""
    for part in parts:
        material = MATERIALS[part.material]
        friction = [material.friction, *ROLLING_FRICTION]
        hulls = [h for piece in part.pieces for h in piece.hulls]
        body, origin = spec.worldbody, np.zeros(3)
        if part.joint is not None:
            origin = np.array(part.joint.anchor)
            body = spec.worldbody.add_body(name=f"{prefix}{part.label}", pos=list(origin))
            body.add_joint(
                name=joint_name(prefix, part.label),
                type=JOINT_TYPES[part.joint.kind],
                axis=list(part.joint.axis),
                damping=part.joint.damping,
                armature=part.joint.armature,
                **_joint_range(part.joint.range),
            )
        for index, hull in enumerate(hulls):
            mesh_name = f"mesh_{hull.key}"
            if mesh_name not in meshes:  # identical meshes are stored once
                mesh = spec.add_mesh(name=mesh_name)
                mesh.uservert = hull.vertices.ravel().tolist()
                mesh.userface = hull.faces.ravel().tolist()
                meshes.add(mesh_name)
            body.add_geom(
                name=f"{prefix}{part.label}_{index}",
                type=mujoco.mjtGeom.mjGEOM_MESH,
                meshname=mesh_name,
                pos=(np.array(hull.offset) - origin).tolist(),
                friction=friction,
                density=material.density,
                condim=6,
                rgba=list(rgba),
            )


JOINT_TYPES = {"hinge": mujoco.mjtJoint.mjJNT_HINGE, "slide": mujoco.mjtJoint.mjJNT_SLIDE}


def joint_name(prefix: str, label: str) -> str:
    return f"{prefix}{label}_joint"


def _joint_range(limits: tuple[float, float] | None) -> dict:
    if limits is None:
        return {"limited": mujoco.mjtLimited.mjLIMITED_FALSE}
    return {"limited": mujoco.mjtLimited.mjLIMITED_TRUE, "range": list(limits)}


def add_actuators(spec: mujoco.MjSpec, actuators: tuple[ActuatorSpec, ...], prefix: str) -> None:
    """Each actuator on its joint, its control and force limited as declared."""
    for declared in actuators:
        actuator = spec.add_actuator(
            name=declared.name,
            target=joint_name(prefix, declared.joint),
            trntype=mujoco.mjtTrn.mjTRN_JOINT,
        )
        if declared.kind == "position":
            actuator.set_to_position(kp=declared.gain, dampratio=1.0)
        elif declared.kind == "velocity":
            actuator.set_to_velocity(kv=declared.gain)
        else:
            actuator.set_to_motor()
        actuator.ctrllimited = mujoco.mjtLimited.mjLIMITED_TRUE
        actuator.ctrlrange = list(declared.control_range)
        actuator.forcelimited = mujoco.mjtLimited.mjLIMITED_TRUE
        actuator.forcerange = [-declared.force_limit, declared.force_limit]


def _add_payload(spec: mujoco.MjSpec, scenario: Scenario) -> None:
    payload = scenario.payload
    body = spec.worldbody.add_body(name=payload.body_name, pos=list(payload.start_position))
    body.add_freejoint(name=PAYLOAD_JOINT)
    if payload.shape is PayloadShape.ring:
        _add_ring(body, payload)
        return
    geom_type = {
        PayloadShape.sphere: mujoco.mjtGeom.mjGEOM_SPHERE,
        PayloadShape.box: mujoco.mjtGeom.mjGEOM_BOX,
        PayloadShape.cylinder: mujoco.mjtGeom.mjGEOM_CYLINDER,
        PayloadShape.capsule: mujoco.mjtGeom.mjGEOM_CAPSULE,
    }[payload.shape]
    body.add_geom(
        name=f"{payload.body_name}_geom",
        type=geom_type,
        size=[*payload.size, 0, 0][:3],
        mass=payload.mass,
        friction=[MATERIALS[payload.material].friction, *ROLLING_FRICTION],
        condim=6,
        rgba=list(COLORS["payload"]),
    )


def ring_segments(size: list[float]) -> list[tuple[tuple[float, float], list[float], float]]:
    """A ring [outer radius, half band width, half-height] as `RING_SEGMENTS` boxes: each
    one's centre (x, y), half sizes and yaw (radians) about the ring's axis."""
    outer, half_band, half_height = size
    half_angle = math.pi / RING_SEGMENTS
    far = outer * math.cos(half_angle)  # the outer corners lie on the outer radius
    middle = far - half_band
    half_chord = far * math.tan(half_angle)
    segments = []
    for k in range(RING_SEGMENTS):
        yaw = 2 * half_angle * k
        centre = (middle * math.cos(yaw), middle * math.sin(yaw))
        segments.append((centre, [half_band, half_chord, half_height], yaw))
    return segments


def _add_ring(body: mujoco.MjsBody, payload: Payload) -> None:
    for k, (centre, half_sizes, yaw) in enumerate(ring_segments(payload.size)):
        body.add_geom(
            name=f"{payload.body_name}_geom" + (f"_{k}" if k else ""),
            type=mujoco.mjtGeom.mjGEOM_BOX,
            pos=[*centre, 0.0],
            quat=[math.cos(yaw / 2), 0.0, 0.0, math.sin(yaw / 2)],
            size=half_sizes,
            mass=payload.mass / RING_SEGMENTS,
            friction=[MATERIALS[payload.material].friction, *ROLLING_FRICTION],
            condim=6,
            rgba=list(COLORS["payload"]),
        )


def _add_zones(spec: mujoco.MjSpec, scenario: Scenario) -> None:
    zones = [
        ("goal_zone", scenario.goal_zone, COLORS["goal"]),
        ("build_zone", scenario.build_zone, COLORS["build"]),
    ]
    zones += [(f"forbid_{z.name}", z, COLORS["forbid"]) for z in scenario.forbid_zones]
    for name, box, rgba in zones:
        spec.worldbody.add_site(
            name=name,
            type=mujoco.mjtGeom.mjGEOM_BOX,
            pos=list(box.center),
            size=[s / 2 for s in box.size],
            rgba=list(rgba),
        )


def _add_lights_and_cameras(spec: mujoco.MjSpec, bounds: Box3) -> None:
    center = np.array(bounds.center)
    extent = np.array(bounds.size)
    reach = float(np.linalg.norm(extent))
    spec.add_texture(
        name="sky",
        type=mujoco.mjtTexture.mjTEXTURE_SKYBOX,
        builtin=mujoco.mjtBuiltin.mjBUILTIN_GRADIENT,
        rgb1=[0.85, 0.9, 0.95],
        rgb2=[0.35, 0.4, 0.5],
        width=64,
        height=64,
    )
    spec.worldbody.add_light(
        name="sun",
        pos=[*center[:2].tolist(), bounds.max[2] + reach],
        dir=[0.2, 0.3, -1.0],
        type=mujoco.mjtLightType.mjLIGHT_DIRECTIONAL,
        castshadow=False,
    )
    eyes = {
        "iso": center + np.array([0.45, -0.7, 0.5]) * reach,
        "side": center + np.array([0.0, -0.95, 0.12]) * reach,
        "top": center + np.array([0.0, -0.01, 1.0]) * reach,
    }
    for name in CAMERAS:
        spec.worldbody.add_camera(
            name=name, pos=eyes[name].tolist(), xyaxes=_look_at(eyes[name], center), fovy=45
        )


def _look_at(eye: np.ndarray, target: np.ndarray) -> list[float]:
    """Camera x and y axes for a camera at `eye` looking at `target` with z up."""
    forward = target - eye
    forward /= np.linalg.norm(forward)
    right = np.cross(forward, [0.0, 0.0, 1.0])
    right /= np.linalg.norm(right)
    up = np.cross(right, forward)
    return [*right.tolist(), *up.tolist()]
