"""The review page: a Starlette app over a dataset's store.

Per partition it shows the staged scenarios (each view's render, a filmstrip of the reference
run, difficulty, measurements, lineage, the decision in force), the funnel's rejections with
their reasons, and approve/reject of one scenario, a selection or the whole partition, with a
note. Decisions go through the same checks and log as `benchgen review approve|reject`.

It answers on the loopback address without a token; served on another address every request
needs the access token (`?token=` once, then a cookie; or `Authorization: Bearer`). Writes are
JSON posts only, so no other site's form can make a decision.
"""

from __future__ import annotations

import io
import ipaddress
import json
import secrets
import tarfile
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.base import BaseHTTPMiddleware, RequestResponseEndpoint
from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route
from starlette.templating import Jinja2Templates

from benchgen_dagster.curation.log import CurationLog, DecisionRefused
from benchgen_dagster.curation.plans import PlanReviews
from benchgen_dagster.curation.staging import StagedScenario, Staging
from benchgen_dagster.schema.contract import REPORTED_STAGES
from benchgen_dagster.schema.records import (
    RECORD_TYPES,
    FamilyScript,
    GenerationRequest,
    RenderBatch,
    ValidationBatch,
)
from benchgen_dagster.stores.bundles import Bundle, read_bundle
from benchgen_dagster.stores.local import Store

TOKEN_VARIABLE = "BENCHGEN_REVIEW_TOKEN"
TOKEN_COOKIE = "benchgen_review_token"
LOOPBACK_NAMES = ("127.0.0.1", "localhost", "::1", "[::1]")
TEMPLATES = Jinja2Templates(directory=str(Path(__file__).parent / "templates"))
FILMSTRIP_SIZE = (192, 144)  # the page renders one per spatial scenario when first shown


def is_loopback(host: str) -> bool:
    if host in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@dataclass(frozen=True)
class Rejection:
    scenario_id: str
    seed: int
    stage: str
    reason: str
    message: str
    renders: list[str]


class ReviewData:
    """What the page shows, read from the store on every request (decisions may come from the
    command line or another curator meanwhile); shards are cached by their hash."""

    def __init__(self, store: Store, dataset: str) -> None:
        self.store, self.dataset = store, dataset
        self.log = CurationLog(store, dataset)
        self.plans = PlanReviews(store, dataset)
        self._members: dict[str, dict[str, bytes]] = {}
        self._filmstrips: dict[str, bytes] = {}
        self._lock = threading.Lock()
        self._renderer_thread = ThreadPoolExecutor(max_workers=1)  # one GL context, one thread
        self._renderer: Any = None

    def staging(self) -> Staging:
        return Staging.read(self.store, self.dataset)

    def partition(self, staging: Staging, partition: str) -> dict[str, Any]:
        bundle = staging.batches[partition]
        batch = bundle.record
        request = self._record("generation_requests", partition)
        script = self._record("family_scripts", partition)
        scenarios = [s for s in staging.staged if s.partition == partition]
        return {
            "name": partition,
            "family": batch.family,
            "split": batch.split.value,
            "prompt": request.prompt if isinstance(request, GenerationRequest) else "",
            "seeds": _seeds(request),
            "script": script if isinstance(script, FamilyScript) else None,
            "funnel": {k: batch.funnel[k] for k in REPORTED_STAGES if k in batch.funnel},
            "scenarios": [self._card(partition, s) for s in scenarios],
            "rejections": self.rejections(partition),
            "counts": _counts(scenarios),
        }

    def _card(self, partition: str, staged: StagedScenario) -> dict[str, Any]:
        row = staged.row
        members = self.members(partition, row.shard)
        renders = sorted(m for m in members if m.startswith(f"{row.scenario_id}.render_"))
        measured = row.measurements
        return {
            "id": row.scenario_id,
            "seed": row.seed,
            "status": staged.status,
            "promoted": staged.promoted,
            "decision": staged.decision,
            "renders": renders,
            "shard": row.shard,
            "difficulty": row.difficulty_tier,
            "rate": row.random_solve_rate,
            "low": row.random_solve_low95,
            "high": row.random_solve_high95,
            "robust": (row.robust_successes, row.robust_trials),
            "measurements": sorted(measured.items()),
            "lineage": {
                "request": row.request_id,
                "seed": row.seed,
                "params": row.params_json,
                "script sha256": row.script_sha256[:16],
                "family code": row.family_code_version[:16],
                "validator": row.validator_version[:16],
                "sandbox": row.sandbox,
                "geometry sha256": row.geometry_sha256[:16],
            },
        }

    def rejections(self, partition: str) -> list[Rejection]:
        """Variants the funnel turned away, with the stage, reason code and message, and their
        renders where any were made."""
        validated = self._record("validated_simulations", partition)
        renders = self._record("scenario_renders", partition)
        found = []
        rendered = (
            {r.scenario_id: r for r in renders.record.results}
            if isinstance(renders, Bundle) and isinstance(renders.record, RenderBatch)
            else {}
        )
        if not (isinstance(validated, Bundle) and isinstance(validated.record, ValidationBatch)):
            return found
        for report in validated.record.reports:
            result = rendered.get(report.scenario_id)
            failed_render = result.stage if result and not result.stage.passed else None
            stage = report.rejection or failed_render
            if stage is None:
                continue
            found.append(
                Rejection(
                    report.scenario_id,
                    report.seed,
                    stage.stage.value,
                    stage.reason.value if stage.reason else "",
                    stage.message,
                    list(result.files) if result else [],
                )
            )
        return found

    def members(self, partition: str, shard: str) -> dict[str, bytes]:
        bundle = self.staging_batch(partition)
        info = next(s for s in bundle.record.shards if s.name == shard)
        with self._lock:
            if info.sha256 not in self._members:
                data = bundle.files[shard]
                with tarfile.open(fileobj=io.BytesIO(data), mode="r:") as tar:
                    self._members[info.sha256] = {
                        m.name: tar.extractfile(m).read()  # type: ignore[union-attr]
                        for m in tar.getmembers()
                    }
            return self._members[info.sha256]

    def staging_batch(self, partition: str) -> Bundle:
        found = read_bundle(self.store, f"assets/dataset_shards/{partition}", RECORD_TYPES)
        assert isinstance(found, Bundle)
        return found

    def render_of_rejected(self, partition: str, name: str) -> bytes:
        found = self._record("scenario_renders", partition)
        assert isinstance(found, Bundle)
        return found.files[name]

    def filmstrip(self, partition: str, shard: str, scenario_id: str) -> bytes:
        members = self.members(partition, shard)
        key = f"{partition}/{scenario_id}/{hash(members[f'{scenario_id}.solution.mjcf.xml'])}"
        if key not in self._filmstrips:
            self._filmstrips[key] = self._renderer_thread.submit(
                self._render_filmstrip, members, scenario_id
            ).result()
        return self._filmstrips[key]

    def _render_filmstrip(self, members: dict[str, bytes], scenario_id: str) -> bytes:
        """A kinematic scenario's packaged filmstrip; for the others, one rendered here from
        the reference solution, with its controls when it has them."""
        from benchgen_dagster.dataset.members import CONTROLS, FILMSTRIP
        from benchgen_dagster.schema.contract import Controls, Scenario
        from benchgen_dagster.validation.render import SceneRenderer

        packaged = members.get(f"{scenario_id}.{FILMSTRIP}")
        if packaged is not None:
            return packaged
        if self._renderer is None:
            self._renderer = SceneRenderer(*FILMSTRIP_SIZE)
        scenario = Scenario.model_validate_json(members[f"{scenario_id}.scenario.json"])
        controls = members.get(f"{scenario_id}.{CONTROLS}")
        return self._renderer.filmstrip(
            members[f"{scenario_id}.solution.mjcf.xml"].decode(),
            None if controls is None else Controls.model_validate_json(controls),
            scenario.simulation.duration_s,
        )

    def _record(self, asset: str, partition: str) -> Any:
        try:
            return read_bundle(self.store, f"assets/{asset}/{partition}", RECORD_TYPES)
        except FileNotFoundError:
            return None


def _seeds(request: object) -> str:
    if not isinstance(request, GenerationRequest):
        return ""
    return f"{request.seeds.start}–{request.seeds.stop - 1}"


def _counts(scenarios: list[StagedScenario]) -> dict[str, int]:
    counts = {"waiting": 0, "approved": 0, "rejected": 0, "promoted": 0}
    for scenario in scenarios:
        counts[scenario.status] += 1
    return counts


def review_app(store: Store, dataset: str, token: str | None = None) -> Starlette:
    """The review page of `dataset`; with `token`, every request must carry it."""
    data = ReviewData(store, dataset)

    def page(request: Request) -> Response:
        staging = data.staging()
        partitions = [
            {
                "name": name,
                "counts": _counts([s for s in staging.staged if s.partition == name]),
            }
            for name in sorted(staging.batches)
        ]
        chosen = request.query_params.get("partition")
        if chosen not in staging.batches:
            waiting = [p["name"] for p in partitions if p["counts"]["waiting"]]
            chosen = (waiting or [p["name"] for p in partitions] or [None])[0]
        plans = [
            {
                "request_id": r.request_id,
                "drafted_at": r.drafted_at,
                "text": json.dumps(
                    r.plan.model_dump(mode="json", exclude={"source"}, exclude_none=True),
                    indent=2,
                    ensure_ascii=False,
                ),
            }
            for r in data.plans.all()
            if r.status == "waiting"
        ]
        context = {
            "dataset": dataset,
            "plans": plans,
            "policy": staging.policy,
            "partitions": partitions,
            "partition": data.partition(staging, chosen) if chosen else None,
            "totals": _counts(list(staging.staged)),
        }
        return TEMPLATES.TemplateResponse(request, "review.html.j2", context)

    def media(request: Request) -> Response:
        partition, shard = request.path_params["partition"], request.path_params["shard"]
        member = request.path_params["member"]
        try:
            content = data.members(partition, shard)[member]
        except (KeyError, StopIteration, FileNotFoundError):
            return Response("no such render", status_code=404)
        return Response(content, media_type="image/png")

    def rejected_render(request: Request) -> Response:
        try:
            content = data.render_of_rejected(
                request.path_params["partition"], request.path_params["member"]
            )
        except (KeyError, AssertionError, FileNotFoundError):
            return Response("no such render", status_code=404)
        return Response(content, media_type="image/png")

    def filmstrip(request: Request) -> Response:
        partition, shard, sid = (request.path_params[k] for k in ("partition", "shard", "sid"))
        try:
            content = data.filmstrip(partition, shard, sid)
        except (KeyError, StopIteration, FileNotFoundError):
            return Response("no reference run", status_code=404)
        return Response(content, media_type="image/png", headers={"Cache-Control": "max-age=600"})

    async def decide(request: Request) -> Response:
        if request.headers.get("content-type", "").split(";")[0] != "application/json":
            return JSONResponse({"error": "decisions are posted as JSON"}, status_code=415)
        body = await request.json()
        action = body.get("action")
        scenarios = [str(s) for s in body.get("scenarios") or []]
        partition = body.get("partition")
        note = str(body.get("note") or "")
        if action not in ("approve", "reject"):
            return JSONResponse({"error": "action must be approve or reject"}, status_code=400)
        if action == "reject" and not note.strip():
            return JSONResponse({"error": "a rejection needs a note saying why"}, status_code=400)
        try:
            data.staging().check(scenarios, partition)
        except DecisionRefused as refused:
            return JSONResponse({"error": str(refused)}, status_code=400)
        decision = data.log.append(
            action, scenarios=scenarios, partition=None if scenarios else partition, note=note
        )
        return JSONResponse(decision.model_dump(mode="json"), status_code=201)

    async def approve_plan(request: Request) -> Response:
        if request.headers.get("content-type", "").split(";")[0] != "application/json":
            return JSONResponse({"error": "plans are posted as JSON"}, status_code=415)
        body = await request.json()
        plan = body.get("plan")
        if not isinstance(plan, dict):
            return JSONResponse({"error": "plan must be the plan's fields"}, status_code=400)
        try:
            review = data.plans.approve(
                str(body.get("request_id")), plan, str(body.get("note") or "")
            )
        except DecisionRefused as refused:
            return JSONResponse({"error": str(refused)}, status_code=400)
        return JSONResponse(review.model_dump(mode="json"), status_code=201)

    def status(request: Request) -> Response:
        staging = data.staging()
        return JSONResponse(
            {
                "dataset": dataset,
                "policy": staging.policy,
                "scenarios": {sid: s.status for sid, s in sorted(staging.scenarios.items())},
            }
        )

    middleware = (
        [Middleware(_TokenGate, token=token)]
        if token
        else [Middleware(TrustedHostMiddleware, allowed_hosts=["127.0.0.1", "localhost", "::1"])]
    )
    return Starlette(
        routes=[
            Route("/", page),
            Route("/media/{partition}/{shard}/{member}", media),
            Route("/rejected/{partition}/{member}", rejected_render),
            Route("/filmstrip/{partition}/{shard}/{sid}.png", filmstrip),
            Route("/api/decisions", decide, methods=["POST"]),
            Route("/api/plans", approve_plan, methods=["POST"]),
            Route("/api/status", status),
        ],
        middleware=middleware,
    )


class _TokenGate(BaseHTTPMiddleware):
    """Every request carries the token: `?token=` (then kept in a cookie), the cookie, or an
    `Authorization: Bearer` header."""

    def __init__(self, app: Any, token: str) -> None:
        super().__init__(app)
        self.token = token

    async def dispatch(self, request: Request, call_next: RequestResponseEndpoint) -> Response:
        offered = request.query_params.get("token")
        if offered is not None and secrets.compare_digest(offered, self.token):
            response = RedirectResponse(request.url.remove_query_params("token"), status_code=303)
            response.set_cookie(TOKEN_COOKIE, self.token, httponly=True, samesite="strict")
            return response
        bearer = request.headers.get("authorization", "").removeprefix("Bearer ").strip()
        cookie = request.cookies.get(TOKEN_COOKIE, "")
        if any(secrets.compare_digest(c, self.token) for c in (bearer, cookie) if c):
            return await call_next(request)
        return Response("the review page needs its access token", status_code=401)
