"""The one schema: records validate what they must, and the exported JSON Schemas are current."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from pydantic import ValidationError

from benchgen_dagster.schema.contract import Box3
from benchgen_dagster.schema.records import GenerationRequest, ParamRange, json_schemas

SCHEMA_DIR = Path(__file__).parents[1] / "docs" / "schema"


def test_exported_json_schemas_match_the_models() -> None:
    for name, document in json_schemas().items():
        on_disk = json.loads((SCHEMA_DIR / f"{name}.schema.json").read_text())
        assert on_disk == document, f"run `benchgen schema` to refresh {name}"


def test_a_box_must_have_min_below_max() -> None:
    with pytest.raises(ValidationError, match="below max"):
        Box3(min=(0, 0, 0), max=(1, 0, 1))


def test_a_request_rejects_ids_that_are_not_slugs() -> None:
    with pytest.raises(ValidationError, match="request_id"):
        GenerationRequest(request_id="Has Spaces", prompt="x")


def test_a_range_is_numbers_or_choices_not_both() -> None:
    with pytest.raises(ValidationError):
        ParamRange(low=0, high=1, choices=["a"])
    with pytest.raises(ValidationError, match="above high"):
        ParamRange(low=2, high=1)
