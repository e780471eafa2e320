"""The dataset card, written from the release's own data, and the shards read by `webdataset`
exactly as the card shows."""

from __future__ import annotations

import logging
import re
from pathlib import Path

import pytest
import webdataset as wds
import yaml
from braceexpand import braceexpand
from PIL import Image

from benchgen_dagster.dataset import read_manifest
from benchgen_dagster.dataset.card import _brace_pattern
from benchgen_dagster.dataset.release import shard_members
from benchgen_dagster.resources import PipelineSettings
from benchgen_dagster.schema.contract import DatasetManifest, FileEntry, ShardEntry, Split


def card_of(dataset: Path) -> tuple[dict, str]:
    text = (dataset / "README.md").read_text()
    _, header, body = text.split("---\n", 2)
    return yaml.safe_load(header), body


def test_the_release_has_a_dataset_card_listed_in_its_manifest(built_dataset: Path) -> None:
    manifest = read_manifest(built_dataset)
    assert "README.md" in {f.path for f in manifest.files}
    header, body = card_of(built_dataset)
    assert header["license"] and "robotics" in header["task_categories"]
    splits = {s["name"]: s["num_examples"] for s in header["dataset_info"]["splits"]}
    assert splits == manifest.counts["splits"]
    for split in header["dataset_info"]["splits"]:
        assert split["num_bytes"] == sum(
            s.bytes for s in manifest.shards if s.split.value == split["name"]
        )
    paths = {f["split"]: f["path"] for f in header["configs"][0]["data_files"]}
    assert paths["test"] == "shards/test-*.tar"
    for family in manifest.counts["families"]:
        assert f"| {family} |" in body
    for section in ("## Validation", "## Lineage", "## Known limitations", "## Loading"):
        assert section in body


def test_the_shards_load_with_the_webdataset_library_as_the_card_shows(
    built_dataset: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    manifest = read_manifest(built_dataset)
    card = (built_dataset / "README.md").read_text()
    pattern = re.search(r'wds\.WebDataset\("([^"]+)"\)', card)
    assert pattern, "the card shows no webdataset example"
    monkeypatch.chdir(built_dataset)
    samples = list(wds.WebDataset(pattern.group(1), shardshuffle=False).decode("pil"))
    assert len(samples) == manifest.counts["splits"]["test"]
    first = samples[0]
    assert first["scenario.json"]["scenario_id"] == first["__key__"]
    assert first["render_0.png"].size == (320, 240)
    assert b"<mujoco" in first["mjcf.xml"]


def test_the_release_loads_with_hugging_face_datasets_through_its_card(
    built_dataset: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    from datasets import load_dataset

    manifest = read_manifest(built_dataset)
    test = load_dataset(str(built_dataset), split="test")
    assert test.num_rows == manifest.counts["splits"]["test"]
    row = test[0]
    assert row["scenario.json"]["scenario_id"] == row["__key__"]
    assert row["render_0.png"].size == (320, 240)


def test_the_release_has_a_contact_sheet_and_plots_shown_in_its_card(built_dataset: Path) -> None:
    manifest = read_manifest(built_dataset)
    pictures = {f.path for f in manifest.files if f.path.endswith(".png")}
    assert pictures == {
        "contact_sheet.png",
        "plots/funnel.png",
        "plots/diversity.png",
        "plots/difficulty.png",
    }
    sheet = Image.open(built_dataset / "contact_sheet.png")
    assert sheet.height == 144 * len(manifest.counts["families"])  # a row per family
    _, body = card_of(built_dataset)
    for picture in pictures:
        assert f"]({picture})" in body
        assert Image.open(built_dataset / picture).width >= 400


def test_the_card_passes_the_hubs_metadata_parsing_without_a_warning(
    built_dataset: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """What the Hub's libraries check offline; the Hub's own validation (`DatasetCard.validate`)
    is a call to huggingface.co."""
    from datasets import Features
    from datasets.info import DatasetInfosDict
    from huggingface_hub import DatasetCard, DatasetCardData

    header, _ = card_of(built_dataset)
    with caplog.at_level(logging.WARNING):
        card = DatasetCard.load(built_dataset / "README.md")  # raises on a malformed header
        infos = DatasetInfosDict.from_dataset_card_data(card.data)
    assert not [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert isinstance(card.data, DatasetCardData)
    assert card.data.to_dict() == header
    info = infos["default"]
    manifest = read_manifest(built_dataset)
    assert {n: s.num_examples for n, s in info.splits.items()} == manifest.counts["splits"]
    assert isinstance(info.features, Features)


def test_the_card_declares_the_features_of_every_member_a_sample_holds(
    built_dataset: Path,
) -> None:
    header, _ = card_of(built_dataset)
    declared = [f["name"] for f in header["dataset_info"]["features"]]
    manifest = read_manifest(built_dataset)
    members = shard_members((built_dataset / manifest.shards[0].path).read_bytes())
    assert declared == [*members, "__key__", "__url__"]
    scenario = next(f for f in header["dataset_info"]["features"] if f["name"] == "scenario.json")
    fields = {f["name"]: f for f in scenario["struct"]}
    assert fields["seed"] == {"name": "seed", "dtype": "int64"}
    assert "params" not in fields  # its keys differ by family: it is text in maps.json


def test_the_card_names_the_camera_of_each_render(built_dataset: Path) -> None:
    _, body = card_of(built_dataset)
    for k, camera in enumerate(PipelineSettings().cameras):
        assert re.search(rf"`<id>\.render_{k}\.png` \| .*`{camera}` camera", body)
    assert "{{" not in body and "{%" not in body  # the template rendered whole


def test_a_brace_pattern_expands_to_exactly_the_splits_shards() -> None:
    paths = [
        "shards/test-around_wall-00000.tar",
        "shards/test-ball_bin-00000.tar",
        "shards/test-ball_bin-00001.tar",
        "shards/test-ball_bin-00002.tar",
        "shards/train-cube_gap-00000.tar",
    ]
    entry = {"sha256": "0", "bytes": 1, "scenarios": 1}
    manifest = DatasetManifest(
        name="d",
        version="v",
        created_at="",
        code_versions={},
        counts={},
        shards=[ShardEntry(path=p, split=Split(p[7:].split("-")[0]), **entry) for p in paths],
        index=FileEntry(path="index.parquet", sha256="0", bytes=1),
        partitions=[],
    )
    assert list(braceexpand(_brace_pattern(manifest, "test"))) == paths[:4]
    assert _brace_pattern(manifest, "train") == paths[4]


def test_the_contact_sheet_labels_are_large_enough_to_read(built_dataset: Path) -> None:
    sheet = Image.open(built_dataset / "contact_sheet.png").convert("L")
    label = sheet.crop((0, 0, 150, 144)).point(lambda v: 255 if v < 128 else 0)
    top, bottom = label.getbbox()[1], label.getbbox()[3]  # type: ignore[index]
    assert bottom - top >= 16  # pixels from the tallest glyph to the underscore; it was 9
