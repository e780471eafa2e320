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
def reference(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, dict[str, str]]:
    data = tmp_path_factory.mktemp("reference")
    finish(build(data))
    return fingerprint(data / "datasets" / "default")


@pytest.fixture(scope="module")
def resumed_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    data = tmp_path_factory.mktemp("resumed")
    finish(build(data))
    return data


@pytest.mark.parametrize("pattern", KILL_POINTS)
def test_a_build_killed_at_any_point_resumes_to_the_same_dataset(
    reference, resumed_data: Path, pattern: str
) -> None:
    since = time.time()
    killed = kill_when_written(build(resumed_data, "--force"), resumed_data, pattern, since)
    assert killed or pattern.endswith("manifest.json"), f"the build never wrote {pattern}"
    finish(build(resumed_data))
    dataset = resumed_data / "datasets" / "default"
    assert fingerprint(dataset) == reference
    check = verify(dataset)
    assert check.ok, check
    leftovers = [p for p in resumed_data.rglob("*.partial")]
    assert not leftovers
