"""A course spec as a family: its plan, and its script (the builder with the spec in it).

The script is the builder's three lines with the spec as a literal, so its hash covers the
spec, and its code version covers the builder's modules (`catalogue.registry.script_for`).
"""

from __future__ import annotations

import pprint

from benchgen_dagster.catalogue.registry import script_for
from benchgen_dagster.courses.layout import KINEMATIC_MODULES
from benchgen_dagster.courses.spec import PAYLOAD_SIZES, CourseSpec
from benchgen_dagster.schema.records import FamilyPlan, FamilyScript, FamilySource

SCRIPT = '''"""{title}

A course in the scenario language, built by the trusted course builder.
"""

from benchgen_dagster.courses.build import build_course

SPEC = {spec}
PARAMS = {params}


def build(seed, params):
    return build_course(SPEC, seed, params)
'''


def describe(spec: CourseSpec) -> str:
    """The course in words: its payload and modules, in order."""
    payload = spec.payload
    sizes = ", ".join(
        f"{key} {_value(getattr(payload, key))} mm"
        for key in PAYLOAD_SIZES
        if getattr(payload, key) is not None
    )
    material = (
        payload.material if isinstance(payload.material, str) else " or ".join(payload.material)
    )
    modules = ", then ".join(m.type.replace("_", " ") for m in spec.modules)
    return f"A {material} {payload.shape} ({sizes}) over a course: {modules}."


def _value(value: object) -> str:
    if isinstance(value, tuple | list):
        return f"{value[0]:g}–{value[1]:g}"
    return f"{value:g}"  # type: ignore[str-format]


def spec_plan(spec: CourseSpec, family: str, source: FamilySource) -> FamilyPlan:
    return FamilyPlan(
        family=spec.name or family,
        description=describe(spec),
        payload=describe(spec).split(" over ")[0],
        zones=(
            f"The goal is the inside of the {spec.modules[-1].type} at the end of the course. "
            "Forbid zones cover the floors of gaps and the floor outside corridors. The build "
            "zone spans the course from behind the payload to above the goal."
        ),
        parameters=spec.parameters(),
        reference_solution=(
            "A straight chute from under the payload down to above the goal, one plank per "
            "module it crosses"
            + (
                "; for each gate, lever or slider an arm or pusher on the barrier's joint, "
                "driven by a position actuator that opens the barrier before the payload comes."
                if any(m.type in KINEMATIC_MODULES for m in spec.modules)
                else "."
            )
        ),
        source=source,
        spec=spec,
    )


def spec_script(spec: CourseSpec, family: str, origin: FamilySource) -> FamilyScript:
    source = SCRIPT.format(
        title=describe(spec),
        spec=pprint.pformat(spec.as_data(), sort_dicts=False, width=96),
        params=pprint.pformat(
            {k: v.model_dump(exclude_none=True) for k, v in spec.parameters().items()}, width=96
        ),
    )
    return script_for(family, source, origin)
