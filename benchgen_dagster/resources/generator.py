"""The generator agent's configuration: which chat model, how many repair rounds."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from dagster import ConfigurableResource
from pydantic import Field

from benchgen_dagster.agents.outcomes import DEFAULT_ROUNDS, MODEL_VARIABLE
from benchgen_dagster.errors import env_int
from benchgen_dagster.resources.settings import env_or

if TYPE_CHECKING:
    from langchain_core.language_models import BaseChatModel

    from benchgen_dagster.agents.graph import GeneratorAgent
    from benchgen_dagster.schema.records import GenerationRequest


class AgentResource(ConfigurableResource):
    """The chat model behind agent-written families. Without one, requests that name no
    built-in family fail with a clear message and everything else works offline."""

    model: str | None = Field(
        default=None, description="A LangChain init_chat_model string, e.g. anthropic:..."
    )
    max_rounds: int = Field(default=DEFAULT_ROUNDS, ge=1, description="Validation rounds")

    # The graph and LangChain are imported when an agent is used, not with the definitions.
    def chat_models(self, request_id: str) -> Mapping[str, BaseChatModel]:
        from benchgen_dagster.agents.graph import chat_models

        return chat_models(self.model, request_id)

    def generator(
        self, request: GenerationRequest, workspaces: Path, sandbox: str
    ) -> GeneratorAgent:
        from benchgen_dagster.agents.graph import GeneratorAgent
        from benchgen_dagster.agents.workspace import Workspace

        return GeneratorAgent(
            self.chat_models(request.request_id),
            Workspace(workspaces / request.request_id),
            request,
            max_rounds=self.max_rounds,
            sandbox=sandbox,
        )


def agent_from_environment() -> AgentResource:
    return AgentResource(
        model=env_or(MODEL_VARIABLE, None),
        max_rounds=env_int("BENCHGEN_AGENT_ROUNDS", DEFAULT_ROUNDS),
    )
