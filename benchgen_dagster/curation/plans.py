"""Plans held for a curator: a request with `review_plan: true` stops after its plan; the
curator approves it as drafted or edited, and the `resume_reviewed_plans` sensor runs the
partition again with that plan (the Planner is not asked again)."""

from __future__ import annotations

from typing import Any

from benchgen_dagster.curation.log import DecisionRefused, curation_prefix, curator, utc_now
from benchgen_dagster.schema.records import FamilyPlan, PlanReview
from benchgen_dagster.stores.local import Store


class PlanReviews:
    def __init__(self, store: Store, dataset: str) -> None:
        self.store = store
        self.prefix = f"{curation_prefix(dataset)}/plans"

    def get(self, request_id: str) -> PlanReview | None:
        key = f"{self.prefix}/{request_id}.json"
        return (
            PlanReview.model_validate_json(self.store.get(key)) if self.store.exists(key) else None
        )

    def all(self) -> list[PlanReview]:
        return [
            PlanReview.model_validate_json(self.store.get(key))
            for key in self.store.list(self.prefix)
            if key.endswith(".json")
        ]

    def draft(self, request_id: str, plan: FamilyPlan) -> PlanReview:
        review = PlanReview(
            request_id=request_id, status="waiting", plan=plan, drafted_at=utc_now().isoformat()
        )
        self._put(review)
        return review

    def approve(
        self,
        request_id: str,
        edited: dict[str, Any] | None = None,
        note: str = "",
        who: str | None = None,
    ) -> PlanReview:
        """Approve the waiting plan, or an edit of it (checked as the Planner's own output)."""
        review = self.get(request_id)
        if review is None or review.status != "waiting":
            waiting = ", ".join(r.request_id for r in self.all() if r.status == "waiting")
            raise DecisionRefused(
                f"no plan of request {request_id!r} waits for review (waiting: {waiting or 'none'})"
            )
        plan = review.plan if edited is None else _checked_plan(edited)
        approved = review.model_copy(
            update={
                "status": "approved",
                "plan": plan,
                "edited": plan != review.plan,
                "who": who or curator(),
                "at": utc_now().isoformat(),
                "note": note.strip(),
            }
        )
        self._put(approved)
        return approved

    def _put(self, review: PlanReview) -> None:
        self.store.put(
            f"{self.prefix}/{review.request_id}.json", review.model_dump_json(indent=2).encode()
        )


def _checked_plan(fields: dict[str, Any]) -> FamilyPlan:
    from pydantic import ValidationError

    from benchgen_dagster.agents.graph import PlanDraft
    from benchgen_dagster.catalogue.registry import registry

    fields = {k: v for k, v in fields.items() if k != "source"}
    try:
        draft = PlanDraft.model_validate(fields)
    except ValidationError as error:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in error.errors()
        )
        raise DecisionRefused(f"the edited plan is not a valid plan: {problems}") from None
    if draft.family in registry():
        raise DecisionRefused(f"the edited plan takes a built-in family's name: {draft.family}")
    return FamilyPlan(**draft.model_dump(), source="agent")
