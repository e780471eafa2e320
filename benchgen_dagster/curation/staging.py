"""What is staged (every packaged scenario of a dataset's partitions), what each scenario's
decision in force is, and what the release promotes under the policy.

Under `auto` everything staged is promoted unless a decision rejects it; under `review` only
what a decision approves. A decision on a scenario or on its whole partition applies; the
newest one wins, so a rejected scenario stays out of every rebuild until a later decision lets
it in. A partition whose scenarios are all promoted keeps its shards byte for byte; otherwise
each of its shards is written again with the promoted scenarios only, so a decision changes the
shards of the partition it touched and nothing else.
"""

from __future__ import annotations

import io
import tarfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import cached_property
from typing import Literal

from benchgen_dagster.curation.log import CurationLog, DecisionRefused, Policy
from benchgen_dagster.dataset.release import sha256, shard_path, tar_bytes
from benchgen_dagster.schema.contract import IndexRow
from benchgen_dagster.schema.records import (
    RECORD_TYPES,
    Decision,
    GenerationRequest,
    ReleaseCuration,
    ShardBatch,
)
from benchgen_dagster.stores.bundles import Bundle, read_bundle
from benchgen_dagster.stores.local import Store

Status = Literal["waiting", "approved", "rejected", "promoted"]
SHARDS_ASSET = "assets/dataset_shards"
STALE_AFTER = timedelta(days=1)


def _stored_batches(store: Store) -> Iterator[tuple[str, GenerationRequest, Bundle[ShardBatch]]]:
    """Every partition stored with shards: its key, its request and its shards."""
    partitions = sorted({key.split("/")[2] for key in store.list(SHARDS_ASSET)})
    for partition in partitions:
        try:
            request = read_bundle(store, f"assets/generation_requests/{partition}", RECORD_TYPES)
            batch = read_bundle(store, f"{SHARDS_ASSET}/{partition}", RECORD_TYPES)
        except FileNotFoundError:  # being written, or forgotten since it was listed
            continue
        if isinstance(request, GenerationRequest):
            assert isinstance(batch, Bundle) and isinstance(batch.record, ShardBatch)
            yield partition, request, batch


def staged_batches(store: Store, dataset: str) -> dict[str, Bundle[ShardBatch]]:
    """The shards of every partition stored for `dataset`, by partition."""
    return {
        partition: batch
        for partition, request, batch in _stored_batches(store)
        if request.dataset == dataset
    }


def staged_datasets(store: Store) -> set[str]:
    """The datasets some stored partition's shards are for."""
    return {request.dataset for _, request, _ in _stored_batches(store)}


def in_force(decisions: list[Decision]) -> tuple[dict[str, Decision], dict[str, Decision]]:
    """The newest decision per scenario and per partition (decisions come oldest first)."""
    by_scenario: dict[str, Decision] = {}
    by_partition: dict[str, Decision] = {}
    for decision in decisions:
        for sid in decision.scenarios:
            by_scenario[sid] = decision
        if decision.partition is not None:
            by_partition[decision.partition] = decision
    return by_scenario, by_partition


@dataclass(frozen=True)
class StagedScenario:
    partition: str
    row: IndexRow
    decision: Decision | None  # the one in force
    promoted: bool

    @property
    def status(self) -> Status:
        if self.decision is None:
            return "promoted" if self.promoted else "waiting"
        return "approved" if self.decision.action == "approve" else "rejected"


@dataclass(frozen=True)
class Staging:
    """A dataset's staged scenarios with their decisions, under a policy."""

    policy: Policy
    batches: Mapping[str, Bundle[ShardBatch]]
    decisions: list[Decision]
    staged: list[StagedScenario] = field(default_factory=list)  # every partition's, in order

    @cached_property
    def scenarios(self) -> dict[str, StagedScenario]:
        """By scenario id (an id names one scenario of one request)."""
        return {s.row.scenario_id: s for s in self.staged}

    @classmethod
    def of(
        cls, batches: Mapping[str, Bundle[ShardBatch]], decisions: list[Decision], policy: Policy
    ) -> Staging:
        by_scenario, by_partition = in_force(decisions)
        staged = []
        for partition, bundle in sorted(batches.items()):
            for row in bundle.record.rows:
                own, whole = by_scenario.get(row.scenario_id), by_partition.get(partition)
                decision = max((d for d in (own, whole) if d), key=_order, default=None)
                promoted = decision.action == "approve" if decision else policy == "auto"
                staged.append(StagedScenario(partition, row, decision, promoted))
        return cls(policy, batches, decisions, staged)

    @classmethod
    def read(cls, store: Store, dataset: str) -> Staging:
        log = CurationLog(store, dataset)
        return cls.of(staged_batches(store, dataset), log.decisions(), log.policy())

    def waiting(self) -> list[StagedScenario]:
        return [s for s in self.staged if s.status == "waiting"]

    def overdue(self, staged_at: Mapping[str, str], now: datetime) -> list[tuple[str, str]]:
        """Scenarios waiting for review since before `now` − a day: (id, staged at)."""
        late = []
        for scenario in self.waiting():
            since = staged_at.get(scenario.row.scenario_id)
            if since and now - datetime.fromisoformat(since) > STALE_AFTER:
                late.append((scenario.row.scenario_id, since))
        return sorted(late)

    def check(self, scenarios: list[str], partition: str | None) -> None:
        """Refuse a decision that names nothing staged, saying what is wrong."""
        if not scenarios and partition is None:
            raise DecisionRefused("name scenario ids, or a partition with --partition")
        if partition is not None and partition not in self.batches:
            known = ", ".join(sorted(self.batches)) or "none"
            raise DecisionRefused(
                f"no partition {partition!r} is staged (staged partitions: {known})"
            )
        unknown = [sid for sid in scenarios if sid not in self.scenarios]
        if unknown:
            raise DecisionRefused(
                f"not staged in this dataset: {', '.join(unknown)} (a scenario is staged once "
                "its partition's shards are built and it passed the funnel; "
                "`benchgen review list` shows them)"
            )
        elsewhere = [
            sid for sid in scenarios if partition and self.scenarios[sid].partition != partition
        ]
        if elsewhere:
            raise DecisionRefused(f"not in partition {partition}: {', '.join(elsewhere)}")

    def promotion(self) -> tuple[dict[str, Bundle[ShardBatch]], ReleaseCuration]:
        """The promoted part of every partition, and the release's curation record."""
        promoted: dict[str, Bundle[ShardBatch]] = {}
        shard_decisions: dict[str, list[str]] = {}
        for partition, bundle in self.batches.items():
            keep = {
                s.row.scenario_id for s in self.staged if s.partition == partition and s.promoted
            }
            if not keep:
                continue
            promoted[partition] = bundle if _all_of(bundle, keep) else _only(bundle, keep)
            batch = promoted[partition].record
            decided = {
                s.row.scenario_id: s.decision for s in self.staged if s.partition == partition
            }
            for shard in batch.shards:
                ids = {
                    decision.decision_id
                    for r in batch.rows
                    if r.shard == shard.name and (decision := decided[r.scenario_id]) is not None
                }
                shard_decisions[shard_path(batch.split.value, shard.name)] = sorted(ids)
        letting_in = {
            s.row.scenario_id: s.decision.decision_id
            for s in self.staged
            if s.promoted and s.decision
        }
        used = {s.decision.decision_id for s in self.staged if s.decision}
        curation = ReleaseCuration(
            policy=self.policy,
            staged=len(self.staged),
            promoted=sum(s.promoted for s in self.staged),
            awaiting_review=len(self.waiting()),
            rejected=sum(s.status == "rejected" for s in self.staged),
            shards=dict(sorted(shard_decisions.items())),
            scenarios=dict(sorted(letting_in.items())),
            decisions=[d for d in self.decisions if d.decision_id in used],
        )
        return promoted, curation


def _order(decision: Decision) -> tuple[str, str]:
    return decision.at, decision.decision_id


def _all_of(bundle: Bundle[ShardBatch], keep: set[str]) -> bool:
    return all(r.scenario_id in keep for r in bundle.record.rows)


def _only(bundle: Bundle[ShardBatch], keep: set[str]) -> Bundle[ShardBatch]:
    """The partition's shards with only the `keep` scenarios, each shard filtered in place (its
    name kept; a shard left empty dropped)."""
    batch = bundle.record
    shards, files = [], {}
    for shard in batch.shards:
        with tarfile.open(fileobj=io.BytesIO(bundle.files[shard.name]), mode="r:") as tar:
            members = [
                (m.name, tar.extractfile(m).read())  # type: ignore[union-attr]
                for m in tar.getmembers()
                if m.name.partition(".")[0] in keep
            ]
        if not members:
            continue
        data = tar_bytes(members)
        files[shard.name] = data
        count = len({name.partition(".")[0] for name, _ in members})
        shards.append(
            shard.model_copy(
                update={"sha256": sha256(data), "bytes": len(data), "scenarios": count}
            )
        )
    rows = [r for r in batch.rows if r.scenario_id in keep]
    return Bundle(batch.model_copy(update={"shards": shards, "rows": rows}), files)
