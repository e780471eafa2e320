"""Reading a released dataset with plain Python.

from benchgen_dagster.dataset.reader import load
for sample in load("data/datasets/default", split="train"):
    model = sample.model()          # mujoco.MjModel, nothing else needed
    print(sample.scenario.goal_zone)
"""

from __future__ import annotations

import hashlib
import io
import json
import re
import tarfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import mujoco

from benchgen_dagster.dataset.members import CONTROLS, FILMSTRIP
from benchgen_dagster.errors import UserError
from benchgen_dagster.schema.contract import (
    Controls,
    DatasetManifest,
    FileEntry,
    Scenario,
    ValidationReport,
)
from benchgen_dagster.stores.local import LocalStore, Store

MANIFEST = "manifest.json"
CARD = "README.md"
RENDER = re.compile(r"render_(\d+)\.png")


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
    controls: Controls | None = None  # a kinematic solution's schedule, for solution_mjcf
    filmstrip: bytes | None = field(default=None, repr=False)

    def model(self, with_solution: bool = False) -> mujoco.MjModel:
        return mujoco.MjModel.from_xml_string(self.solution_mjcf if with_solution else self.mjcf)

    def replay(
        self, on_step: Callable[[mujoco.MjModel, mujoco.MjData], None] | None = None
    ) -> mujoco.MjData:
        """The reference run: the solution's model from its start for the scenario's
        duration, every control set from the schedule before every step (`on_step` sees each
        step). What the validator checked, with nothing but MuJoCo and this file."""
        model = self.model(with_solution=True)
        data = mujoco.MjData(model)
        names = [model.actuator(k).name for k in range(model.nu)]
        while data.time < self.scenario.simulation.duration_s:
            if self.controls is not None:
                data.ctrl[:] = [self.controls.at(name, data.time) for name in names]
            mujoco.mj_step(model, data)
            if on_step is not None:
                on_step(model, data)
        return data


def open_dataset(location: str | Path) -> tuple[Store, str]:
    """The store and key prefix of a dataset: a folder, or `s3://bucket/prefix/name` (with the
    endpoint and credentials from the environment, see `benchgen_dagster.stores.s3`)."""
    if str(location).startswith("s3://"):
        from benchgen_dagster.stores.s3 import S3Store, client_from_environment, split_s3_uri

        bucket, key = split_s3_uri(str(location))
        parent, _, name = key.rpartition("/")
        return S3Store(client_from_environment(), bucket, parent), name
    path = Path(location)
    return LocalStore(path.parent), path.name


def read_manifest(location: str | Path) -> DatasetManifest:
    return open_with_manifest(location)[2]


def open_with_manifest(location: str | Path) -> tuple[Store, str, DatasetManifest]:
    """The store, key prefix and manifest of a dataset, from one connection to its store."""
    store, root = open_dataset(location)
    return store, root, _manifest(store, root, location)


def _manifest(store: Store, root: str, location: str | Path) -> DatasetManifest:
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
    yield from samples_in(*open_with_manifest(location), split)


def samples_in(
    store: Store, root: str, manifest: DatasetManifest, split: str | None = None
) -> Iterator[ScenarioSample]:
    """`load` on a store already open: each shard checked against its manifest hash."""
    for shard in manifest.shards:
        if split is None or shard.split == split:
            yield from read_shard(_checked(store, root, shard), shard.path)


def shard_urls(location: str | Path, split: str | None = None, expires_s: int = 3600) -> list[str]:
    """Where each shard (of one split) can be streamed from by `webdataset` or Hugging Face
    `datasets`: file paths for a folder, presigned HTTPS links (valid `expires_s`) on S3."""
    store, root, manifest = open_with_manifest(location)
    return [
        store.readable_url(f"{root}/{shard.path}", expires_s)
        for shard in manifest.shards
        if split is None or shard.split == split
    ]


def hf_features(location: str | Path):  # type: ignore[no-untyped-def]
    """The Hugging Face `datasets.Features` the release's card declares: pass them to
    `load_dataset("webdataset", data_files=..., features=...)` when loading shards by URL, or
    `datasets` infers one schema from a few rows and drops the fields other rows hold."""
    from datasets.info import DatasetInfosDict
    from huggingface_hub import DatasetCard

    store, root, manifest = open_with_manifest(location)
    entry = next((f for f in manifest.files if f.path == CARD), None)
    if entry is None:
        raise DatasetError(f"{location} has no dataset card ({CARD}); rebuild the dataset")
    card = DatasetCard(_checked(store, root, entry).decode())
    return DatasetInfosDict.from_dataset_card_data(card.data)["default"].features


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
        # render_<k> in camera order (render_10 after render_9); other members, such as
        # maps.json for readers that hold one schema, are not part of a sample
        numbers = {int(m.group(1)): s for s in members if (m := RENDER.fullmatch(s))}
        renders = [members[numbers[k]] for k in sorted(numbers)]
        yield ScenarioSample(
            scenario=Scenario.model_validate_json(members["scenario.json"]),
            mjcf=members["mjcf.xml"].decode(),
            solution_mjcf=members["solution.mjcf.xml"].decode(),
            script=members["script.py"].decode(),
            validation=ValidationReport.model_validate(json.loads(members["validation.json"])),
            renders=renders,
            controls=Controls.model_validate_json(members[CONTROLS])
            if CONTROLS in members
            else None,
            filmstrip=members.get(FILMSTRIP),
        )


@dataclass(frozen=True)
class Verification:
    checked: int
    mismatched: list[str]
    missing: list[str]
    unlisted: list[str]
    leftovers: list[str]  # writes a killed run began and never completed

    @property
    def ok(self) -> bool:
        return not (self.mismatched or self.missing or self.unlisted or self.leftovers)


def verify(location: str | Path) -> Verification:
    """Re-hash every file the manifest lists; report any that differ, are missing, are in the
    dataset without being listed, or were left half-written by a killed run."""
    store, root, manifest = open_with_manifest(location)
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
    leftovers = [key.removeprefix(f"{root}/") for key in store.leftovers(root)]
    return Verification(len(listed), mismatched, missing, unlisted, leftovers)


def read_index(location: str | Path) -> tuple[DatasetManifest, list[dict[str, object]]]:
    """The manifest and index.parquet as a list of rows, checked against its manifest hash."""
    store, root, manifest = open_with_manifest(location)
    return manifest, _index_rows(store, root, manifest)


def _index_rows(store: Store, root: str, manifest: DatasetManifest) -> list[dict[str, object]]:
    import pyarrow.parquet as pq

    return pq.read_table(io.BytesIO(_checked(store, root, manifest.index))).to_pylist()


def find_sample(
    location: str | Path, scenario_id: str
) -> tuple[ScenarioSample, DatasetManifest, dict[str, object]]:
    """One scenario of a dataset, with the manifest and its index row; reads only its shard."""
    store, root, manifest = open_with_manifest(location)
    row = next(
        (r for r in _index_rows(store, root, manifest) if r["scenario_id"] == scenario_id), None
    )
    if row is None:
        raise DatasetError(f"{location} has no scenario {scenario_id!r}")
    shard = next(s for s in manifest.shards if s.path == row["shard"])
    sample = next(
        s
        for s in read_shard(_checked(store, root, shard), shard.path)
        if s.scenario.scenario_id == scenario_id
    )
    return sample, manifest, row


def lineage(location: str | Path, scenario_id: str) -> dict[str, object]:
    """Everything recorded about where one scenario came from: its request and prompt, seed and
    parameters, script hash, code versions, sandbox, trace id, shard and the Dagster run that
    built its partition."""
    sample, manifest, row = find_sample(location, scenario_id)
    partition = next((p for p in manifest.partitions if p.request_id == row["request_id"]), None)
    scenario = sample.scenario
    return {
        "scenario_id": scenario_id,
        "dataset": f"{manifest.name} {manifest.version}",
        "shard": row["shard"],
        "split": scenario.split.value,
        "family": scenario.family,
        "seed": scenario.seed,
        "params": scenario.params,
        "request_id": scenario.lineage.request_id,
        "prompt": partition.prompt if partition else None,
        "prompt_sha256": scenario.lineage.prompt_sha256,
        "family_source": scenario.lineage.family_source,
        "script_sha256": scenario.lineage.script_sha256,
        "code_versions": scenario.lineage.code_versions,
        "validator_version": sample.validation.validator_version,
        "sandbox": scenario.lineage.sandbox,
        "trace_id": scenario.lineage.trace_id,
        "dagster_run_id": partition.run_id if partition else None,
        "materialized_at": partition.materialized_at if partition else None,
        "curation": _curation(location, scenario_id),
    }


def _curation(location: str | Path, scenario_id: str) -> dict[str, object] | None:
    """The release's policy and the curator's decision that let the scenario in (None under
    `auto` when nobody decided), from its `curation.json`."""
    store, root = open_dataset(location)
    if not store.exists(f"{root}/curation.json"):
        return None
    record = json.loads(store.get(f"{root}/curation.json"))
    decision_id = record["scenarios"].get(scenario_id)
    decision = next((d for d in record["decisions"] if d["decision_id"] == decision_id), None)
    return {"policy": record["policy"], "decision": decision}
