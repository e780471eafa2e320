"""Reading a released dataset with plain Python.

from benchgen_dagster.dataset import load
for sample in load("data/datasets/default", split="train"):
    model = sample.model()          # mujoco.MjModel, nothing else needed
    print(sample.scenario.goal_zone)
"""

from __future__ import annotations

import hashlib
import io
import json
import tarfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import mujoco

from benchgen_dagster.errors import UserError
from benchgen_dagster.schema import DatasetManifest, FileEntry, Scenario, ValidationReport
from benchgen_dagster.storage import LocalStore, Store

MANIFEST = "manifest.json"


class DatasetError(UserError):
    """A path that is not a readable benchgen dataset."""


@dataclass(frozen=True)
class ScenarioSample:
    scenario: Scenario
    mjcf: str
    solution_mjcf: str
    script: str
    validation: ValidationReport
    renders: list[bytes] = field(repr=False)

    def model(self, with_solution: bool = False) -> mujoco.MjModel:
        return mujoco.MjModel.from_xml_string(self.solution_mjcf if with_solution else self.mjcf)


def open_dataset(location: str | Path) -> tuple[Store, str]:
    """The store and key prefix of a dataset folder."""
    path = Path(location)
    return LocalStore(path.parent), path.name


def read_manifest(location: str | Path) -> DatasetManifest:
    store, root = open_dataset(location)
    if not store.exists(f"{root}/{MANIFEST}"):
        raise DatasetError(
            f"{location} is not a benchgen dataset: it has no manifest.json "
            "(build one with `make dataset`)"
        )
    try:
        return DatasetManifest.model_validate_json(store.get(f"{root}/{MANIFEST}"))
    except ValueError as error:
        raise DatasetError(f"{location}/manifest.json is not a valid manifest: {error}") from None


def load(location: str | Path, split: str | None = None) -> Iterator[ScenarioSample]:
    """Every scenario of a dataset (or of one split), shard by shard in manifest order."""
    manifest = read_manifest(location)
    store, root = open_dataset(location)
    for shard in manifest.shards:
        if split is None or shard.split == split:
            yield from read_shard(_checked(store, root, shard), shard.path)


def _checked(store: Store, root: str, entry: FileEntry) -> bytes:
    """A listed file's bytes, refused unless they are exactly what the manifest recorded."""
    key = f"{root}/{entry.path}"
    if not store.exists(key):
        raise DatasetError(
            f"{entry.path} is listed in the manifest but missing; rebuild the "
            "dataset (`make dataset`)"
        )
    data = store.get(key)
    if hashlib.sha256(data).hexdigest() != entry.sha256:
        raise DatasetError(
            f"{entry.path} does not match its manifest hash (truncated or "
            "changed); run `benchgen verify` and rebuild the dataset"
        )
    return data


def read_shard(data: bytes, name: str = "shard") -> Iterator[ScenarioSample]:
    try:
        yield from _read_shard(data)
    except (tarfile.TarError, KeyError, ValueError) as error:
        raise DatasetError(f"{name} is not a readable benchgen shard: {error}") from None


def _read_shard(data: bytes) -> Iterator[ScenarioSample]:
    groups: dict[str, dict[str, bytes]] = {}
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:") as tar:
        for member in tar:
            if not member.isfile():
                continue
            key, _, suffix = member.name.partition(".")
            handle = tar.extractfile(member)
            assert handle is not None
            groups.setdefault(key, {})[suffix] = handle.read()
    for members in groups.values():
        renders = [members[s] for s in sorted(members) if s.startswith("render_")]
        yield ScenarioSample(
            scenario=Scenario.model_validate_json(members["scenario.json"]),
            mjcf=members["mjcf.xml"].decode(),
            solution_mjcf=members["solution.mjcf.xml"].decode(),
            script=members["script.py"].decode(),
            validation=ValidationReport.model_validate(json.loads(members["validation.json"])),
            renders=renders,
        )


@dataclass(frozen=True)
class Verification:
    checked: int
    mismatched: list[str]
    missing: list[str]
    unlisted: list[str]

    @property
    def ok(self) -> bool:
        return not (self.mismatched or self.missing or self.unlisted)


def verify(location: str | Path) -> Verification:
    """Re-hash every file the manifest lists; report any that differ, are missing, or are in
    the dataset without being listed."""
    manifest = read_manifest(location)
    store, root = open_dataset(location)
    listed = {entry.path: entry for entry in [*manifest.shards, manifest.index, *manifest.files]}
    mismatched, missing = [], []
    for path, entry in sorted(listed.items()):
        key = f"{root}/{path}"
        if not store.exists(key):
            missing.append(path)
            continue
        data = store.get(key)
        if len(data) != entry.bytes or hashlib.sha256(data).hexdigest() != entry.sha256:
            mismatched.append(path)
    present = {key.removeprefix(f"{root}/") for key in store.list(root)}
    unlisted = sorted(present - set(listed) - {MANIFEST})
    return Verification(len(listed), mismatched, missing, unlisted)
