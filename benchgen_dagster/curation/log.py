"""A dataset's curation state in its store, under `curation/<dataset>/`: the policy, the
append-only decisions log and the staging ledger.

Each decision is a file of its own, `decisions/<time>-<random>.json`, written atomically and
never rewritten, so two curators deciding at the same moment both keep their decision, on a
local folder as on S3.
"""

from __future__ import annotations

import getpass
import json
import os
import secrets
from datetime import UTC, datetime
from typing import Literal

from benchgen_dagster.errors import UserError
from benchgen_dagster.schema.records import Decision
from benchgen_dagster.stores.local import Store

Policy = Literal["auto", "review"]
POLICIES: tuple[Policy, ...] = ("auto", "review")
CURATOR_VARIABLE = "BENCHGEN_CURATOR"


class DecisionRefused(UserError):
    """A decision that names nothing staged, or is otherwise not one a curator can make."""


def curation_prefix(dataset: str) -> str:
    return f"curation/{dataset}"


def curator() -> str:
    """Who decides: `$BENCHGEN_CURATOR`, else the operating system's user."""
    return os.environ.get(CURATOR_VARIABLE) or getpass.getuser()


def utc_now() -> datetime:
    return datetime.now(UTC)


class CurationLog:
    """The policy, decisions and staging times of one dataset."""

    def __init__(self, store: Store, dataset: str) -> None:
        self.store, self.dataset = store, dataset
        self.prefix = curation_prefix(dataset)

    # --- the policy -------------------------------------------------------------------------

    def policy(self) -> Policy:
        key = f"{self.prefix}/policy.json"
        if not self.store.exists(key):
            return "auto"
        value = json.loads(self.store.get(key)).get("policy")
        if value not in POLICIES:
            raise UserError(f"{self.store.uri(key)}: policy must be auto or review, got {value!r}")
        return value

    def set_policy(self, policy: Policy, who: str | None = None) -> None:
        if policy not in POLICIES:
            raise UserError(f"policy must be auto or review, got {policy!r}")
        record = {"policy": policy, "who": who or curator(), "at": _iso(utc_now())}
        self.store.put(f"{self.prefix}/policy.json", json.dumps(record, indent=2).encode())

    # --- decisions --------------------------------------------------------------------------

    def decision_keys(self) -> list[str]:
        return [k for k in self.store.list(f"{self.prefix}/decisions") if k.endswith(".json")]

    def decisions(self) -> list[Decision]:
        """Every decision, oldest first."""
        found = [Decision.model_validate_json(self.store.get(k)) for k in self.decision_keys()]
        return sorted(found, key=lambda d: (d.at, d.decision_id))

    def append(
        self,
        action: Literal["approve", "reject"],
        scenarios: list[str] | None = None,
        partition: str | None = None,
        note: str = "",
        who: str | None = None,
        at: datetime | None = None,
    ) -> Decision:
        """Write one decision as a new file; the caller has checked what it names exists."""
        when = at or utc_now()
        decision = Decision(
            decision_id=f"{when.strftime('%Y%m%dT%H%M%S%fZ')}-{secrets.token_hex(4)}",
            dataset=self.dataset,
            action=action,
            scenarios=sorted(set(scenarios or [])),
            partition=partition,
            who=who or curator(),
            at=_iso(when),
            note=note.strip(),
        )
        key = f"{self.prefix}/decisions/{decision.decision_id}.json"
        self.store.put(key, json.dumps(decision.model_dump(mode="json"), indent=2).encode())
        return decision

    # --- when each scenario was first staged ------------------------------------------------

    def staged_at(self) -> dict[str, str]:
        key = f"{self.prefix}/staged.json"
        return json.loads(self.store.get(key)) if self.store.exists(key) else {}

    def note_staged(self, scenario_ids: list[str], at: datetime | None = None) -> dict[str, str]:
        """Record when each of these scenarios was first seen staged (the release's own step
        writes it; scenarios no longer staged are dropped); the ledger after."""
        known = self.staged_at()
        when = _iso(at or utc_now())
        ledger = {sid: known.get(sid, when) for sid in sorted(scenario_ids)}
        if ledger != known:
            self.store.put(f"{self.prefix}/staged.json", json.dumps(ledger, indent=1).encode())
        return ledger


def _iso(when: datetime) -> str:
    return when.astimezone(UTC).isoformat(timespec="microseconds")


def open_curation(location: str, data_dir: str = "data") -> tuple[Store, str]:
    """The store holding a dataset and its name, from where its release is (or will be):
    `DATA_DIR/datasets/NAME`, `s3://bucket/prefix/datasets/NAME`, or a bare NAME in the store
    of the environment (`$BENCHGEN_S3_BUCKET`, else DATA_DIR)."""
    from pathlib import PurePosixPath

    from benchgen_dagster.stores.local import LocalStore
    from benchgen_dagster.stores.s3 import (
        S3Store,
        client_from_environment,
        split_s3_uri,
        store_from_environment,
    )

    if location.startswith("s3://"):
        bucket, key = split_s3_uri(location)
        path = PurePosixPath(key)
        if path.parent.name != "datasets":
            raise UserError(f"{location}: expected s3://BUCKET/PREFIX/datasets/NAME")
        return S3Store(client_from_environment(), bucket, str(path.parent.parent)), path.name
    if "/" not in location.rstrip("/"):
        return store_from_environment() or LocalStore(data_dir), location
    path = PurePosixPath(location.rstrip("/"))
    if path.parent.name != "datasets":
        raise UserError(f"{location}: expected DATA_DIR/datasets/NAME (or a dataset's name)")
    return LocalStore(str(path.parent.parent)), path.name


def dataset_names(store: Store) -> list[str]:
    """The datasets the store knows: released, staged or with curation state."""
    from benchgen_dagster.curation.staging import staged_datasets

    keys = store.list("datasets") + store.list("curation")
    return sorted({key.split("/")[1] for key in keys} | staged_datasets(store))


def require_dataset(store: Store, name: str) -> None:
    """A clear error for a dataset the store has never heard of (a typo, the wrong folder)."""
    known = dataset_names(store)
    if name not in known:
        where = store.uri("")
        there = f"it has {', '.join(known)}" if known else "nothing is built there yet"
        raise UserError(f"no dataset {name!r} in {where}: {there}")
