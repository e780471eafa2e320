"""What a shard holds for each scenario, and the Hugging Face features that describe it.

`scenario.json` and `validation.json` are the contract's models as JSON. A reader that holds one
schema for every row of a split (Hugging Face `datasets`) cannot hold their open-ended maps, whose
keys change from family to family and from stage to stage (a scenario's `params`, its lineage's
`code_versions`, each stage's `measurements`): it would null or drop some keys. So every
scenario also carries `maps.json`: those maps again, as canonical JSON text, nested as in their
members (`{"scenario": {"params": "…", "lineage": {"code_versions": "…"}}, "validation":
{"stages": [{"measurements": "…"}, …]}}`). Text is a shape no schema narrows; the card declares
every other field with its exact type, derived here from the same pydantic models.
"""

from __future__ import annotations

import json
import re
import types
from enum import Enum
from typing import Any, Literal, Union, get_args, get_origin

from pydantic import BaseModel

from benchgen_dagster.schema.contract import Scenario, ValidationReport, params_json

MAPS = "maps.json"
# The JSON members, each with the model it holds, under the key `maps.json` files its maps by.
RECORDS: dict[str, tuple[str, type[BaseModel]]] = {
    "scenario.json": ("scenario", Scenario),
    "validation.json": ("validation", ValidationReport),
}
BINARY_MEMBERS = ("mjcf.xml", "solution.mjcf.xml", "script.py")
CONTROLS = "solution.controls.json"  # kinematic solutions only: `contract.Controls`
FILMSTRIP = "filmstrip.png"  # kinematic scenarios only: frames of the reference run
FILMSTRIP_FRAMES = 5
RENDER = re.compile(r"render_\d+\.png")
SCALARS = {str: "string", int: "int64", float: "float64", bool: "bool"}


def member_json(value: object) -> bytes:
    """A JSON member's bytes: indented, keys sorted, one newline at the end."""
    return (json.dumps(value, indent=2, sort_keys=True) + "\n").encode()


def maps_member(records: dict[str, dict[str, Any]]) -> bytes:
    """`maps.json` of one scenario, from its JSON members (`{"scenario.json": {...}, ...}`)."""
    return member_json(
        {
            key: _maps_of(records[member], model)
            for member, (key, model) in RECORDS.items()
            if member in records
        }
    )


def _maps_of(data: dict[str, Any], model: type[BaseModel]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, (kind, inner) in _fields(model):
        value = data.get(name)
        if kind == "map":
            out[name] = None if value is None else params_json(value)
        elif kind == "model" and _has_maps(inner):
            out[name] = None if value is None else _maps_of(value, inner)
        elif kind == "list" and inner[0] == "model" and _has_maps(inner[1]):
            out[name] = None if value is None else [_maps_of(v, inner[1]) for v in value]
    return out


def with_maps(data: dict[str, Any], maps: dict[str, Any], model: type[BaseModel]) -> dict[str, Any]:
    """A JSON member as a schema-holding reader returns it (without its maps), with the maps
    put back from their text in `maps.json`: what the member's own file holds."""
    out = dict(data)
    for name, (kind, inner) in _fields(model):
        if name not in maps or maps[name] is None:
            continue
        if kind == "map":
            out[name] = json.loads(maps[name])
        elif kind == "model" and out.get(name) is not None:
            out[name] = with_maps(out[name], maps[name], inner)
        elif kind == "list" and inner[0] == "model" and out.get(name) is not None:
            out[name] = [
                with_maps(item, item_maps, inner[1])
                for item, item_maps in zip(out[name], maps[name], strict=True)
            ]
    return out


# --- Hugging Face features --------------------------------------------------------------------


def card_features(members: list[str]) -> list[dict[str, Any]]:
    """`dataset_info.features` of a card: one entry per member a sample holds, in that order,
    then the webdataset builder's `__key__` and `__url__`."""
    return [
        *({"name": member, **_member_feature(member)} for member in members),
        {"name": "__key__", "dtype": "string"},
        {"name": "__url__", "dtype": "string"},
    ]


def _member_feature(member: str) -> dict[str, Any]:
    if member in RECORDS:
        return {"struct": _struct(RECORDS[member][1])}
    if member == MAPS:
        return {"struct": [{"name": k, "struct": _maps_struct(m)} for k, m in RECORDS.values()]}
    if member in BINARY_MEMBERS:
        return {"dtype": "binary"}
    if member == CONTROLS:  # its keys are the actuators' names, so no struct can hold it
        return {"dtype": "json"}
    if member == FILMSTRIP:
        return {"dtype": "image"}
    if RENDER.fullmatch(member):
        return {"dtype": "image"}
    raise ValueError(f"no Hugging Face feature is declared for the shard member {member!r}")


def _struct(model: type[BaseModel]) -> list[dict[str, Any]]:
    """A model's fields with their exact types; its maps are left to `maps.json`."""
    return [
        {"name": name, **_feature(shape)} for name, shape in _fields(model) if shape[0] != "map"
    ]


def _feature(shape: Shape) -> dict[str, Any]:
    kind, inner = shape
    if kind == "scalar":
        return {"dtype": inner}
    if kind == "model":
        return {"struct": _struct(inner)}
    if kind == "list" and inner[0] == "scalar":
        return {"list": inner[1]}
    if kind == "list" and inner[0] == "model":
        return {"list": _struct(inner[1])}
    raise TypeError(f"no Hugging Face feature for {shape}")


def _maps_struct(model: type[BaseModel]) -> list[dict[str, Any]]:
    """The features of `maps.json` for one model: its maps as text, nested as in the model."""
    out: list[dict[str, Any]] = []
    for name, (kind, inner) in _fields(model):
        if kind == "map":
            out.append({"name": name, "dtype": "string"})
        elif kind == "model" and _has_maps(inner):
            out.append({"name": name, "struct": _maps_struct(inner)})
        elif kind == "list" and inner[0] == "model" and _has_maps(inner[1]):
            out.append({"name": name, "list": _maps_struct(inner[1])})
    return out


# --- the shapes of the models' fields ---------------------------------------------------------

# ("map", None), ("scalar", dtype), ("model", class) or ("list", the items' shape)
Shape = tuple[str, Any]


def _fields(model: type[BaseModel]) -> list[tuple[str, Shape]]:
    return [(name, _shape(info.annotation)) for name, info in model.model_fields.items()]


def _has_maps(model: type[BaseModel]) -> bool:
    for _, (kind, inner) in _fields(model):
        nested = inner if kind == "model" else inner[1] if kind == "list" else None
        if kind == "map" or (isinstance(nested, type) and _has_maps(nested)):
            return True
    return False


def _shape(annotation: Any) -> Shape:
    origin, args = get_origin(annotation), get_args(annotation)
    if origin in (Union, types.UnionType):
        rest = [a for a in args if a is not type(None)]
        if len(rest) != 1:
            raise TypeError(f"no Hugging Face feature for the union {annotation}")
        return _shape(rest[0])
    if origin is dict:
        return ("map", None)
    if origin in (list, tuple):
        items = {_shape(a) for a in args if a is not Ellipsis}
        if len(items) != 1:
            raise TypeError(f"no Hugging Face feature for {annotation}: its items differ")
        return ("list", items.pop())
    if origin is Literal and all(isinstance(a, str) for a in args):
        return ("scalar", "string")
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return ("model", annotation)
    if isinstance(annotation, type) and issubclass(annotation, Enum):
        return ("scalar", "string")
    if annotation in SCALARS:
        return ("scalar", SCALARS[annotation])
    raise TypeError(f"no Hugging Face feature for {annotation}")
