"""Dagster resources: settings, storage, the sandbox, the generator agent."""

from benchgen_dagster.resources.generator import AgentResource, agent_from_environment
from benchgen_dagster.resources.settings import PipelineSettings, settings_from_environment
from benchgen_dagster.resources.storage import (
    BundleIOManager,
    StorageResource,
    storage_from_environment,
)
from benchgen_dagster.resources.workers import SandboxResource, sandbox_kind_from_environment


def resources_from_environment() -> dict[str, object]:
    settings = settings_from_environment()
    storage = storage_from_environment(settings)
    return {
        "settings": settings,
        "storage": storage,
        "io_manager": BundleIOManager(storage=storage),
        "sandbox": SandboxResource(kind=sandbox_kind_from_environment()),
        "agent": agent_from_environment(),
    }


__all__ = [
    "AgentResource",
    "BundleIOManager",
    "PipelineSettings",
    "SandboxResource",
    "StorageResource",
    "resources_from_environment",
]
