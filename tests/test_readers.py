"""Every field survives every reader: Hugging Face `datasets` (through the card's declared
features), `webdataset` and `benchgen_dagster.dataset.load` return, for every scenario of every
split, exactly what the shards' own files hold."""

from __future__ import annotations

import json
import logging
import tarfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from benchgen_dagster.dataset import load, read_manifest
from benchgen_dagster.dataset.members import (
    CONTROLS,
    FILMSTRIP,
    MAPS,
    RECORDS,
    member_json,
    with_maps,
)

Members = dict[str, Any]  # member name → parsed JSON, or bytes


@dataclass
class Comparison:
    """What one reader returned against the files: leaves compared and where they differ."""

    reader: str
    fields: int = 0
    mismatches: list[str] = field(default_factory=list)


def shard_files(dataset: Path) -> dict[str, Members]:
    """Every scenario's members straight from the tars: JSON members parsed, others as bytes."""
    scenarios: dict[str, Members] = {}
    for shard in read_manifest(dataset).shards:
        with tarfile.open(dataset / shard.path) as tar:
            for member in tar:
                key, _, name = member.name.partition(".")
                data = tar.extractfile(member).read()  # type: ignore[union-attr]
                scenarios.setdefault(key, {})[name] = (
                    json.loads(data) if name.endswith(".json") else data
                )
    return scenarios


def leaves(value: Any, path: str = "") -> Iterator[tuple[str, Any]]:
    if isinstance(value, dict):
        for key, item in value.items():
            yield from leaves(item, f"{path}.{key}" if path else str(key))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from leaves(item, f"{path}[{i}]")
        if not value:
            yield path, []
    else:
        yield path, value


def same(a: Any, b: Any) -> bool:
    """Equal and of the same JSON type (True is not 1, 1 is not 1.0)."""
    return type(a) is type(b) and a == b


def compare(reader: str, returned: dict[str, Members], files: dict[str, Members]) -> Comparison:
    """Every leaf of every member a reader returns, against the files; a scenario or member the
    reader left out counts as all of its leaves mismatched."""
    result = Comparison(reader)
    for sid, members in sorted(files.items()):
        got = returned.get(sid, {})
        for member, want in sorted(members.items()):
            if member not in EXPOSED[reader] and not member.startswith("render_"):
                continue
            expected = dict(leaves(want)) if isinstance(want, dict) else {"": want}
            actual = (
                dict(leaves(got[member]))
                if isinstance(got.get(member), dict)
                else {"": got.get(member)}
            )
            for path in sorted(expected.keys() | actual.keys()):
                result.fields += 1
                if path not in actual:
                    result.mismatches.append(f"{sid}.{member}:{path} lost")
                elif path not in expected:
                    result.mismatches.append(f"{sid}.{member}:{path} added")
                elif not same(expected[path], actual[path]):
                    result.mismatches.append(
                        f"{sid}.{member}:{path} {expected[path]!r} → {actual[path]!r}"
                    )
    return result


# The members each reader gives; benchgen's loader gives a ScenarioSample, whose fields are the
# contract's members (`maps.json` is for readers that hold one schema).
JSON_AND_FILES = (
    "scenario.json",
    "validation.json",
    "mjcf.xml",
    "solution.mjcf.xml",
    "script.py",
    CONTROLS,  # kinematic scenarios only, like the filmstrip
    FILMSTRIP,
)
EXPOSED = {
    "benchgen load": JSON_AND_FILES,
    "webdataset": (*JSON_AND_FILES, MAPS),
    # datasets' Json feature re-encodes the controls through ujson, which moves some floats by
    # an ulp (0.6 → 0.6000000000000001): their exact values are read from the shard
    "datasets": (*(m for m in JSON_AND_FILES if m != CONTROLS), MAPS),
}


def read_with_benchgen(dataset: Path, split: str) -> dict[str, Members]:
    return {
        sample.scenario.scenario_id: {
            "scenario.json": sample.scenario.model_dump(mode="json"),
            "validation.json": sample.validation.model_dump(mode="json"),
            "mjcf.xml": sample.mjcf.encode(),
            "solution.mjcf.xml": sample.solution_mjcf.encode(),
            "script.py": sample.script.encode(),
            **{f"render_{k}.png": png for k, png in enumerate(sample.renders)},
            **({CONTROLS: sample.controls.model_dump(mode="json")} if sample.controls else {}),
            **({FILMSTRIP: sample.filmstrip} if sample.filmstrip else {}),
        }
        for sample in load(dataset, split=split)
    }


def read_with_webdataset(dataset: Path, split: str) -> dict[str, Members]:
    import webdataset as wds

    urls = [str(dataset / s.path) for s in read_manifest(dataset).shards if s.split == split]
    return {
        row["__key__"]: {k: v for k, v in row.items() if not k.startswith("__")}
        for row in wds.WebDataset(urls, shardshuffle=False).decode()
    }


def read_with_datasets(dataset: Path, split: str) -> dict[str, Members]:
    """`load_dataset(<folder>, split=...)`, the way the card shows: its features come from the
    card, not from a few rows. The JSON members' maps are put back from `maps.json`."""
    from datasets import Image, load_dataset

    rows = load_dataset(str(dataset), split=split)
    for name, feature in rows.features.items():
        if isinstance(feature, Image):
            rows = rows.cast_column(name, Image(decode=False))
    returned = {}
    for row in rows:
        members = {k: v for k, v in row.items() if not k.startswith("__")}
        for member, (key, model) in RECORDS.items():
            if MAPS in members:
                members[member] = with_maps(members[member], members[MAPS][key], model)
        for name, feature in rows.features.items():
            if members.get(name) is None:  # a member this scenario does not hold
                members.pop(name, None)
            elif isinstance(feature, Image):
                members[name] = members[name]["bytes"]
        returned[row["__key__"]] = members
    return returned


READERS: dict[str, Callable[[Path, str], dict[str, Members]]] = {
    "benchgen load": read_with_benchgen,
    "webdataset": read_with_webdataset,
    "datasets": read_with_datasets,
}


def compare_readers(dataset: Path) -> list[Comparison]:
    files = shard_files(dataset)
    splits = read_manifest(dataset).counts["splits"]
    results = []
    for reader, read in READERS.items():
        returned: dict[str, Members] = {}
        for split in splits:
            returned.update(read(dataset, split))
        results.append(compare(reader, returned, files))
    return results


@pytest.fixture
def offline_hub(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))


@pytest.mark.usefixtures("offline_hub")
def test_every_reader_returns_every_field_of_every_scenario_as_the_files_hold_it(
    built_dataset: Path,
) -> None:
    results = compare_readers(built_dataset)
    table = "\n".join(
        f"{r.reader}: {r.fields} fields, {len(r.mismatches)} mismatches" for r in results
    )
    for result in results:
        assert result.fields > 0
        assert not result.mismatches, f"{table}\n{result.reader}: {result.mismatches[:10]}"


@pytest.mark.usefixtures("offline_hub")
def test_hugging_face_reads_the_card_without_a_warning(
    built_dataset: Path, caplog: pytest.LogCaptureFixture
) -> None:
    from datasets import load_dataset

    with caplog.at_level(logging.WARNING):
        load_dataset(str(built_dataset), split="test")
    assert not [r.message for r in caplog.records if r.levelno >= logging.WARNING]


def test_the_json_members_are_the_contracts_models_byte_for_byte(built_dataset: Path) -> None:
    """`maps.json` is beside them, not in them: scenario.json and validation.json hold exactly
    the contract's models (their JSON Schemas forbid other keys)."""
    manifest = read_manifest(built_dataset)
    with tarfile.open(built_dataset / manifest.shards[0].path) as tar:
        files = {m.name: tar.extractfile(m).read() for m in tar}  # type: ignore[union-attr]
    samples = [s for s in load(built_dataset) if f"{s.scenario.scenario_id}.mjcf.xml" in files]
    assert samples
    for sample in samples:
        sid = sample.scenario.scenario_id
        assert member_json(sample.scenario.model_dump(mode="json")) == files[f"{sid}.scenario.json"]
        report = member_json(sample.validation.model_dump(mode="json"))
        assert report == files[f"{sid}.validation.json"]
