"""Dataset shards, the index and the manifest: the contract consumers rely on.

Shards are WebDataset-style tars whose members are grouped by scenario id. Everything hashed is
deterministic (fixed member order, zero timestamps and owners), so the same scenarios always
give byte-identical shards; only the manifest's `created_at` changes between builds.
"""

from __future__ import annotations

import hashlib
import io
import json
import tarfile
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import UTC, datetime
from itertools import islice
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from benchgen_dagster.catalogue.registry import split_of
from benchgen_dagster.dataset import figures
from benchgen_dagster.dataset.card import dataset_card
from benchgen_dagster.dataset.diversity import (
    FEATURES,
    scenario_features,
    summarise,
)
from benchgen_dagster.dataset.members import CONTROLS, MAPS, maps_member, member_json
from benchgen_dagster.schema.contract import (
    DatasetManifest,
    Diversity,
    FileEntry,
    IndexRow,
    PartitionLineage,
    Scenario,
    ShardEntry,
    ValidationReport,
    params_json,
    stage_counts,
)
from benchgen_dagster.schema.records import (
    FamilyScript,
    GenerationRequest,
    ReleaseCuration,
    RenderBatch,
    ShardBatch,
    ShardInfo,
    ValidationBatch,
)
from benchgen_dagster.stores.bundles import Bundle
from benchgen_dagster.stores.local import Store

SCENARIOS_PER_SHARD = 256
CARD = "README.md"
LEADERBOARD = "leaderboard.json"
CURATION = "curation.json"
CONTACT_SHEET = "contact_sheet.png"
INDEX_COLUMNS = [
    "scenario_id",
    "family",
    "seed",
    "split",
    "shard",
    "request_id",
    "params_json",
    "script_sha256",
    "prompt_sha256",
    "validator_version",
    "family_code_version",
    "sandbox",
    "geometry_sha256",
    "tier",
    "random_solve_rate",
    "random_solve_low95",
    "random_solve_high95",
    "difficulty_tier",
    "robust_successes",
    "robust_trials",
]
COLUMN_TYPES = {
    "seed": pa.int64(),
    "random_solve_rate": pa.float64(),
    "random_solve_low95": pa.float64(),
    "random_solve_high95": pa.float64(),
    "robust_successes": pa.int64(),
    "robust_trials": pa.int64(),
}


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def pack_shards(
    request: GenerationRequest,
    script: FamilyScript,
    validated: Bundle[ValidationBatch],
    renders: Bundle[RenderBatch],
    scenarios_per_shard: int = SCENARIOS_PER_SHARD,
) -> Bundle[ShardBatch]:
    """Tar every rendered, accepted scenario of one request into shards of bounded size."""
    rendered = {r.scenario_id: r for r in renders.record.results}
    reports = {
        r.scenario_id: r.model_copy(update={"stages": [*r.stages, rendered[r.scenario_id].stage]})
        if r.scenario_id in rendered
        else r
        for r in validated.record.reports
    }
    packaged = [
        s
        for s in validated.record.scenarios
        if s.scenario_id in rendered and rendered[s.scenario_id].stage.passed
    ]
    shards, rows, files = [], [], {}
    for number, start in enumerate(range(0, len(packaged), scenarios_per_shard)):
        name = f"{request.request_id}-{number:05d}.tar"
        members: list[tuple[str, bytes]] = []
        for scenario in packaged[start : start + scenarios_per_shard]:
            sid = scenario.scenario_id
            report = reports[sid]
            records = {
                "scenario.json": scenario.model_dump(mode="json"),
                "validation.json": report.model_dump(mode="json"),
            }
            members += [
                (f"{sid}.scenario.json", _json(records["scenario.json"])),
                (f"{sid}.mjcf.xml", validated.files[f"{sid}.mjcf.xml"]),
                (f"{sid}.solution.mjcf.xml", validated.files[f"{sid}.solution.mjcf.xml"]),
                (f"{sid}.script.py", script.source.encode()),
                (f"{sid}.validation.json", _json(records["validation.json"])),
                (f"{sid}.{MAPS}", maps_member(records)),
            ]
            if f"{sid}.{CONTROLS}" in validated.files:
                members.append((f"{sid}.{CONTROLS}", validated.files[f"{sid}.{CONTROLS}"]))
            members += [(f, renders.files[f]) for f in rendered[sid].files]
            rows.append(
                IndexRow(
                    scenario_id=sid,
                    family=scenario.family,
                    seed=scenario.seed,
                    split=scenario.split,
                    shard=name,
                    request_id=request.request_id,
                    params_json=params_json(scenario.params),
                    script_sha256=script.sha256,
                    prompt_sha256=request.prompt_sha256,
                    validator_version=report.validator_version,
                    family_code_version=script.code_version,
                    sandbox=scenario.lineage.sandbox,
                    geometry_sha256=validated.record.geometry[sid],
                    **difficulty_columns(scenario, report),
                    measurements={**report.measurements(), **scenario_features(scenario)},
                )
            )
        data = tar_bytes(members)
        files[name] = data
        shards.append(
            ShardInfo(
                name=name,
                sha256=sha256(data),
                bytes=len(data),
                scenarios=len(packaged[start : start + scenarios_per_shard]),
            )
        )
    funnel = stage_counts(list(reports.values()))
    funnel["packaged"] = len(rows)
    batch = ShardBatch(
        request_id=request.request_id,
        family=script.family,
        split=split_of(script.family, request.split),
        shards=shards,
        rows=rows,
        funnel=funnel,
    )
    return Bundle(batch, files)


def difficulty_columns(scenario: Scenario, report: ValidationReport) -> dict[str, object]:
    """The index's difficulty and robustness columns, from the scenario and its report."""
    measured = report.measurements()
    difficulty = scenario.difficulty
    robust = {
        "robust_successes": _count(measured.get("robust.successes")),
        "robust_trials": _count(measured.get("robust.trials")),
    }
    if difficulty is None:
        return {"tier": scenario.tier, **robust}
    return {
        "tier": scenario.tier,
        "random_solve_rate": difficulty.random_solve_rate,
        "random_solve_low95": difficulty.random_solve_low95,
        "random_solve_high95": difficulty.random_solve_high95,
        "difficulty_tier": difficulty.tier,
        **robust,
    }


def _count(value: float | None) -> int | None:
    return None if value is None else int(value)


def tar_bytes(members: Iterable[tuple[str, bytes]]) -> bytes:
    """A deterministic tar: members in the given order, no timestamps, no owners."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.USTAR_FORMAT) as tar:
        for name, data in members:
            info = tarfile.TarInfo(name)
            info.size, info.mtime, info.mode = len(data), 0, 0o644
            info.uid = info.gid = 0
            info.uname = info.gname = ""
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def _json(value: object) -> bytes:
    return member_json(value)


# --- the release --------------------------------------------------------------------------


def write_release(
    store: Store,
    name: str,
    batches: Mapping[str, Bundle[ShardBatch]],
    lineage: list[PartitionLineage],
    code_versions: dict[str, str],
    license_id: str = "cc-by-4.0",
    cameras: Sequence[str] = (),
    curation: ReleaseCuration | None = None,
) -> DatasetManifest:
    """Publish `datasets/<name>/`: each partition's shards as
    `shards/<split>-<request>-<nnnnn>.tar`, then the index, then the manifest last, so a reader
    never sees a manifest pointing at something missing. A shard's name depends on its partition
    alone, so adding or removing a partition leaves every other shard, name and bytes, as it
    was. `cameras` names the camera of each `render_<k>` in the card; `curation` (the policy and
    the decisions that let each shard's scenarios in) goes into `curation.json`."""
    if not any(bundle.record.rows for bundle in batches.values()):
        raise ValueError(f"nothing to release as {name!r}: no partition packaged a scenario")
    root = f"datasets/{name}"
    ordered = sorted(batches.items(), key=lambda item: (item[1].record.split, item[0]))
    shard_entries, rows, members = [], [], []
    for _, bundle in ordered:
        batch = bundle.record
        for shard in batch.shards:
            path = shard_path(batch.split.value, shard.name)
            data = bundle.files[shard.name]
            store.put(f"{root}/{path}", data)
            members += [m for m in shard_members(data) if m not in members]
            shard_entries.append(
                ShardEntry(
                    path=path,
                    sha256=shard.sha256,
                    bytes=shard.bytes,
                    split=batch.split,
                    scenarios=shard.scenarios,
                )
            )
            rows += [
                r.model_copy(update={"shard": path}) for r in batch.rows if r.shard == shard.name
            ]
    index = index_bytes(rows)
    store.put(f"{root}/index.parquet", index)
    manifest = DatasetManifest(
        name=name,
        version=sha256((sha256(index) + "".join(s.sha256 for s in shard_entries)).encode())[:16],
        created_at=datetime.now(UTC).isoformat(timespec="seconds"),
        code_versions=code_versions,
        counts=release_counts(batches.values(), rows),
        shards=shard_entries,
        index=FileEntry(path="index.parquet", sha256=sha256(index), bytes=len(index)),
        partitions=sorted(lineage, key=lambda p: p.request_id),
        diversity=release_diversity(rows),
    )
    extras = release_pictures(ordered, rows, manifest.counts["stages"])
    board = _standing_leaderboard(store, root, manifest.version)
    extras[CARD] = dataset_card(
        manifest,
        rows,
        license_id,
        pictures=list(extras),
        members=members,
        cameras=cameras,
        leaderboard=board,
    ).encode()
    if board is not None:
        extras[LEADERBOARD] = _json(board)
    if curation is not None:
        extras[CURATION] = _json(curation.model_dump(mode="json"))
    elif store.exists(f"{root}/{CURATION}"):
        store.delete(f"{root}/{CURATION}")
    for path, data in extras.items():
        store.put(f"{root}/{path}", data)
        manifest.files.append(FileEntry(path=path, sha256=sha256(data), bytes=len(data)))
    store.put(f"{root}/manifest.json", _json(manifest.model_dump(mode="json")))
    keep = {f"{root}/{s.path}" for s in shard_entries}
    for key in store.list(f"{root}/shards"):
        if key not in keep:
            store.delete(key)
    return manifest


def _standing_leaderboard(store: Store, root: str, version: str) -> dict[str, Any] | None:
    """The leaderboard of the release being replaced, when it scored these very scenarios
    (the same version); else it is removed, and `solver_baselines` makes a new one."""
    key = f"{root}/{LEADERBOARD}"
    if not store.exists(key):
        return None
    try:
        board = json.loads(store.get(key))
    except ValueError:
        board = None
    if isinstance(board, dict) and board.get("dataset_version") == version:
        return board
    store.delete(key)
    return None


def attach_leaderboard(store: Store, name: str, board: dict[str, Any]) -> DatasetManifest:
    """Add the baselines' leaderboard to a written release: `leaderboard.json`, the card's
    leaderboard section, and both in the manifest (rewritten last, its version unchanged: the
    scenarios are the same), so `verify` holds."""
    from benchgen_dagster.dataset.card import with_leaderboard

    root = f"datasets/{name}"
    manifest = DatasetManifest.model_validate_json(store.get(f"{root}/manifest.json"))
    if board.get("dataset_version") != manifest.version:
        raise ValueError(
            f"the leaderboard scored version {board.get('dataset_version')}, "
            f"the release is {manifest.version}"
        )
    card = with_leaderboard(store.get(f"{root}/{CARD}").decode(), board).encode()
    written = {LEADERBOARD: _json(board), CARD: card}
    for path, data in written.items():
        store.put(f"{root}/{path}", data)
    files = [f for f in manifest.files if f.path not in written]
    files += [FileEntry(path=p, sha256=sha256(d), bytes=len(d)) for p, d in written.items()]
    manifest = manifest.model_copy(update={"files": files})
    store.put(f"{root}/manifest.json", _json(manifest.model_dump(mode="json")))
    return manifest


def shard_path(split: str, shard: str) -> str:
    """Where a partition's shard `<request>-<nnnnn>.tar` goes in a release; the split comes
    first, so `shards/<split>-*.tar` selects a split."""
    return f"shards/{split}-{shard}"


def shard_members(data: bytes) -> list[str]:
    """The members a shard's samples hold (`scenario.json`, `render_0.png`, ...), in order."""
    members: list[str] = []
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:") as tar:
        for name in tar.getnames():
            member = name.partition(".")[2]
            if member and member not in members:
                members.append(member)
    return members


def exact_duplicates(batches: Mapping[str, Bundle[ShardBatch]]) -> list[list[str]]:
    """Scenarios of different partitions that are the same scenario: the same scenery (geometry
    hash) and the same parameters. Each group lists `<request>/<scenario id>`, sorted."""
    groups: dict[tuple[str, str], list[tuple[str, str]]] = {}
    for request_id, bundle in sorted(batches.items()):
        for row in bundle.record.rows:
            key = (row.geometry_sha256, row.params_json)
            groups.setdefault(key, []).append((request_id, row.scenario_id))
    return sorted(
        sorted(f"{request}/{sid}" for request, sid in group)
        for group in groups.values()
        if len({request for request, _ in group}) > 1
    )


def release_pictures(
    batches: Iterable[tuple[str, Bundle[ShardBatch]]], rows: list[IndexRow], stages: dict[str, int]
) -> dict[str, bytes]:
    """The contact sheet (first render of a few scenarios per family) and the plots."""
    if not rows:
        return {}
    renders: dict[str, list[bytes]] = {}
    for _, bundle in batches:
        if bundle.record.rows:  # a family gets a row once it has a packaged scenario
            mine = renders.setdefault(bundle.record.family, [])
            mine += islice(_first_renders(bundle), figures.PER_FAMILY - len(mine))
    return {
        CONTACT_SHEET: figures.contact_sheet(renders),
        "plots/funnel.png": figures.funnel_plot(stages),
        "plots/diversity.png": figures.diversity_plot(rows),
        "plots/difficulty.png": figures.difficulty_plot(rows),
    }


def _first_renders(bundle: Bundle[ShardBatch]) -> Iterator[bytes]:
    """Each packaged scenario's first render, in order, or for a kinematic one the frames of
    its filmstrip; shards are read only as far as asked."""
    from benchgen_dagster.dataset.reader import read_shard

    for shard in bundle.record.shards:
        for sample in read_shard(bundle.files[shard.name], shard.name):
            if sample.filmstrip:
                yield from figures.filmstrip_frames(sample.filmstrip)
            elif sample.renders:
                yield sample.renders[0]


def release_counts(
    batches: Iterable[Bundle[ShardBatch]], rows: list[IndexRow]
) -> dict[str, dict[str, int]]:
    stages: Counter[str] = Counter()
    for bundle in batches:
        stages.update(bundle.record.funnel)
    return {
        "splits": dict(sorted(Counter(r.split.value for r in rows).items())),
        "families": dict(sorted(Counter(r.family for r in rows).items())),
        "stages": dict(stages),
    }


def release_diversity(rows: list[IndexRow]) -> dict[str, Diversity]:
    """Diversity per family and, under `all`, of the whole release."""
    groups: dict[str, list[IndexRow]] = {"all": rows}
    for row in rows:
        groups.setdefault(row.family, []).append(row)
    return {
        name: summarise(
            [{k: r.measurements[k] for k in FEATURES} for r in group],
            [r.geometry_sha256 for r in group],
        )
        for name, group in sorted(groups.items())
    }


def index_bytes(rows: list[IndexRow]) -> bytes:
    """index.parquet: identity columns, then one float column per measurement."""
    rows = sorted(rows, key=lambda r: (r.split, r.family, r.scenario_id))
    measures = sorted({k for r in rows for k in r.measurements})
    columns: dict[str, list[object]] = {
        c: [getattr(r, c).value if c == "split" else getattr(r, c) for r in rows]
        for c in INDEX_COLUMNS
    }
    for measure in measures:
        columns[measure] = [r.measurements.get(measure) for r in rows]
    schema = pa.schema(
        [(c, COLUMN_TYPES.get(c, pa.string())) for c in INDEX_COLUMNS]
        + [(m, pa.float64()) for m in measures]
    )
    buffer = pa.BufferOutputStream()
    pq.write_table(pa.table(columns, schema=schema), buffer, compression="zstd")
    return buffer.getvalue().to_pybytes()
