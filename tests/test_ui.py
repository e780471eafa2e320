"""As a user would: `dagster dev` from the repository root, a request file dropped in the
requests folder, the sensor's run followed through Dagster's GraphQL API, and the UI opened in
headless Chromium (Debian's package, driven by Playwright) for screenshots."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from benchgen_dagster.dataset import read_manifest

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
CHROMIUM = "/usr/bin/chromium"
RUNS = """
query Runs($filter: RunsFilter) {
  runsOrError(filter: $filter) { ... on Runs { results { runId jobName status } } }
}
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def graphql(url: str, query: str, variables: dict | None = None) -> dict:
    body = json.dumps({"query": query, "variables": variables or {}}).encode()
    request = urllib.request.Request(f"{url}/graphql", body, {"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())["data"]


def wait_for(what: str, check, timeout: float, log: Path):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            value = check()
        except OSError:
            value = None
        if value:
            return value
        time.sleep(2)
    tail = "\n".join(log.read_text(errors="replace").splitlines()[-40:])
    pytest.fail(f"timed out waiting for {what}; dagster dev said:\n{tail}")


def finished_runs(url: str, tags: list[dict] | None = None, job: str | None = None) -> list:
    run_filter: dict = {}
    if tags:
        run_filter["tags"] = tags
    if job:
        run_filter["pipelineName"] = job
    runs = graphql(url, RUNS, {"filter": run_filter})["runsOrError"]["results"]
    failed = [r for r in runs if r["status"] in ("FAILURE", "CANCELED")]
    assert not failed, f"runs failed: {failed}"
    return [r for r in runs if r["status"] == "SUCCESS"]


@pytest.fixture
def dagster_dev(tmp_path: Path) -> Iterator[tuple[str, Path, Path]]:
    data = tmp_path / "data"
    home = data / "dagster"
    env = {**os.environ, "BENCHGEN_DATA_DIR": str(data), "DAGSTER_HOME": str(home)}
    subprocess.run([BIN / "benchgen", "dagster-home", "--data-dir", data], env=env, check=True)
    port = free_port()
    log = tmp_path / "dagster-dev.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [BIN / "dagster", "dev", "-h", "127.0.0.1", "-p", str(port), "-w", "workspace.yaml"],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for("the Dagster webserver", lambda: graphql(url, "{ version }"), 180, log)
        yield url, data, log
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)


def test_a_dropped_request_is_built_and_released_and_the_ui_shows_it(
    dagster_dev: tuple[str, Path, Path], tmp_path: Path
) -> None:
    url, data, log = dagster_dev
    started = time.monotonic()
    written = subprocess.run(
        [
            BIN / "benchgen",
            "request",
            "a ball over a wall",
            "--family",
            "over_wall",
            "--variants",
            "2",
            "--requests-dir",
            data / "requests",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    request_id = written.stdout.split(":")[0]
    partition = [{"key": "dagster/partition", "value": request_id}]
    wait_for("the request's run", lambda: finished_runs(url, tags=partition), 600, log)
    shards = list((data / "assets" / "dataset_shards" / request_id).glob("*.tar"))
    assert shards, "the partition's shard was not stored"
    wait_for("the release", lambda: finished_runs(url, job="release_dataset"), 300, log)
    manifest = read_manifest(data / "datasets" / "default")
    assert [p.request_id for p in manifest.partitions] == [request_id]
    assert manifest.partitions[0].prompt == "a ball over a wall"
    assert manifest.counts["families"] == {"over_wall": 2}
    print(f"request file to released shard: {time.monotonic() - started:.0f} s")
    screenshots(url, request_id, tmp_path / "screenshots")


def screenshots(url: str, request_id: str, folder: Path) -> None:
    if not Path(CHROMIUM).exists():
        message = f"{CHROMIUM} is missing (apt-get install chromium; `make test` does)"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    from playwright.sync_api import TimeoutError as PlaywrightTimeout
    from playwright.sync_api import sync_playwright

    folder.mkdir(parents=True, exist_ok=True)
    pages = {
        "asset-graph": (f"{url}/asset-groups", "packaging"),
        "shard-lineage": (f"{url}/assets/dataset_shards?view=lineage", "dataset_release"),
        "shard-partition": (
            f"{url}/assets/dataset_shards?view=partitions&partition={request_id}",
            request_id,
        ),
    }
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
            ],
        )
        page = browser.new_page(viewport={"width": 1440, "height": 900})
        for name, (address, text) in pages.items():
            page.goto(address)
            skip = page.get_by_role("button", name="Skip")  # the first-visit newsletter dialog
            with contextlib.suppress(PlaywrightTimeout):
                skip.click(timeout=5_000)
            page.get_by_text(text).first.wait_for(timeout=60_000)
            page.wait_for_timeout(1500)  # let the graph lay itself out
            page.screenshot(path=folder / f"{name}.png")
        browser.close()
    for name in pages:
        assert (folder / f"{name}.png").stat().st_size > 10_000, name
    keep = os.environ.get("BENCHGEN_SCREENSHOTS")
    if keep:
        shutil.copytree(folder, keep, dirs_exist_ok=True)
