"""Steps in containers: the run config of `build_partition_in_docker` on one Docker host.

dagster-docker's `docker_executor` starts one container per step, and each runs
`dagster api execute_step` with this very environment. No registry is reachable, so the step
image is a near-empty file system imported into Docker; the host's `/usr`, the Python
installation, the virtual environment and the project are mounted read-only, and the data
folder (with the Dagster home, so the instance is shared) read-write at the same path. On a
cluster the same job runs with an image holding the project and S3 as the shared store (see
the README).
"""

from __future__ import annotations

import io
import os
import sys
import tarfile
from pathlib import Path
from typing import Any

from dagster import ExecutorDefinition, in_process_executor
from dagster_docker import docker_executor

from benchgen_dagster.sandbox.runner import PACKAGE_ROOT

STEP_IMAGE = "benchgen-step:1"
STEP_LABEL = "benchgen.step"
DEPLOYMENT_LABEL = "benchgen.deployment"  # on every container of a deployment: its Dagster home
FOLDERS = ("tmp", "proc", "sys", "dev", "etc", "root", "run", "var/tmp", "work")
MERGED_USR = {"bin": "usr/bin", "lib": "usr/lib", "lib64": "usr/lib64", "sbin": "usr/sbin"}


def ensure_step_image() -> str:
    """The step image, imported once: folders, /usr symlinks and the two accounts."""
    import docker

    client = docker.from_env()
    try:
        client.images.get(STEP_IMAGE)
        return STEP_IMAGE
    except docker.errors.ImageNotFound:
        pass
    repository, tag = STEP_IMAGE.split(":")
    client.api.import_image_from_data(_root_tar(), repository=repository, tag=tag)
    return STEP_IMAGE


def _root_tar() -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for folder in FOLDERS:
            info = tarfile.TarInfo(folder)
            info.type, info.mode = tarfile.DIRTYPE, 0o1777 if "tmp" in folder else 0o755
            tar.addfile(info)
        for link, target in MERGED_USR.items():
            info = tarfile.TarInfo(link)
            info.type, info.linkname = tarfile.SYMTYPE, target
            tar.addfile(info)
        for name, text in {
            "etc/passwd": "root:x:0:0:root:/root:/bin/sh\n",
            "etc/group": "root:x:0:\n",
        }.items():
            data = text.encode()
            info = tarfile.TarInfo(name)
            info.size, info.mode = len(data), 0o644
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def host_mounts(*writable: Path) -> list[str]:
    """Docker volumes: the host's Python stack and the project read-only, `writable` read-write,
    each at its own path."""
    mounts = {
        "/usr": "ro",
        "/etc/alternatives": "ro",  # Debian's symlinks for the GL and EGL libraries
        str(Path(sys.base_prefix).resolve()): "ro",  # the Python installation
        sys.prefix: "ro",  # the virtual environment
        str(PACKAGE_ROOT): "ro",
        **{str(path.resolve()): "rw" for path in writable},
    }
    return sorted({f"{path}:{path}:{mode}" for path, mode in mounts.items()})


def step_environment() -> list[str]:
    """What a step's container runs with besides the settings."""
    return [
        # No Docker inside a step: its scripts run in a plain subprocess, and the step's
        # container (no capabilities) is their boundary.
        "BENCHGEN_SANDBOX=subprocess",
        "MUJOCO_GL=egl",
        "HOME=/tmp",
        f"PATH={sys.prefix}/bin:/usr/bin:/bin",
    ]


def docker_executor_config(data_dir: Path, dagster_home: Path, image: str) -> dict[str, Any]:
    """Run config for `build_partition_in_docker`: paste it in the UI's launchpad or pass it to
    `dagster job execute -c`."""
    data, home = str(data_dir.resolve()), str(dagster_home.resolve())
    return {
        "execution": {
            "config": {
                "image": image,
                "env_vars": [
                    f"DAGSTER_HOME={home}",
                    f"BENCHGEN_DATA_DIR={data}",
                    "BENCHGEN_VARIANTS",
                    *step_environment(),
                ],
                "container_kwargs": {
                    "user": "0",
                    "network_mode": "none",
                    "cap_drop": ["ALL"],
                    "security_opt": ["no-new-privileges"],
                    "labels": {STEP_LABEL: "1"},
                    "volumes": host_mounts(data_dir, dagster_home),
                },
            }
        }
    }


def deployed_step_config(image: str, data_dir: Path, dagster_home: Path) -> dict[str, Any]:
    """The docker_executor's config in the deployment (`deploy/`): each step in a container of
    `image` on the host's network, which reaches PostgreSQL and S3; the run launcher's settings
    (the instance's environment variables) are added by dagster-docker."""
    return {
        "image": image,
        "env_vars": [
            f"DAGSTER_HOME={dagster_home}",
            f"BENCHGEN_STEP_IMAGE={image}",
            *step_environment(),
        ],
        "container_kwargs": {
            "user": "0",
            "network_mode": "host",
            "cap_drop": ["ALL"],
            "security_opt": ["no-new-privileges"],
            "labels": {STEP_LABEL: "1", DEPLOYMENT_LABEL: str(dagster_home)},
            # The run's container has the Docker socket to start the steps; a step has not.
            "volumes": host_mounts(data_dir, dagster_home),
        },
    }


def executor_from_environment() -> ExecutorDefinition:
    """The definitions' executor: a run's steps in its own process, or, where
    `BENCHGEN_STEP_IMAGE` is set (the deployment), each step in a container of that image."""
    image = os.environ.get("BENCHGEN_STEP_IMAGE")
    if not image:
        return in_process_executor
    data_dir = Path(os.environ.get("BENCHGEN_DATA_DIR", "data"))
    dagster_home = Path(os.environ.get("DAGSTER_HOME") or data_dir / "dagster")
    config = deployed_step_config(image, data_dir.resolve(), dagster_home.resolve())
    return docker_executor.configured(config, name="docker_steps")
