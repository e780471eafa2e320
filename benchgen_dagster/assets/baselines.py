"""The built-in baselines scored on the released dataset: its leaderboard."""

import time

from dagster import AssetExecutionContext, MaterializeResult, MetadataValue, asset

from benchgen_dagster.assets.packaging import GROUP, dataset_release
from benchgen_dagster.dataset.card import leaderboard_table
from benchgen_dagster.dataset.reader import samples_in
from benchgen_dagster.dataset.release import LEADERBOARD, attach_leaderboard
from benchgen_dagster.resources.settings import PipelineSettings
from benchgen_dagster.resources.storage import StorageResource
from benchgen_dagster.resources.workers import SandboxResource
from benchgen_dagster.schema.contract import DatasetManifest
from benchgen_dagster.validation import steps
from benchgen_dagster.validation.solvers import (
    BASELINES,
    ReferenceSolver,
    leaderboard,
    results_table,
    solve,
)

BASELINE_SPLIT = "test"
BASELINE_ATTEMPTS = 3


@asset(
    group_name=GROUP,
    kinds={"mujoco", "json"},
    deps=[dataset_release],
    code_version=steps.module_version(
        "validation/solvers.py", "validation/scoring.py", "dataset/card.py"
    ),
    description=f"The built-in baselines ({', '.join(BASELINES)}) scored on the release's "
    f"{BASELINE_SPLIT} split with {BASELINE_ATTEMPTS} attempts each: the leaderboard, written "
    f"into the release as {LEADERBOARD} and the card's leaderboard section (the manifest lists "
    "both). Its own job, score_baselines: `benchgen build --baselines` runs it after the "
    "release.",
)
def solver_baselines(
    context: AssetExecutionContext,
    settings: PipelineSettings,
    storage: StorageResource,
    sandbox: SandboxResource,
) -> MaterializeResult:
    store = storage.store()
    root = f"datasets/{settings.dataset}"
    manifest = DatasetManifest.model_validate_json(store.get(f"{root}/manifest.json"))
    samples = list(samples_in(store, root, manifest, BASELINE_SPLIT))
    if not samples:
        return MaterializeResult(
            metadata={"leaderboard": MetadataValue.md(f"No {BASELINE_SPLIT} scenarios.")}
        )
    started = time.perf_counter()
    results = []
    for name, make in BASELINES.items():
        solver = make()
        if isinstance(solver, ReferenceSolver):
            solver.sandbox = sandbox.kind
        result = solve(samples, solver, BASELINE_ATTEMPTS, name=name, split=BASELINE_SPLIT)
        context.log.info(results_table(result))
        results.append(result)
    board = leaderboard(results, manifest.version)
    attach_leaderboard(store, settings.dataset, board)
    return MaterializeResult(
        metadata={
            "leaderboard": MetadataValue.md(leaderboard_table(board)),
            "results": MetadataValue.json(board),
            "dataset_version": manifest.version,
            "scenarios": len(samples),
            "seconds": round(time.perf_counter() - started, 1),
            "path": store.uri(f"{root}/{LEADERBOARD}"),
        }
    )
