"""The built-in catalogue: one generation request per registered family.

These are the default dataset's partitions. A request's id is its family's name, so the
partition of a family is easy to find in the UI.
"""

from __future__ import annotations

from benchgen_dagster.catalogue.registry import registry
from benchgen_dagster.schema.records import GenerationRequest

DEFAULT_VARIANTS = 16


def builtin_requests(variants: int = DEFAULT_VARIANTS) -> list[GenerationRequest]:
    return [
        GenerationRequest(
            request_id=family.name,
            prompt=family.title,
            family=family.name,
            variants=variants,
        )
        for family in registry().values()
    ]


def builtin_request(request_id: str, variants: int = DEFAULT_VARIANTS) -> GenerationRequest | None:
    return next((r for r in builtin_requests(variants) if r.request_id == request_id), None)
