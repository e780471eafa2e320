"""Choosing the sandbox: the strongest available, or the one asked for."""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from typing import Literal, get_args

from benchgen_dagster.errors import ConfigError, UserError
from benchgen_dagster.sandbox.runner import Launcher

log = logging.getLogger(__name__)

SandboxKind = Literal["auto", "docker", "bubblewrap", "subprocess"]
SANDBOX_KINDS: tuple[SandboxKind, ...] = get_args(SandboxKind)


class SandboxUnavailable(UserError):
    """The sandbox asked for cannot run here; the message says why and what to do."""


def sandbox_kind_from_environment() -> SandboxKind:
    """`BENCHGEN_SANDBOX`, checked; `auto` when unset."""
    kind = os.environ.get("BENCHGEN_SANDBOX", "auto")
    if kind not in SANDBOX_KINDS:
        raise ConfigError(
            f"BENCHGEN_SANDBOX must be one of {', '.join(SANDBOX_KINDS)}, got {kind!r}"
        )
    return kind  # type: ignore[return-value]


def choose_launcher(
    kind: str = "auto",
    warn: Callable[[str], None] = log.warning,
    build_image: bool = False,
) -> Launcher:
    """`docker` when its daemon answers and the worker image exists (or, with `build_image`,
    can be built); else bubblewrap; else a plain subprocess, with a warning for each step down."""
    from benchgen_dagster.sandbox.docker import DockerLauncher, docker_available
    from benchgen_dagster.sandbox.image import ensure_image, image_exists, image_tag
    from benchgen_dagster.sandbox.processes import BubblewrapLauncher, SubprocessLauncher

    if kind not in SANDBOX_KINDS:
        raise SandboxUnavailable(f"unknown sandbox {kind!r}; choose one of {SANDBOX_KINDS}")
    if kind in ("auto", "docker"):
        if docker_available():
            tag = image_tag()
            if image_exists(tag) or (kind == "docker" and build_image):
                return DockerLauncher(ensure_image(warn) if kind == "docker" else tag)
            missing = f"the worker image {tag} is not built (run `benchgen worker-image`)"
        else:
            missing = "no Docker daemon answers"
        if kind == "docker":
            raise SandboxUnavailable(f"the Docker sandbox was asked for, but {missing}")
        reason = f"Docker sandbox unavailable: {missing}"
    else:
        reason = f"the {kind} sandbox was chosen"
    if kind in ("auto", "bubblewrap"):
        if BubblewrapLauncher.available():
            if kind == "auto":
                warn(
                    f"{reason}; scripts run under bubblewrap instead (no network, private file "
                    "system, host libraries visible read-only)"
                )
            return BubblewrapLauncher()
        if kind == "bubblewrap":
            raise SandboxUnavailable(
                "the bubblewrap sandbox was asked for, but `bwrap` is not "
                "installed or cannot create namespaces here "
                "(apt-get install bubblewrap)"
            )
        reason += "; bubblewrap is not available"
    warn(
        f"{reason}: scripts run as a plain subprocess, the WEAKEST sandbox (no network or "
        "file-system isolation; limits only). Do not run untrusted scripts like this."
    )
    return SubprocessLauncher()
