"""Curation against real partitions built through Dagster: what is staged, what a curator
decides (from the command line, or on the review page in headless Chromium), and what the
release then holds, with the decisions in its lineage."""

from __future__ import annotations

import dataclasses
import io
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner
from dagster import (
    AssetCheckSeverity,
    DagsterInstance,
    RunRequest,
    SkipReason,
    build_sensor_context,
)

import benchgen_dagster.catalogue.registry as registry_module
from benchgen_dagster.assets.packaging import REVIEW_BACKLOG
from benchgen_dagster.assets.partitions import requests_partitions
from benchgen_dagster.cli import main
from benchgen_dagster.curation.log import CurationLog, DecisionRefused, utc_now
from benchgen_dagster.curation.plans import PlanReviews
from benchgen_dagster.curation.staging import Staging
from benchgen_dagster.dataset import read_index, read_manifest
from benchgen_dagster.dataset.reader import verify
from benchgen_dagster.orchestration.sensors import release_after_decision
from benchgen_dagster.resources import PipelineSettings
from benchgen_dagster.schema.records import FamilyPlan, ReleaseCuration
from benchgen_dagster.stores.local import LocalStore
from tests.agent_scripts import PLAN
from tests.helpers import build_request, release_dataset, resources_for
from tests.test_ui import CHROMIUM, free_port

SOUND, BROKEN = "ball_bin", "ball_sideways"
BIN = Path(sys.executable).parent
# ball_sideways with every odd seed's goal put under the drop: gravity alone solves it, so the
# funnel turns those variants away as trivial
ODD_SEEDS_TRIVIAL = """

def build(seed, params):
    from dataclasses import replace

    base = _sound_build(seed, params)
    if seed % 2 == 0:
        return base
    x, y, _ = base.payload.start
    return replace(base, goal_zone=Zone((x - 150, y - 150, 0.0), (x + 150, y + 150, 150.0)))
"""


@dataclass
class Built:
    instance: DagsterInstance
    settings: PipelineSettings
    root: Path

    @property
    def store(self) -> LocalStore:
        return LocalStore(self.root)

    @property
    def dataset(self) -> Path:
        return self.root / "datasets" / "default"

    @property
    def log(self) -> CurationLog:
        return CurationLog(self.store, "default")

    def staged(self, partition: str) -> list[str]:
        return sorted(
            sid
            for sid, s in Staging.read(self.store, "default").scenarios.items()
            if s.partition == partition
        )

    def release(self):  # type: ignore[no-untyped-def]
        return release_dataset(self.instance, resources_for(self.settings), raise_on_error=False)

    def rebuild(self, partition: str) -> None:
        assert build_request(self.instance, partition, resources_for(self.settings)).success

    def released(self) -> list[str]:
        return sorted(str(row["scenario_id"]) for row in read_index(self.dataset)[1])

    def curation(self) -> ReleaseCuration:
        return ReleaseCuration.model_validate_json((self.dataset / "curation.json").read_text())


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Built]:
    """Two families, three variants each, materialized into an instance of their own; the
    second one's odd seeds are turned away by the funnel."""
    root = tmp_path_factory.mktemp("curation") / "data"
    settings = PipelineSettings(data_dir=str(root), builtin_variants=3, workers=1)
    families = registry_module.registry()
    broken = dataclasses.replace(
        families[BROKEN],
        source=families[BROKEN].source.replace("def build(", "def _sound_build(")
        + ODD_SEEDS_TRIVIAL,
    )
    with pytest.MonkeyPatch.context() as patch, DagsterInstance.ephemeral() as instance:
        patch.setattr(registry_module, "registry", lambda: {**families, BROKEN: broken})
        instance.add_dynamic_partitions(requests_partitions.name, [SOUND, BROKEN])
        done = Built(instance, settings, root)
        for family in (SOUND, BROKEN):
            done.rebuild(family)
        yield done


@pytest.fixture
def fresh(built: Built) -> Built:
    """The built partitions with no curation yet: the policy `auto`, no decision."""
    shutil.rmtree(built.root / "curation", ignore_errors=True)
    return built


def cli(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, list(args))
    return result.exit_code, result.output


def test_under_auto_with_no_decision_every_staged_scenario_is_released_in_its_own_shards(
    fresh: Built,
) -> None:
    assert fresh.release().success
    staged = fresh.staged(SOUND) + fresh.staged(BROKEN)
    assert fresh.released() == staged
    stored = Staging.read(fresh.store, "default").batches
    manifest = read_manifest(fresh.dataset)
    assert sorted(s.sha256 for s in manifest.shards) == sorted(
        s.sha256 for b in stored.values() for s in b.record.shards
    )
    curation = fresh.curation()
    assert (curation.policy, curation.promoted, curation.awaiting_review) == (
        "auto",
        len(staged),
        0,
    )
    assert verify(fresh.dataset).ok


def test_under_review_the_release_holds_the_approved_scenarios_and_shards_name_their_decisions(
    fresh: Built,
) -> None:
    bins, gaps = fresh.staged(SOUND), fresh.staged(BROKEN)
    assert cli("review", "policy", str(fresh.dataset), "review")[0] == 0
    code, said = cli("review", "approve", str(fresh.dataset), bins[0], bins[1], "--note", "good")
    assert code == 0, said
    assert cli("review", "reject", str(fresh.dataset), bins[1], "--note", "ball sticks")[0] == 0
    assert cli("review", "approve", str(fresh.dataset), "--partition", BROKEN)[0] == 0

    assert fresh.release().success
    assert fresh.released() == sorted([bins[0], *gaps])
    approve_bins, reject, approve_gaps = fresh.log.decisions()
    curation = fresh.curation()
    assert curation.scenarios == {
        bins[0]: approve_bins.decision_id,
        **{sid: approve_gaps.decision_id for sid in gaps},
    }
    shards = {Path(path).name.split("-")[1]: ids for path, ids in curation.shards.items()}
    assert shards == {
        SOUND: [approve_bins.decision_id],
        BROKEN: [approve_gaps.decision_id],
    }
    in_force = {d.decision_id for d in curation.decisions}
    assert in_force == {approve_bins.decision_id, reject.decision_id, approve_gaps.decision_id}
    assert approve_bins.who and reject.note == "ball sticks"
    assert (curation.staged, curation.awaiting_review, curation.rejected) == (
        len(bins) + len(gaps),
        len(bins) - 2,
        1,
    )
    assert verify(fresh.dataset).ok


def test_a_decision_changes_the_shards_of_the_partition_it_touched_only(fresh: Built) -> None:
    assert fresh.release().success
    before = {s.path: s.sha256 for s in read_manifest(fresh.dataset).shards}
    fresh.log.append("reject", scenarios=[fresh.staged(SOUND)[0]], note="too easy")
    assert fresh.release().success
    after = {s.path: s.sha256 for s in read_manifest(fresh.dataset).shards}
    changed = {path for path in before if before[path] != after.get(path)}
    assert [Path(path).name.split("-")[1] for path in changed] == [SOUND]
    assert fresh.staged(SOUND)[0] not in fresh.released()


def test_a_rejected_scenario_stays_out_after_a_rebuild_until_a_later_decision_lets_it_in(
    fresh: Built,
) -> None:
    rejected = fresh.staged(BROKEN)[-1]
    fresh.log.append("reject", scenarios=[rejected], note="the gap is too narrow")
    fresh.rebuild(BROKEN)
    assert fresh.release().success
    assert rejected not in fresh.released()
    fresh.log.append("approve", partition=BROKEN, note="narrow gaps are fine after all")
    assert fresh.release().success
    assert rejected in fresh.released()


def test_two_curators_deciding_at_the_same_moment_both_keep_their_decision(fresh: Built) -> None:
    same_moment, start = utc_now(), threading.Barrier(2)
    sid = fresh.staged(SOUND)[0]

    def decide(who: str, action: str) -> None:
        start.wait()
        fresh.log.append(action, scenarios=[sid], who=who, at=same_moment)  # type: ignore[arg-type]

    threads = [
        threading.Thread(target=decide, args=("ada", "approve")),
        threading.Thread(target=decide, args=("grace", "reject")),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(d.who for d in fresh.log.decisions()) == ["ada", "grace"]


def test_a_decision_naming_what_is_not_staged_is_refused_with_the_reason(fresh: Built) -> None:
    code, said = cli("review", "approve", str(fresh.dataset), "ball_bin-s09999", "--note", "x")
    assert code == 2 and "not staged in this dataset: ball_bin-s09999" in said
    code, said = cli("review", "reject", str(fresh.dataset), "--partition", "nope", "--note", "x")
    assert code == 2 and "no partition 'nope' is staged" in said and SOUND in said
    code, said = cli("review", "approve", str(fresh.dataset), "--note", "nothing named")
    assert code == 2 and "name scenario ids" in said
    staging = Staging.read(fresh.store, "default")
    with pytest.raises(DecisionRefused, match=f"not in partition {BROKEN}"):
        staging.check([fresh.staged(SOUND)[0]], BROKEN)
    assert fresh.log.decisions() == []


def test_a_dataset_name_the_store_does_not_know_is_named_with_the_ones_it_does(
    fresh: Built,
) -> None:
    typo = fresh.dataset.parent / "defualt"
    for args in (
        ("list", str(typo)),
        ("approve", str(typo), "ball_bin-s00000"),
        ("plan", str(typo)),
    ):
        code, said = cli("review", *args)
        assert code == 2 and "no dataset 'defualt'" in said and "it has default" in said
    assert not (fresh.root / "curation" / "defualt").exists()


def test_the_page_serves_a_packaged_filmstrip_and_renders_one_for_the_others(
    fresh: Built,
) -> None:
    from PIL import Image

    from benchgen_dagster.curation.page import FILMSTRIP_SIZE, ReviewData
    from benchgen_dagster.dataset.members import FILMSTRIP, FILMSTRIP_FRAMES

    data = ReviewData(fresh.store, "default")
    row = next(s.row for s in data.staging().staged if s.partition == SOUND)
    members = dict(data.members(SOUND, row.shard))
    rendered = Image.open(io.BytesIO(data._render_filmstrip(members, row.scenario_id)))
    assert rendered.size == (FILMSTRIP_SIZE[0] * FILMSTRIP_FRAMES, FILMSTRIP_SIZE[1])
    members[f"{row.scenario_id}.{FILMSTRIP}"] = b"the packaged one"
    assert data._render_filmstrip(members, row.scenario_id) == b"the packaged one"


def test_review_list_shows_where_each_staged_scenario_stands(fresh: Built) -> None:
    sid = fresh.staged(SOUND)[0]
    cli("review", "policy", str(fresh.dataset), "review")
    cli("review", "reject", str(fresh.dataset), sid, "--note", "ball escapes the bin")
    code, said = cli("review", "list", str(fresh.dataset), "--json")
    assert code == 0
    listing = {s["scenario_id"]: s for s in json.loads(said)["scenarios"]}
    assert listing[sid]["status"] == "rejected"
    assert listing[sid]["decision"]["note"] == "ball escapes the bin"
    assert {s["status"] for k, s in listing.items() if k != sid} == {"waiting"}
    code, said = cli("review", "list", str(fresh.dataset), "--waiting")
    assert code == 0 and sid not in said and "1 rejected" in said


def test_a_new_decision_makes_the_sensor_release_again(fresh: Built) -> None:
    resources = {k: v for k, v in resources_for(fresh.settings).items() if k != "io_manager"}

    def tick(cursor: str | None) -> RunRequest | SkipReason:
        with build_sensor_context(
            instance=fresh.instance, cursor=cursor, resources=resources
        ) as context:
            result = release_after_decision(context)
            tick.cursor = context.cursor  # type: ignore[attr-defined]
        return result

    assert isinstance(tick(None), SkipReason)  # auto, no decision: nothing to do
    fresh.log.append("reject", scenarios=[fresh.staged(SOUND)[0]], note="wobbly")
    first = tick(None)
    assert isinstance(first, RunRequest) and first.job_name in (None, "release_dataset")
    assert isinstance(tick(tick.cursor), SkipReason)  # type: ignore[attr-defined]
    seen = tick.cursor  # type: ignore[attr-defined]
    fresh.log.append("approve", scenarios=[fresh.staged(SOUND)[0]], note="fine")
    again = tick(seen)
    assert isinstance(again, RunRequest) and again.run_key != first.run_key


def test_the_release_shows_what_awaits_review_and_warns_of_scenarios_waiting_over_a_day(
    fresh: Built,
) -> None:
    fresh.log.set_policy("review")
    bins, gaps = fresh.staged(SOUND), fresh.staged(BROKEN)
    fresh.log.append("approve", scenarios=[bins[0]], note="ok")
    fresh.log.note_staged(bins, at=utc_now() - timedelta(days=2))  # staged two days ago
    result = fresh.release()
    assert result.success
    [materialization] = result.asset_materializations_for_node("dataset_release")
    metadata = materialization.metadata
    assert metadata["awaiting_review"].value == len(bins) + len(gaps) - 1
    assert metadata["policy"].value == "review"
    [backlog] = [c for c in result.get_asset_check_evaluations() if c.check_name == REVIEW_BACKLOG]
    assert not backlog.passed and backlog.severity == AssetCheckSeverity.WARN
    assert backlog.metadata["waiting_over_a_day"].value == len(bins) - 1  # the other's: staged now

    fresh.log.append("approve", partition=SOUND, note="all of them")
    result = fresh.release()
    [backlog] = [c for c in result.get_asset_check_evaluations() if c.check_name == REVIEW_BACKLOG]
    assert backlog.passed


def test_under_review_with_nothing_approved_the_release_says_what_waits(fresh: Built) -> None:
    fresh.log.set_policy("review")
    result = fresh.release()
    assert not result.success
    failure = next(e for e in result.all_events if e.is_step_failure)
    message = failure.step_failure_data.user_failure_data.description  # type: ignore[union-attr]
    assert "nothing is promoted under the review policy" in message
    assert "benchgen review" in message


@pytest.fixture
def served(fresh: Built, tmp_path: Path) -> Iterator[str]:
    dataset = fresh.dataset
    subprocess.run([BIN / "benchgen", "review", "policy", dataset, "review"], check=True)
    port = free_port()
    log = tmp_path / "review.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [BIN / "benchgen", "review", dataset, "--port", str(port)],
            env={**os.environ, "BENCHGEN_CURATOR": "ada"},
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    url = f"http://127.0.0.1:{port}/"
    try:
        deadline = time.monotonic() + 60
        while not _answers(url):
            assert process.poll() is None, log.read_text()
            assert time.monotonic() < deadline, f"the review page never answered: {log.read_text()}"
            time.sleep(0.5)
        yield url
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}api/status", timeout=5) as response:
            return response.status == 200
    except (urllib.error.URLError, OSError):
        return False


def test_a_curator_approves_two_rejects_one_and_the_release_holds_the_approved_ones(
    fresh: Built, served: str, tmp_path: Path
) -> None:
    if not Path(CHROMIUM).exists():
        message = f"{CHROMIUM} is missing (apt-get install chromium; `make test` does)"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    from playwright.sync_api import expect, sync_playwright

    expect.set_options(timeout=60_000)  # each wait is for an event; CI may share the machine

    shots = tmp_path / "screenshots"
    shots.mkdir()
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu", "--no-first-run"]
        )
        page = browser.new_page(viewport={"width": 1440, "height": 1000})
        page.goto(served)
        expect(page.locator("#partition-name")).to_have_text(SOUND)  # the first that waits
        cards = page.locator(".card")
        expect(cards).to_have_count(3)
        expect(page.locator(".card .status")).to_have_text(["waiting"] * 3)
        expect(page.locator("nav a[data-partition] .waiting")).to_have_text(["3", "2"])
        page.locator(".filmstrip").first.scroll_into_view_if_needed()
        page.wait_for_function(
            "[...document.images].every(i => i.complete && i.naturalWidth > 0)", timeout=60_000
        )
        page.screenshot(path=shots / "review-page.png")
        ids = [cards.nth(k).get_attribute("data-id") for k in range(3)]

        page.locator(".card .pick").nth(0).check()  # a selection of two, approved with `a`
        page.locator(".card .pick").nth(1).check()
        page.locator("body").press("a")
        expect(page.locator("#message")).to_contain_text("approved")
        expect(page.locator(".card .status")).to_have_text(["approved", "approved", "waiting"])

        page.locator("body").press(
            "r"
        )  # the focus is on the first that waits: the third; no note yet: refused on the page
        expect(page.locator("#message")).to_contain_text("Write a note")
        page.locator("#note").fill("the ball rolls out of the bin")
        page.locator("#reject").click()
        expect(page.locator(".card .status")).to_have_text(["approved", "approved", "rejected"])
        expect(page.locator(".card .decision").nth(2)).to_contain_text("rejected by ada at")
        page.locator("body").press("?")
        page.wait_for_function(
            "[...document.images].every(i => i.complete && i.naturalWidth > 0)", timeout=60_000
        )
        page.screenshot(path=shots / "review-decided.png")
        page.locator("body").press("Escape")

        page.locator("body").press("w")  # the next partition with scenarios waiting
        expect(page.locator("#partition-name")).to_have_text(BROKEN)
        rejections = page.locator("#rejections tr")
        expect(rejections).to_have_count(2)  # a header and seed 1, turned away as trivial
        expect(rejections.nth(1)).to_contain_text("trivial")
        page.wait_for_function(
            "[...document.images].every(i => i.complete && i.naturalWidth > 0)", timeout=60_000
        )
        page.screenshot(path=shots / "review-rejections.png")

        # an agent's plan held for review: edited on the page and approved
        PlanReviews(fresh.store, "default").draft("ramp-roll", FamilyPlan(**PLAN, source="agent"))
        page.reload()
        plan = page.locator(".plan[data-request=ramp-roll]")
        text = plan.locator("textarea").input_value()
        plan.locator("textarea").fill(text.replace("a ramp under", "a shallow ramp under"))
        plan.locator(".plan-note").fill("shallower, so random planks fail")
        plan.locator("textarea").scroll_into_view_if_needed()
        page.screenshot(path=shots / "review-plan.png")
        plan.locator(".approve-plan").click()
        expect(page.locator("#message")).to_contain_text("approved the plan of ramp-roll (edited)")
        browser.close()
    review = PlanReviews(fresh.store, "default").get("ramp-roll")
    assert review is not None and review.who == "ada"
    assert review.plan.reference_solution == "a shallow ramp under the drop point"

    approved, rejected = ids[:2], ids[2]
    decisions = fresh.log.decisions()
    assert [(d.action, d.scenarios, d.who) for d in decisions] == [
        ("approve", sorted(approved), "ada"),
        ("reject", [rejected], "ada"),
    ]
    assert fresh.release().success
    assert fresh.released() == sorted(approved)
    curation = fresh.curation()
    assert list(curation.shards.values()) == [[decisions[0].decision_id]]
    assert curation.scenarios == {sid: decisions[0].decision_id for sid in approved}
    code, said = cli("inspect", str(fresh.dataset), approved[0])
    assert code == 0
    assert json.loads(said)["curation"]["decision"]["decision_id"] == decisions[0].decision_id
    keep = os.environ.get("BENCHGEN_SCREENSHOTS")
    if keep:
        shutil.copytree(shots, keep, dirs_exist_ok=True)


def test_off_the_loopback_address_the_page_answers_only_with_its_access_token(
    tmp_path: Path,
) -> None:
    from starlette.testclient import TestClient

    from benchgen_dagster.curation.page import is_loopback, review_app

    assert is_loopback("127.0.0.1") and is_loopback("localhost") and not is_loopback("0.0.0.0")
    gated = TestClient(review_app(LocalStore(tmp_path), "default", token="s3cret"))
    assert gated.get("/").status_code == 401
    assert gated.get("/api/status", headers={"Authorization": "Bearer wrong"}).status_code == 401
    answer = gated.get("/api/status", headers={"Authorization": "Bearer s3cret"})
    assert answer.status_code == 200 and answer.json()["policy"] == "auto"
    first = gated.get("/?token=s3cret", follow_redirects=False)
    assert first.status_code == 303 and "token" not in first.headers["location"]
    assert gated.get("/").status_code == 200  # the cookie carries it now
    assert "Nothing is staged" in gated.get("/").text

    local = TestClient(review_app(LocalStore(tmp_path), "default"), base_url="http://127.0.0.1")
    assert local.get("/api/status").status_code == 200
    assert local.get("/api/status", headers={"Host": "attacker.example"}).status_code == 400
    refused = local.post("/api/decisions", data={"action": "approve"})  # a form: not ours
    assert refused.status_code == 415
    unknown = local.post("/api/decisions", json={"action": "approve", "scenarios": ["x-s00001"]})
    assert unknown.status_code == 400 and "not staged" in unknown.json()["error"]


def test_a_plan_held_for_review_is_approved_on_the_page_as_edited(tmp_path: Path) -> None:
    from starlette.testclient import TestClient

    from benchgen_dagster.curation.page import review_app

    store = LocalStore(tmp_path)
    PlanReviews(store, "default").draft("ramp-roll", FamilyPlan(**PLAN, source="agent"))
    page = TestClient(review_app(store, "default"), base_url="http://127.0.0.1")
    html = page.get("/").text
    assert "Plans waiting for review (1)" in html and "a ramp under the drop point" in html
    edited = {**PLAN, "reference_solution": "a shallow ramp under the drop point"}
    bad = page.post("/api/plans", json={"request_id": "ramp-roll", "plan": {"family": "x"}})
    assert bad.status_code == 400 and "not a valid plan" in bad.json()["error"]
    done = page.post("/api/plans", json={"request_id": "ramp-roll", "plan": edited, "note": "x"})
    assert done.status_code == 201 and done.json()["edited"]
    review = PlanReviews(store, "default").get("ramp-roll")
    assert review is not None and review.status == "approved"
    assert review.plan.reference_solution == "a shallow ramp under the drop point"
    assert "Plans waiting" not in page.get("/").text
    again = page.post("/api/plans", json={"request_id": "ramp-roll", "plan": edited})
    assert (
        again.status_code == 400 and "no plan of request 'ramp-roll' waits" in again.json()["error"]
    )
