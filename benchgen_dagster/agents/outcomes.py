"""What the generator agent ends with, as the assets see it: importing this costs nothing, so
the definitions (and every run) load without the agent's graph and LangChain."""

from __future__ import annotations

from benchgen_dagster.errors import UserError
from benchgen_dagster.schema.contract import Model

DEFAULT_ROUNDS = 3
MODEL_VARIABLE = "BENCHGEN_AGENT_MODEL"


class AgentNotConfigured(UserError):
    pass


class AgentRecord(Model):
    """What the Coder and Reviewer achieved: kept in the workspace and in the lineage."""

    approved: bool
    rounds: int
    max_rounds: int
    reasons: list[str]
    trace_id: str | None = None
    free_form_reason: str | None = None  # why a free-form script rather than a spec


class FamilyRejected(Exception):
    def __init__(self, record: AgentRecord) -> None:
        self.record = record
        super().__init__(
            f"the agent's family was rejected after {record.rounds} of {record.max_rounds} "
            f"rounds: {'; '.join(record.reasons)}"
        )
