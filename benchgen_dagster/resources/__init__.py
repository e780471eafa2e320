"""Dagster resources: settings, storage, the sandbox, the generator agent."""

from benchgen_dagster.resources.generator import AgentResource, agent_from_environment
from benchgen_dagster.resources.settings import PipelineSettings, settings_from_environment
from benchgen_dagster.resources.storage import (
    BundleIOManager,
    StorageResource,
    storage_from_environment,
)
from benchgen_dagster.resources.workers import SandboxResource
from benchgen_dagster.sandbox.select import sandbox_kind_from_environment


def resources_from_environment() -> dict[str, object]:
    return {
        **settings_resources(settings_from_environment()),
        "sandbox": SandboxResource(kind=sandbox_kind_from_environment()),
        "agent": agent_from_environment(),
    }


def settings_resources(settings: PipelineSettings) -> dict[str, object]:
    """The resources built on the settings: the settings, and the storage and IO manager that
    keep asset values where they say."""
    storage = storage_from_environment(settings)
    return {
        "settings": settings,
        "storage": storage,
        "io_manager": BundleIOManager(storage=storage),
    }


__all__ = [
    "AgentResource",
    "BundleIOManager",
    "PipelineSettings",
    "SandboxResource",
    "StorageResource",
    "resources_from_environment",
]
