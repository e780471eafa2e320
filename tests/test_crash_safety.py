"""Killing `benchgen build` at any point and running it again loses and duplicates nothing.

The real command runs in its own process group; the moment a new file appears at a kill point
the whole group gets SIGKILL. The next plain `benchgen build` must end with a dataset identical
to an uninterrupted build: same version, same bytes in every listed file, nothing extra.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from benchgen_dagster.dataset import read_manifest, verify
from benchgen_dagster.stores.local import STAGED

BUILD = [
    sys.executable,
    "-m",
    "benchgen_dagster.cli",
    "build",
    "--family",
    "ball_sideways",
    "--variants",
    "2",
    "--workers",
    "1",
]
# Where to kill, in the order a build writes them: a glob under the data folder.
KILL_POINTS = [
    "dagster/storage/**/*",
    "assets/generation_requests/*/record.json",
    "assets/family_scripts/*/record.json",
    "assets/scenario_variants/*/*.stl",
    "assets/scenario_variants/*/record.json",
    "assets/validated_simulations/*/*.xml",
    "assets/scenario_renders/*/*.png",
    "assets/dataset_shards/*/*.tar",
    "assets/dataset_shards/*/record.json",
    "datasets/default/shards/*.tar",
    "datasets/default/index.parquet",
    "datasets/default/manifest.json",
]


def build(data: Path, *extra: str) -> subprocess.Popen[bytes]:
    env = {**os.environ, "BENCHGEN_DATA_DIR": str(data), "DAGSTER_HOME": str(data / "dagster")}
    return subprocess.Popen(
        [*BUILD, "--data-dir", str(data), *extra],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )


def finish(process: subprocess.Popen[bytes]) -> None:
    _, stderr = process.communicate(timeout=300)
    assert process.returncode == 0, stderr.decode()[-3000:]


def kill_when_written(
    process: subprocess.Popen[bytes], data: Path, pattern: str, since: float
) -> bool:
    """SIGKILL the build's process group once a file matching `pattern` is written anew;
    False if the build finished first."""
    while process.poll() is None:
        if any(p.is_file() and p.stat().st_mtime >= since for p in data.glob(pattern)):
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
            return True
        time.sleep(0.005)
    return False


def fingerprint(dataset: Path) -> tuple[str, dict[str, str]]:
    manifest = read_manifest(dataset)
    files = {e.path: e.sha256 for e in [*manifest.shards, manifest.index, *manifest.files]}
    return manifest.version, files


@pytest.fixture(scope="module")
def built_once(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, tuple[str, dict[str, str]]]:
    """A data folder holding an uninterrupted build, and that build's fingerprint."""
    data = tmp_path_factory.mktemp("data")
    finish(build(data))
    return data, fingerprint(data / "datasets" / "default")


# Two groups, so that two test workers share the kill points (each builds its own folder once).
@pytest.mark.parametrize(
    "pattern",
    [
        pytest.param(p, marks=pytest.mark.xdist_group(f"crash-safety-{k % 2}"))
        for k, p in enumerate(KILL_POINTS)
    ],
)
def test_a_build_killed_at_any_point_resumes_to_the_same_dataset(
    built_once: tuple[Path, tuple[str, dict[str, str]]], pattern: str
) -> None:
    data, reference = built_once
    since = time.time()
    killed = kill_when_written(build(data, "--force"), data, pattern, since)
    assert killed or pattern.endswith("manifest.json"), f"the build never wrote {pattern}"
    finish(build(data))
    dataset = data / "datasets" / "default"
    assert fingerprint(dataset) == reference
    check = verify(dataset)
    assert check.ok, check
    # A killed writer leaves its staged file (`.tmp-<pid>-…`); the next build removes them.
    leftovers = [p for p in data.rglob(f"{STAGED}*") if "dagster" not in p.parts]
    assert not leftovers
