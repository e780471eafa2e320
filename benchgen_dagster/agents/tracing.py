"""Langfuse traces of agent runs, only when its keys are in the environment.

With `LANGFUSE_PUBLIC_KEY` and `LANGFUSE_SECRET_KEY` set (and `LANGFUSE_HOST` for a
self-hosted server), every run of the graph is one trace, through Langfuse's LangChain
callback handler, tagged with the request, partition and family. Without them nothing is
imported, sent or warned about.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

KEYS = ("LANGFUSE_PUBLIC_KEY", "LANGFUSE_SECRET_KEY")


def tracing_configured() -> bool:
    return all(os.environ.get(key) for key in KEYS)


@dataclass
class Tracer:
    """The callbacks and metadata to run a graph with, and the id of its trace (or None)."""

    trace_id: str | None = None
    callbacks: list[Any] = field(default_factory=list)
    metadata: dict[str, Any] = field(default_factory=dict)

    def config(self) -> dict[str, Any]:
        return {"callbacks": self.callbacks, "metadata": self.metadata}


@contextmanager
def traced(name: str, request_id: str, partition: str, family: str) -> Iterator[Tracer]:
    """A tracer for one agent run; the trace is flushed when the run ends."""
    metadata = {"request_id": request_id, "partition": partition, "family": family}
    if not tracing_configured():
        yield Tracer(metadata=metadata)
        return
    from langfuse import Langfuse, get_client
    from langfuse.langchain import CallbackHandler

    trace_id = Langfuse.create_trace_id()
    handler = CallbackHandler(trace_context={"trace_id": trace_id})
    langfuse_keys = {
        "langfuse_trace_name": name,
        "langfuse_session_id": request_id,
        "langfuse_tags": ["benchgen", f"family:{family}"],
    }
    try:
        yield Tracer(trace_id, [handler], {**metadata, **langfuse_keys})
    finally:
        get_client().flush()
