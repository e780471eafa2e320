"""The Docker image the worker runs in, built here from packages only.

No image registry is reachable, so the image starts from a Debian root file system made with
debootstrap from the Debian mirror, imported into Docker; the worker's few Python packages are
downloaded on the host (whose certificates the network path trusts) and installed inside from
that wheelhouse. The tag is a hash of every input, so the image is rebuilt only when one
changes. The benchgen package itself is mounted read-only at run time, not baked in.
"""

from __future__ import annotations

import fcntl
import hashlib
import logging
import re
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

log = logging.getLogger(__name__)

REPOSITORY = "benchgen-worker"
RECIPE_VERSION = "1"  # bump when the way the image is built changes
SUITE = "bookworm"
DEBIAN_PACKAGES = ("python3", "python3-venv", "libgl1", "libstdc++6")
WORKER_PACKAGES = ("build123d", "numpy", "dagster-pipes")
CONSTRAINTS = Path(__file__).resolve().parents[2] / "constraints.txt"
VENV = "/opt/venv"
LOCK = Path(tempfile.gettempdir()) / "benchgen-worker-image.lock"


class ImageBuildError(RuntimeError):
    pass


def debian_mirror() -> str:
    """The Debian mirror this machine's apt uses."""
    for source in [
        *sorted(Path("/etc/apt/sources.list.d").glob("*.sources")),
        Path("/etc/apt/sources.list"),
    ]:
        if source.exists():
            match = re.search(r"^\s*(?:URIs:|deb)\s+(\S*debian)\b", source.read_text(), re.M)
            if match:
                return match.group(1)
    return "http://deb.debian.org/debian"


def pinned_requirements() -> list[str]:
    """The worker's packages at the versions the project pins."""
    pins = {}
    for line in CONSTRAINTS.read_text().splitlines():
        name, _, version = line.partition("==")
        pins[name.strip().lower()] = version.strip()
    return [f"{name}=={pins[name]}" if name in pins else name for name in WORKER_PACKAGES]


def image_tag() -> str:
    """`benchgen-worker:<hash of the inputs>`."""
    recipe = [
        SUITE,
        debian_mirror(),
        *DEBIAN_PACKAGES,
        *pinned_requirements(),
        CONSTRAINTS.read_text(),
        Path(__file__).read_text(),
    ]
    digest = hashlib.sha256("\0".join(recipe).encode()).hexdigest()[:12]
    return f"{REPOSITORY}:{digest}"


def image_exists(tag: str) -> bool:
    import docker

    try:
        docker.from_env().images.get(tag)
        return True
    except docker.errors.ImageNotFound:
        return False


def ensure_image(say: Callable[[str], None] = log.info) -> str:
    """The worker image's tag, building the image first if it does not exist yet. Builds are
    serialised by a lock file, so processes that need the image at once build it once."""
    tag = image_tag()
    if image_exists(tag):
        return tag
    with open(LOCK, "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if image_exists(tag):  # another process built it while this one waited
            return tag
        _build(tag, say)
    return tag


def _build(tag: str, say: Callable[[str], None]) -> None:
    say(f"building the worker image {tag} (a few minutes, once)")
    with tempfile.TemporaryDirectory(prefix="benchgen-image-", dir="/var/tmp") as tmp:
        root, wheels = Path(tmp) / "rootfs", Path(tmp) / "wheels"
        say("  debootstrap: a minimal Debian root file system")
        _run(
            [
                "debootstrap",
                "--variant=minbase",
                f"--include={','.join(DEBIAN_PACKAGES)}",
                SUITE,
                str(root),
                debian_mirror(),
            ]
        )
        base = f"{REPOSITORY}-base:{tag.split(':')[1]}"
        say("  docker import")
        _run(["sh", "-c", f"tar -C {root} -c . | docker import - {base}"])
        say("  pip download: the worker's wheels")
        _run(
            [
                sys.executable,
                "-m",
                "pip",
                "download",
                "--quiet",
                "--only-binary=:all:",
                "--disable-pip-version-check",
                "-d",
                str(wheels),
                "-c",
                str(CONSTRAINTS),
                *pinned_requirements(),
            ]
        )
        say("  pip install inside the image")
        builder = f"{REPOSITORY}-build-{tag.split(':')[1]}"
        install = (
            f"python3 -m venv {VENV} && {VENV}/bin/pip install --quiet --no-index "
            f"--disable-pip-version-check --find-links /wheels {' '.join(pinned_requirements())}"
            f" && rm -rf /root/.cache"
        )
        try:
            _run(
                [
                    "docker",
                    "run",
                    "--name",
                    builder,
                    "-v",
                    f"{wheels}:/wheels:ro",
                    base,
                    "sh",
                    "-c",
                    install,
                ]
            )
            _run(
                [
                    "docker",
                    "commit",
                    "--change",
                    f"ENV PATH={VENV}/bin:/usr/local/bin:/usr/bin:/bin",
                    "--change",
                    "USER 65534:65534",
                    "--change",
                    "WORKDIR /tmp",
                    builder,
                    tag,
                ]
            )
        finally:
            subprocess.run(["docker", "rm", "-f", builder], capture_output=True, check=False)
            subprocess.run(["docker", "rmi", base], capture_output=True, check=False)
    say(f"built {tag}")


def _run(command: list[str]) -> None:
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise ImageBuildError(f"{' '.join(command[:3])} … failed:\n{result.stderr[-3000:]}")
