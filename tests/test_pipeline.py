"""The pipeline's steps: the parallel path gives exactly what the plain one gives."""

from __future__ import annotations

from benchgen_dagster.catalogue.registry import get_family
from benchgen_dagster.sandbox.processes import BubblewrapLauncher
from benchgen_dagster.sandbox.runner import Limits
from benchgen_dagster.schema.records import GenerationRequest, VariantBatch
from benchgen_dagster.validation.steps import (
    PARALLEL_MIN_VARIANTS,
    parallelism,
    run_variants,
    split,
    validate_variants,
)


def test_split_keeps_order_and_balances_chunks() -> None:
    items = list(range(10))
    chunks = split(items, 3)  # type: ignore[arg-type]
    assert [x for c in chunks for x in c] == items
    assert sorted(len(c) for c in chunks) == [3, 3, 4]


def test_partitions_go_side_by_side_and_only_spare_cores_work_inside() -> None:
    large, small = PARALLEL_MIN_VARIANTS, PARALLEL_MIN_VARIANTS - 1
    assert parallelism([large] * 12, 2) == (2, 1)
    assert parallelism([small] * 12, 2) == (2, 1)
    assert parallelism([large], 4) == (1, 4)
    assert parallelism([large, large], 4) == (2, 2)
    assert parallelism([small], 4) == (1, 1)  # too small to pay for more workers
    assert parallelism([], 2) == (1, 1)


def test_the_parallel_path_is_byte_identical_to_the_plain_one() -> None:
    family = get_family("ball_sideways")
    request = GenerationRequest(
        request_id="parallel", prompt="x", family=family.name, variants=PARALLEL_MIN_VARIANTS
    )
    script = family.script()
    launcher = BubblewrapLauncher() if BubblewrapLauncher.available() else None
    assert launcher is not None, "bubblewrap is installed by make test"
    plain = run_variants(request, script, launcher, Limits(), workers=1)
    fast = run_variants(request, script, launcher, Limits(), workers=2)
    assert without_timings(fast.record) == without_timings(plain.record)
    assert dict(fast.files) == dict(plain.files)
    plain_valid = validate_variants(request, script, plain, workers=1)
    fast_valid = validate_variants(request, script, fast, workers=2)
    assert fast_valid.record == plain_valid.record
    assert dict(fast_valid.files) == dict(plain_valid.files)
    assert plain_valid.record.scenarios, "the family should pass the funnel"


def without_timings(batch: VariantBatch) -> VariantBatch:
    """A batch without what depends on the clock, the machine or how the work was split."""
    variants = [v.model_copy(update={"seconds": None}) for v in batch.variants]
    return batch.model_copy(
        update={
            "variants": variants,
            "worker_starts": 0,
            "console": "",
            "worker_peak_memory_mb": 0.0,
        }
    )
