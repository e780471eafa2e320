"""Media and shards on a real S3 server (SeaweedFS `weed mini` on 127.0.0.1)."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from dagster import DagsterInstance

from benchgen_dagster.cli import main
from benchgen_dagster.dataset import load, read_manifest, shard_urls, verify
from benchgen_dagster.resources import PipelineSettings
from benchgen_dagster.resources.storage import S3Connection
from benchgen_dagster.stores.s3 import MULTIPART_BYTES, S3Store, StorageUnavailable
from tests.helpers import build_request, release_dataset, resources_for
from tests.s3server import S3Server

FAMILIES = ("ball_bin", "puck_shelf")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[S3Server]:
    s3 = S3Server(tmp_path_factory.mktemp("weed")).start()
    yield s3
    s3.stop()


def s3_resource(server: S3Server) -> S3Connection:
    return S3Connection(
        endpoint_url=server.endpoint,
        aws_access_key_id=server.access_key,
        aws_secret_access_key=server.secret_key,
        region_name="us-east-1",
        max_attempts=3,
    )


def build(settings: PipelineSettings, s3: S3Connection | None = None, prefix: str = "") -> bool:
    resources = resources_for(settings, s3=s3, s3_prefix=prefix)
    with DagsterInstance.ephemeral() as instance:
        for family in FAMILIES:
            if not build_request(instance, family, resources, raise_on_error=False).success:
                return False
        return release_dataset(instance, resources).success


@pytest.fixture(scope="module")
def local_dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("local")
    assert build(PipelineSettings(data_dir=str(root), builtin_variants=1))
    return root / "datasets" / "default"


@pytest.fixture(scope="module")
def remote(server: S3Server, tmp_path_factory: pytest.TempPathFactory) -> str:
    """The dataset built onto S3; nothing goes to the data folder."""
    data_dir = tmp_path_factory.mktemp("remote")
    settings = PipelineSettings(data_dir=str(data_dir), builtin_variants=1)
    assert build(settings, s3_resource(server), prefix="same")
    assert not (data_dir / "datasets").exists()
    return f"s3://{server.bucket}/same/datasets/default"


@pytest.fixture
def s3_environment(server: S3Server, monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in server.environment().items():
        monkeypatch.setenv(name, value)


@pytest.mark.usefixtures("s3_environment")
def test_the_graph_builds_the_same_dataset_on_s3_as_on_disk(
    server: S3Server, remote: str, local_dataset: Path
) -> None:
    on_s3, on_disk = read_manifest(remote), read_manifest(local_dataset)
    assert on_s3.version == on_disk.version
    assert [s.sha256 for s in on_s3.shards] == [s.sha256 for s in on_disk.shards]
    assert verify(remote).ok
    samples = list(load(remote))
    assert {s.scenario.family for s in samples} == set(FAMILIES)

    store = S3Store(s3_resource(server).get_client(), server.bucket, "same")
    renders = store.list("assets/scenario_renders/ball_bin")
    png = next(key for key in renders if key.endswith(".png"))
    head = store.client.head_object(Bucket=server.bucket, Key=f"same/{png}")
    assert head["ContentType"] == "image/png"


@pytest.mark.usefixtures("s3_environment")
def test_the_shards_stream_from_s3_with_webdataset_and_hugging_face(
    remote: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    import webdataset as wds
    from datasets import load_dataset

    manifest = read_manifest(remote)
    for split, count in manifest.counts["splits"].items():
        urls = shard_urls(remote, split)
        assert all(url.startswith("http://127.0.0.1:") for url in urls)
        streamed = list(wds.WebDataset(urls, shardshuffle=False).decode())
        assert len(streamed) == count
        assert {s["scenario.json"]["split"] for s in streamed} == {split}
        rows = load_dataset("webdataset", data_files={split: urls}, split=split, streaming=True)
        assert sum(1 for _ in rows) == count


def test_a_large_shard_goes_up_in_parts_and_appears_only_whole(server: S3Server) -> None:
    store = S3Store(s3_resource(server).get_client(), server.bucket, "multipart")
    data = bytes(range(256)) * (3 * MULTIPART_BYTES // 256 + 1)
    store.put("shards/big.tar", data)
    head = store.client.head_object(Bucket=server.bucket, Key="multipart/shards/big.tar")
    assert head["ETag"].strip('"').endswith("-4")  # an ETag of four parts
    assert store.get("shards/big.tar") == data
    assert store.list("shards") == ["shards/big.tar"]


def test_a_run_that_loses_s3_midway_is_rerun_with_nothing_lost_or_doubled(
    server: S3Server, local_dataset: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = PipelineSettings(data_dir=str(tmp_path), builtin_variants=1)
    store = S3Store(s3_resource(server).get_client(), server.bucket, "fault")
    outcome: dict[str, bool] = {}

    def first_run() -> None:
        outcome["success"] = build(settings, s3_resource(server), prefix="fault")

    runner = threading.Thread(target=first_run)
    runner.start()
    deadline = time.monotonic() + 300
    while not store.list("assets/scenario_variants") and time.monotonic() < deadline:
        time.sleep(0.2)
    server.stop(hard=True)  # S3 goes away in the middle of the run
    runner.join(timeout=600)
    assert outcome == {"success": False}

    server.start()  # same folder, same ports: the data written before the crash is back
    assert not store.exists("datasets/default/manifest.json")
    assert build(settings, s3_resource(server), prefix="fault")
    for name, value in server.environment().items():
        monkeypatch.setenv(name, value)
    remote = f"s3://{server.bucket}/fault/datasets/default"
    assert read_manifest(remote).version == read_manifest(local_dataset).version
    assert verify(remote).ok
    keys = store.list("")
    assert len(keys) == len(set(keys))
    assert not [k for k in keys if "/.tmp-" in k]


def test_an_unreachable_endpoint_is_one_clear_error(
    server: S3Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in server.environment().items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("BENCHGEN_S3_ENDPOINT", "http://127.0.0.1:9")
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")
    result = CliRunner().invoke(main, ["verify", f"s3://{server.bucket}/x/datasets/default"])
    assert result.exit_code == 2 and "S3 is unreachable for s3://" in result.output
    assert "Traceback" not in result.output


def test_wrong_credentials_are_one_clear_error(server: S3Server) -> None:
    wrong = S3Connection(
        endpoint_url=server.endpoint,
        aws_access_key_id=server.access_key,
        aws_secret_access_key="wrong",
        region_name="us-east-1",
        max_attempts=1,
    )
    with pytest.raises(StorageUnavailable, match="S3 refused s3://benchgen/x/"):
        S3Store(wrong.get_client(), server.bucket, "x").list("datasets")


@pytest.mark.usefixtures("s3_environment")
def test_curators_decisions_go_to_the_bucket_and_two_at_once_are_both_kept(remote: str) -> None:
    from click.testing import CliRunner

    from benchgen_dagster.cli import main
    from benchgen_dagster.curation.log import CurationLog, open_curation, utc_now
    from benchgen_dagster.curation.staging import Staging

    store, name = open_curation(remote)
    staged = sorted(Staging.read(store, name).scenarios)
    log, same_moment, start = CurationLog(store, name), utc_now(), threading.Barrier(2)

    def decide(who: str) -> None:
        start.wait()
        log.append("approve", scenarios=[staged[0]], who=who, at=same_moment)

    threads = [threading.Thread(target=decide, args=(who,)) for who in ("ada", "grace")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    said = CliRunner().invoke(main, ["review", "reject", remote, staged[0], "--note", "wobbly"])
    assert said.exit_code == 0, said.output
    assert sorted(d.who for d in log.decisions())[:2] == ["ada", "grace"]
    assert len(store.list(f"curation/{name}/decisions")) == 3
    listing = CliRunner().invoke(main, ["review", "list", remote, "--json"])
    statuses = {s["scenario_id"]: s["status"] for s in json.loads(listing.output)["scenarios"]}
    assert statuses[staged[0]] == "rejected"  # the newest decision is in force
