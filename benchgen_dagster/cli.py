"""The `benchgen` command: what is not an asset in the Dagster UI."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import click

from benchgen_dagster import __version__
from benchgen_dagster.errors import UserError, env_int
from benchgen_dagster.sandbox.select import SANDBOX_KINDS
from benchgen_dagster.stack.services import SERVICES

if TYPE_CHECKING:
    from benchgen_dagster.stores.local import Store


def sandbox_option(help: str) -> Callable[[Callable[..., None]], Callable[..., None]]:
    return click.option(
        "--sandbox", type=click.Choice(SANDBOX_KINDS), default="auto", show_default=True, help=help
    )


DATA_DIR = Path(os.environ.get("BENCHGEN_DATA_DIR", "data"))


class BadInput(click.ClickException):
    """A user error: one line on stderr, exit status 2, no traceback."""

    exit_code = 2


class BenchgenGroup(click.Group):
    def invoke(self, ctx: click.Context) -> object:
        try:
            return super().invoke(ctx)
        except UserError as error:
            raise BadInput(str(error)) from None


@click.group(cls=BenchgenGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="benchgen")
def main() -> None:
    """benchgen: datasets of physics benchmark scenarios for engineering agents.

    \b
    Examples:
      benchgen build                      # the default dataset, offline
      benchgen validate-script my_family.py --seed 3
      benchgen inspect data/datasets/default
      benchgen request "a ball must clear a wall" --family over_wall
    """


@main.command()
@click.option(
    "--variants",
    type=click.IntRange(1, 100_000),
    default=None,
    help="Seeds per family (default: $BENCHGEN_VARIANTS or 16).",
)
@click.option("--family", "families", multiple=True, help="Only these families (repeatable).")
@click.option(
    "--workers",
    type=click.IntRange(1, 64),
    default=os.cpu_count() or 1,
    show_default=True,
    help="Partitions materialized at once.",
)
@click.option("--force", is_flag=True, help="Rebuild partitions that are up to date.")
@click.option(
    "--baselines",
    is_flag=True,
    help="Then score the built-in solvers on the test split: the card's leaderboard.",
)
@click.option("--data-dir", type=click.Path(path_type=Path), default=DATA_DIR, show_default=True)
def build(
    variants: int | None,
    families: tuple[str, ...],
    workers: int,
    force: bool,
    baselines: bool,
    data_dir: Path,
) -> None:
    """Build the default dataset through Dagster: every built-in family, validated, rendered
    and packaged into DATA_DIR/datasets/default.

    \b
    Example:
      benchgen build --variants 8 --family ball_bin
    """
    from benchgen_dagster.catalogue.builtin import DEFAULT_VARIANTS
    from benchgen_dagster.orchestration.build import build_dataset

    count = variants or env_int("BENCHGEN_VARIANTS", DEFAULT_VARIANTS)
    sys.exit(
        build_dataset(
            data_dir.resolve(),
            count,
            workers,
            force,
            list(families) or None,
            click.echo,
            baselines,
        )
    )


@main.command("validate-script")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--seed", type=int, default=0, show_default=True)
@sandbox_option("Which sandbox runs the script; auto picks the strongest available.")
def validate_script(path: Path, seed: int, sandbox: str) -> None:
    """Run one family script for one seed through the whole funnel and print a JSON report.

    Exit status: 0 accepted, 1 rejected, 2 usage error (bad arguments, sandbox unavailable).

    \b
    Example:
      benchgen validate-script benchgen_dagster/families/ball_bin.py --seed 4 --sandbox docker
    """
    from benchgen_dagster.validation.checking import check_script

    try:
        source = path.read_bytes()
    except OSError as error:
        raise BadInput(f"cannot read {path}: {error}") from None
    report = check_script(source, path.stem, seed, sandbox)
    click.echo(json.dumps(report, indent=2))
    sys.exit(0 if report["accepted"] else 1)


@main.command("worker-image")
def worker_image() -> None:
    """Build the Docker image of the sandboxed worker (only when its inputs changed).

    It is made from Debian's packages and PyPI only: debootstrap, docker import, pip.
    """
    from benchgen_dagster.sandbox.docker import docker_available
    from benchgen_dagster.sandbox.image import ImageBuildError, ensure_image

    if not docker_available():
        raise click.ClickException("no Docker daemon answers; start it with scripts/ensure-docker")
    try:
        click.echo(ensure_image(click.echo))
    except ImageBuildError as error:
        raise click.ClickException(str(error)) from None


def _sizes(scale: str) -> list[int]:
    """--scale's comma-separated sizes, each a whole number of scenarios, at least 1."""
    parts = [part.strip() for part in scale.split(",")]
    if not all(part.isdigit() and int(part) >= 1 for part in parts):
        raise BadInput(f"--scale: {scale!r} is not a comma-separated list of sizes, e.g. 100,1000")
    return [int(part) for part in parts]


@main.command()
@click.option(
    "--scenarios",
    type=click.IntRange(1),
    default=1000,
    show_default=True,
    help="Variants spread over every registered family.",
)
@click.option("--scale", help="Comma-separated sizes to run one after another, e.g. 100,1000.")
@click.option(
    "--sample",
    type=click.IntRange(1),
    default=6,
    show_default=True,
    help="Variants the naive baseline runs (a fresh process each).",
)
@click.option("--workers", type=click.IntRange(1), default=os.cpu_count() or 1, show_default=True)
@sandbox_option("Which sandbox runs the scripts; auto picks the strongest available.")
@click.option(
    "--cameras", default="iso,side", show_default=True, help="Cameras rendered per scenario."
)
@click.option(
    "--out",
    type=click.Path(path_type=Path),
    default=Path("benchmarks/results"),
    show_default=True,
    help="Folder for the JSON results.",
)
@click.option(
    "--cold-workers",
    is_flag=True,
    help="Start a fresh sandbox worker for every partition instead of keeping one warm per "
    "process, to compare the two.",
)
@click.option(
    "--latency",
    is_flag=True,
    help="Instead of throughput: one request dropped into the requests folder of a `dagster "
    "dev` (as `make dev`) until its release, stage by stage, against `benchgen build` of it.",
)
@click.option(
    "--deployment",
    is_flag=True,
    help="--latency: through the production stack of deploy/ (PostgreSQL, S3, a container per "
    "run and per step), started for the measurement, instead of `dagster dev`.",
)
@click.option(
    "--family", default="over_wall", show_default=True, help="--latency: the request's family."
)
@click.option(
    "--variants",
    type=click.IntRange(1),
    default=3,
    show_default=True,
    help="--latency: the request's variants.",
)
@click.option(
    "--timeout",
    type=click.FloatRange(1),
    default=600,
    show_default=True,
    help="--latency: seconds to wait for the release.",
)
def bench(
    scenarios: int,
    scale: str | None,
    sample: int,
    workers: int,
    sandbox: str,
    cameras: str,
    out: Path,
    cold_workers: bool,
    latency: bool,
    deployment: bool,
    family: str,
    variants: int,
    timeout: float,
) -> None:
    """Measure throughput: the pipeline path against a naive fresh-process-per-variant baseline,
    in one run; print a table and write it as JSON. With --latency, measure one request's way
    through the UI's sensors and jobs instead.

    \b
    Examples:
      benchgen bench                           # 1000 scenarios (make bench)
      benchgen bench --scale 100,1000,10000 --cameras iso   # make bench-scale
      benchgen bench --latency --family over_wall --variants 3   # make bench-latency
      benchgen bench --latency --deployment    # the same through deploy/'s stack
    """
    from benchgen_dagster.validation.bench import per_scenario_ms, run_bench, table
    from benchgen_dagster.validation.model import camera_names

    if latency:
        from benchgen_dagster.catalogue.registry import get_family
        from benchgen_dagster.orchestration.latency import latency_table, run_latency

        get_family(family)  # an unknown family is a usage error before anything starts
        result = run_latency(family, variants, timeout, click.echo, deployment=deployment)
        click.echo(latency_table(result))
        out.mkdir(parents=True, exist_ok=True)
        name = f"latency-{'deployment-' if deployment else ''}{family}-{variants}"
        path = out / f"{name}-{result['created_at'].replace(':', '')}.json"
        path.write_text(json.dumps(result, indent=2) + "\n")
        click.echo(f"written {path}")
        return
    sizes = _sizes(scale) if scale else [scenarios]
    try:
        views = camera_names(cameras)
    except ValueError as error:
        raise BadInput(f"--cameras: {error}") from None
    results = []
    for size in sizes:
        result = run_bench(
            size, sample, workers, sandbox, views, click.echo, warm_workers=not cold_workers
        )
        click.echo(table(result))
        results.append(result)
        out.mkdir(parents=True, exist_ok=True)
        path = out / f"bench-{size}-{result['created_at'].replace(':', '')}.json"
        path.write_text(json.dumps(result, indent=2) + "\n")
        click.echo(f"written {path}")
    if len(results) > 1:
        click.echo(per_scenario_ms(results))


@main.command("bench-storage")
@click.option("--shards", type=click.IntRange(1), default=8, show_default=True)
@click.option("--shard-mb", type=click.IntRange(1), default=32, show_default=True)
def bench_storage(shards: int, shard_mb: int) -> None:
    """Upload throughput of shard-sized objects to the configured S3 bucket against a write to
    the local file system, in one run (needs BENCHGEN_S3_BUCKET; see README).

    \b
    Example:
      BENCHGEN_S3_BUCKET=benchgen BENCHGEN_S3_ENDPOINT=http://127.0.0.1:8333 \\
        benchgen bench-storage --shards 8 --shard-mb 32
    """
    import tempfile

    from benchgen_dagster.errors import ConfigError
    from benchgen_dagster.stores.local import LocalStore
    from benchgen_dagster.stores.s3 import store_from_environment
    from benchgen_dagster.validation.bench import storage_throughput

    s3 = store_from_environment()
    if s3 is None:
        raise ConfigError("bench-storage compares against S3: set BENCHGEN_S3_BUCKET")
    with tempfile.TemporaryDirectory(dir=DATA_DIR if DATA_DIR.is_dir() else None) as local:
        stores = {"local": LocalStore(local), "s3": s3}
        click.echo(json.dumps(storage_throughput(stores, shard_mb, shards, click.echo), indent=2))


@main.command()
@click.argument("dataset", default=str(DATA_DIR / "datasets" / "default"))
@click.argument("scenario_id", required=False)
def inspect(dataset: str, scenario_id: str | None) -> None:
    """Summarise a released dataset: counts per split, family and funnel stage, and per family
    what was tried, packaged, how robust and how varied. With SCENARIO_ID, the lineage of that
    scenario instead, as JSON: request, prompt, seed, script hash, code versions, Dagster run.

    \b
    Examples:
      benchgen inspect
      benchgen inspect data/datasets/default ball_bin-s00003
    """
    from benchgen_dagster.dataset.reader import lineage, read_index

    if scenario_id:
        click.echo(json.dumps(lineage(dataset, scenario_id), indent=2))
        return
    from benchgen_dagster.dataset.summary import print_summary

    print_summary(*read_index(dataset))


@main.command()
@click.argument("dataset")
@click.argument("scenario_id")
@click.argument(
    "design", required=False, type=click.Path(exists=True, dir_okay=False, path_type=Path)
)
@click.option("--reference", is_flag=True, help="Score the scenario's own reference solution.")
@click.option("--material", default=None, help="What the design is made of [default: wood].")
@click.option("--trials", type=click.IntRange(0, 100), default=5, show_default=True)
@click.option(
    "--controls",
    "controls_file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="The control schedule of an MJCF design's actuators, as a dataset's "
    'solution.controls.json: {"schema_version": "1", "controls": {NAME: [[t_s, value], ...]}}.',
)
def evaluate(
    dataset: str,
    scenario_id: str,
    design: Path | None,
    reference: bool,
    material: str | None,
    trials: int,
    controls_file: Path | None,
) -> None:
    """Score a design on one scenario of a dataset and print the result as JSON.

    DESIGN is a Python file with `design(scenario)` returning {label: build123d shape}, or a
    `benchgen_dagster.kit.Mechanism` (parts with joints, actuators and their control schedule),
    in millimetres and degrees like a family script (the scenario it receives is in metres),
    or an MJCF file (.xml) whose worldbody holds the design's bodies, in metres, with its
    joints and actuators (each with a force limit) and --controls for their schedule. Every
    actuator counts against the budget. Exit status: 0 the design succeeds, 1 it fails or
    breaks a constraint, 2 bad input.

    \b
    Examples:
      benchgen evaluate data/datasets/default ball_bin-s00003 my_chute.py
      benchgen evaluate data/datasets/default ball_bin-s00003 my_chute.xml --material steel
      benchgen evaluate data/datasets/default shelf_lift-s00000 lift.xml --controls lift.json
      benchgen evaluate data/datasets/default ball_bin-s00003 --reference
    """
    from benchgen_dagster.dataset.reader import find_sample
    from benchgen_dagster.schema.contract import Controls
    from benchgen_dagster.validation.scoring import evaluate as score
    from benchgen_dagster.validation.scoring import load_design, reference_design

    if (design is None) == (not reference):
        raise BadInput("give a DESIGN file or --reference (one of them)")
    if controls_file is not None and (design is None or design.suffix != ".xml"):
        raise BadInput("--controls goes with an MJCF design (.xml)")
    sample, _, _ = find_sample(dataset, scenario_id)
    if reference:
        parts, own_material = reference_design(sample)
    else:
        parts, own_material = load_design(design, sample.scenario), "wood"  # type: ignore[arg-type]
    try:
        controls = (
            Controls.model_validate_json(controls_file.read_bytes()) if controls_file else None
        )
        result = score(
            sample, parts, material=material or own_material, trials=trials, controls=controls
        )
    except ValueError as error:
        raise BadInput(str(error)) from None
    click.echo(result.model_dump_json(indent=2))
    sys.exit(0 if result.success else 1)


@main.command()
@click.argument("dataset")
@click.option(
    "--solver",
    "solvers",
    multiple=True,
    required=True,
    help="A baseline (null, random-plank, random-parts, reference), MODULE:CALLABLE imported "
    "here (trusted code), or path/to/solver.py defining solve(scenario, attempt), run in the "
    "sandbox. Repeat it for a leaderboard.",
)
@click.option("--split", default="test", show_default=True, help="train, validation or test.")
@click.option("--attempts", "-k", type=click.IntRange(1, 100), default=3, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print the results as JSON.")
@click.option(
    "--out", type=click.Path(dir_okay=False, path_type=Path), help="Also write the JSON here."
)
@sandbox_option("Where script solvers and the reference run.")
@click.option(
    "--timeout",
    type=click.FloatRange(1, 600),
    default=30,
    show_default=True,
    help="Seconds a script solver may take per attempt.",
)
def solve(
    dataset: str,
    solvers: tuple[str, ...],
    split: str,
    attempts: int,
    as_json: bool,
    out: Path | None,
    sandbox: str,
    timeout: float,
) -> None:
    """Score solvers over a split: up to K attempts per scenario, and per family and overall
    success@1, success@K, AUCCESS (PHYRE's area over attempts 1..K) and the mean cost and
    weight of successful designs.

    With --json the output is one solver's {"overall": {...}, "families": {...}, ...}, or a
    list of them for several --solver. Exit status: 0 scored (whatever the success), 2 bad input.

    \b
    Examples:
      benchgen solve data/datasets/default --solver random-plank --attempts 3
      benchgen solve data/datasets/default --solver null --solver reference --json
      benchgen solve data/datasets/default --solver my_solver.py --sandbox docker
    """
    from benchgen_dagster.dataset.reader import load, read_manifest
    from benchgen_dagster.schema.contract import Split
    from benchgen_dagster.validation.solvers import (
        leaderboard_markdown,
        results_table,
        solver_from_spec,
    )
    from benchgen_dagster.validation.solvers import (
        solve as score_solver,
    )

    if split not in {s.value for s in Split}:
        raise BadInput(f"unknown split {split!r}; choose train, validation or test")
    read_manifest(dataset)  # a path that is not a dataset is bad input, before any solver loads
    chosen = [(name, solver_from_spec(name, sandbox, timeout)) for name in solvers]
    samples = list(load(dataset, split=split))
    if not samples:
        raise BadInput(f"{dataset} has no scenarios in the {split} split")
    results = [
        score_solver(samples, solver, attempts, name=name, split=split) for name, solver in chosen
    ]
    document = [r.model_dump(mode="json") for r in results]
    text = json.dumps(document[0] if len(document) == 1 else document, indent=2)
    if out:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(text + "\n")
    if as_json:
        click.echo(text)
        return
    for result in results:
        click.echo(results_table(result) + "\n")
    if len(results) > 1:
        click.echo(leaderboard_markdown(results))


@main.command()
@click.argument("prompt")
@click.option(
    "--family", default=None, help="A built-in family (omit to have the agent write one)."
)
@click.option("--variants", type=int, default=16, show_default=True, help="Seeds, 1 to 100000.")
@click.option(
    "--seed-start",
    type=int,
    default=None,
    help="The first seed [default: the first free one, see above].",
)
@click.option(
    "--param",
    "params",
    multiple=True,
    metavar="NAME=VALUE",
    help="Fix one of the family's parameters, within its declared range (repeatable).",
)
@click.option("--split", default=None, help="train, validation or test (agent families only).")
@click.option(
    "--difficulty",
    type=click.Choice(["easy", "medium", "hard"]),
    default=None,
    help="Package only scenarios of this difficulty tier or harder, drawing more seeds (at "
    "most 4 × VARIANTS) until there are VARIANTS of them.",
)
@click.option(
    "--requests-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=DATA_DIR / "requests",
    show_default=True,
)
def request(
    prompt: str,
    family: str | None,
    variants: int,
    seed_start: int | None,
    params: tuple[str, ...],
    split: str | None,
    difficulty: str | None,
    requests_dir: Path,
) -> None:
    """Write a generation request where the `new_requests` sensor picks it up (`make dev`).

    The request is checked here as the sensor checks it, and every problem is named (exit
    status 2): the family is a built-in one (or omitted, for the agent to write one), each
    --param is one of its parameters, within its declared range or among its choices, and a
    built-in family keeps its own split.

    Seeds: the same family, parameters and seed make the same scenario, so requests of one
    family with the same parameters must not share a seed (a built-in family's own partition
    holds seeds 0 to BENCHGEN_VARIANTS-1). Without --seed-start a request gets the first seeds
    no such request holds, chosen when the sensor accepts it; with --seed-start it gets exactly
    those seeds, or is refused when another request holds one of them.

    \b
    Examples:
      benchgen request "a ball must clear a wall" --family over_wall --variants 8
      benchgen request "a low wall" --family over_wall --param wall_height=130 --seed-start 0
      benchgen request "a 60 mm cube must cross a 180 mm gap" --seed-start 100
      benchgen request "a hard wall" --family over_wall --variants 4 --difficulty hard
    """
    import yaml

    from benchgen_dagster.agents.outcomes import MODEL_VARIABLE
    from benchgen_dagster.catalogue.builtin import DEFAULT_VARIANTS
    from benchgen_dagster.catalogue.requests import RequestBook, RequestRejected, request_yaml

    fixed, problems = {}, []
    for param in params:
        name, equals, value = param.partition("=")
        if not equals or not name:
            problems.append(f"--param {param!r}: expected NAME=VALUE")
        else:
            fixed[name.strip()] = yaml.safe_load(value) if value.strip() else value
    fields = {"prompt": prompt, "family": family, "variants": variants, "seed_start": seed_start}
    book = RequestBook(requests_dir, env_int("BENCHGEN_VARIANTS", DEFAULT_VARIANTS))
    verdict = book.check(
        {**fields, "params": fixed or None, "split": split, "difficulty": difficulty}
    )
    if problems or not verdict.ok:
        raise RequestRejected("the request", problems + verdict.problems)
    assert verdict.request is not None
    offline = family is None and not os.environ.get(MODEL_VARIABLE)
    if offline:  # the offline planner will plan it: say now what it makes of the prompt
        from benchgen_dagster.courses.planner import PlanError, plan_prompt

        try:
            planned = plan_prompt(prompt)
        except PlanError as error:
            raise RequestRejected(
                "the request", [f"prompt: {error} (and {MODEL_VARIABLE} is not set)"]
            ) from None
    if verdict.already_accepted:
        click.echo(f"{verdict.request.request_id}: {verdict.notes[0]}")
        return
    path = book.submit(verdict.request)  # as asked: the sensor gives the seeds when it accepts
    click.echo(f"{verdict.request.request_id}: written to {path}")
    click.echo(request_yaml(verdict.request).rstrip())
    for note in verdict.notes:
        click.echo(f"note: {note}, when the sensor accepts it")
    if offline:
        course = planned.understood["course"]["value"]
        click.echo(f"note: no {MODEL_VARIABLE}: the offline planner plans it (course {course})")


@main.command()
@click.argument("request_id")
@click.option("--data-dir", type=click.Path(path_type=Path), default=DATA_DIR, show_default=True)
def forget(request_id: str, data_dir: Path) -> None:
    """Forget a request: its partition and everything made for it.

    Runs the `forget_request` job (the UI's launchpad runs the same job) on the Dagster
    instance of DATA_DIR: it removes the dynamic partition, its runs with their
    materializations, its stored asset values (assets/<asset>/REQUEST_ID/) and its accepted
    request file. The next release (`benchgen build`, or the release_dataset job) leaves its
    scenarios out. A built-in family's partition comes back with the next `benchgen build`.

    \b
    Example:
      benchgen forget over-wall-1a2b3c
    """
    from benchgen_dagster.catalogue.builtin import DEFAULT_VARIANTS
    from benchgen_dagster.orchestration.build import BuildTarget
    from benchgen_dagster.orchestration.jobs import run_forget

    target = BuildTarget.on(data_dir, env_int("BENCHGEN_VARIANTS", DEFAULT_VARIANTS))
    with target.instance() as instance:
        removed = run_forget(request_id, instance, target.resources())
    click.echo(f"forgot {request_id}:")
    for line in removed:
        click.echo(f"  {line}")
    click.echo("release again (`benchgen build`, or the release_dataset job) to drop its scenarios")


@main.command()
@click.argument("dataset", default=str(DATA_DIR / "datasets" / "default"))
def verify(dataset: str) -> None:
    """Re-hash a released dataset against its manifest.

    Exit status: 0 every file matches, 1 a file is changed, missing, unlisted or left half-written
    by a killed run, 2 not a dataset.
    """
    from benchgen_dagster.dataset.reader import verify as verify_dataset

    result = verify_dataset(dataset)
    for label, paths in (
        ("changed", result.mismatched),
        ("missing", result.missing),
        ("unlisted", result.unlisted),
        ("leftover", result.leftovers),
    ):
        for path in paths:
            click.echo(f"{label}: {path}")
    verdict = "ok" if result.ok else "FAILED"
    click.echo(f"{verdict}: {result.checked} files listed in {dataset}/manifest.json")
    sys.exit(0 if result.ok else 1)


class ReviewGroup(click.Group):
    """`benchgen review [DATASET]` serves the page; `benchgen review list|approve|...` the rest."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if not args or (args[0] not in self.commands and args[0] not in ("-h", "--help")):
            args = ["serve", *args]
        return super().parse_args(ctx, args)


DEFAULT_DATASET = str(DATA_DIR / "datasets" / "default")
DATASET_HELP = "DATA_DIR/datasets/NAME, s3://BUCKET/PREFIX/datasets/NAME, or a dataset's NAME"


@main.group(cls=ReviewGroup)
def review() -> None:
    """Curation: what passes the funnel is staged, and the release holds what is promoted under
    the dataset's policy: `auto` (everything staged that no curator rejected; the default) or
    `review` (only what a curator approved). Decisions go to an append-only log beside the
    dataset (curation/NAME/decisions/), and the next release (the `release_after_decision`
    sensor, or `benchgen build`) applies them.

    DATASET is DATA_DIR/datasets/NAME, s3://BUCKET/PREFIX/datasets/NAME, or a NAME. The
    curator is $BENCHGEN_CURATOR, else the OS user.

    \b
    Examples:
      benchgen review                                  # the review page on 127.0.0.1:8765
      benchgen review policy data/datasets/default review
      benchgen review list data/datasets/default --waiting
      benchgen review approve data/datasets/default ball_bin-s00001 ball_bin-s00002
      benchgen review reject data/datasets/default cube_gap-s00000 --note "ball escapes"
      benchgen review approve data/datasets/default --partition staircase --note "all fine"
    """


@review.command("serve")
@click.argument("dataset", default=DEFAULT_DATASET)
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", type=click.IntRange(0, 65535), default=8765, show_default=True)
def review_serve(dataset: str, host: str, port: int) -> None:
    """Serve the review page: per partition the staged scenarios' renders, filmstrip of the
    reference run, difficulty, measurements and lineage, the funnel's rejections with their
    reasons, and approve/reject buttons with keyboard shortcuts (press ? on the page).

    It listens on 127.0.0.1 only, unless --host names another address; then every request
    needs the access token ($BENCHGEN_REVIEW_TOKEN, else one made up and printed here).
    """
    import secrets

    import uvicorn

    from benchgen_dagster.curation.log import open_curation
    from benchgen_dagster.curation.page import TOKEN_VARIABLE, is_loopback, review_app
    from benchgen_dagster.curation.staging import staged_batches

    store, name = open_curation(dataset, str(DATA_DIR))
    if not staged_batches(store, name):
        click.echo(f"note: nothing is staged for {name} in {store.uri('')} yet", err=True)
    token = os.environ.get(TOKEN_VARIABLE) or None
    address = f"http://{host}:{port}/"
    if not is_loopback(host) and token is None:
        token = secrets.token_urlsafe(24)
        address += f"?token={token}"
    click.echo(f"reviewing {name} at {address} (Ctrl+C to stop)")
    uvicorn.run(review_app(store, name, token), host=host, port=port, log_level="warning")


@review.command("list")
@click.argument("dataset", default=DEFAULT_DATASET)
@click.option("--partition", default=None, help="Only this partition.")
@click.option("--waiting", is_flag=True, help="Only scenarios that await a decision.")
@click.option("--json", "as_json", is_flag=True, help="As JSON, for scripts.")
def review_list(dataset: str, partition: str | None, waiting: bool, as_json: bool) -> None:
    """The staged scenarios and where each stands: waiting, approved, rejected, or promoted
    (under `auto`, with no decision)."""
    from benchgen_dagster.curation.staging import Staging

    store, name = _open_dataset(dataset)
    staging = Staging.read(store, name)
    if partition is not None:
        staging.check([], partition)
    shown = [
        s
        for s in staging.staged
        if (partition is None or s.partition == partition)
        and (not waiting or s.status == "waiting")
    ]
    if as_json:
        listing = [
            {
                "scenario_id": s.row.scenario_id,
                "partition": s.partition,
                "family": s.row.family,
                "difficulty_tier": s.row.difficulty_tier,
                "status": s.status,
                "promoted": s.promoted,
                "decision": s.decision.model_dump(mode="json") if s.decision else None,
            }
            for s in shown
        ]
        click.echo(json.dumps({"policy": staging.policy, "scenarios": listing}, indent=2))
        return
    counts = {k: sum(s.status == k for s in staging.staged) for k in STATUSES}
    click.echo(
        f"{name}: policy {staging.policy}, {len(staging.staged)} staged ("
        + ", ".join(f"{n} {k}" for k, n in counts.items() if n)
        + ")"
    )
    for s in shown:
        decided = f"{s.decision.who}: {s.decision.note}" if s.decision else ""
        click.echo(
            f"{s.status:9} {s.row.scenario_id:28} {s.partition:20} "
            f"{s.row.difficulty_tier or '-':9} {decided}".rstrip()
        )


STATUSES = ("waiting", "approved", "rejected", "promoted")


def _open_dataset(dataset: str) -> tuple[Store, str]:
    """The store and name of a dataset that exists: a typo is an error, not an empty listing."""
    from benchgen_dagster.curation.log import open_curation, require_dataset

    store, name = open_curation(dataset, str(DATA_DIR))
    require_dataset(store, name)
    return store, name


def _decide(action: str, dataset: str, ids: tuple[str, ...], partition: str | None, note: str):  # type: ignore[no-untyped-def]
    from benchgen_dagster.curation.log import CurationLog
    from benchgen_dagster.curation.staging import Staging

    store, name = _open_dataset(dataset)
    staging = Staging.read(store, name)
    staging.check(list(ids), partition)
    decision = CurationLog(store, name).append(
        action,  # type: ignore[arg-type]
        scenarios=list(ids),
        partition=None if ids else partition,
        note=note,
    )
    count = len(decision.scenarios)
    what = f"{count} scenario{'s' * (count != 1)}" if ids else f"partition {partition}"
    done = {"approve": "approved", "reject": "rejected"}[action]
    click.echo(f"{done} {what}: decision {decision.decision_id} by {decision.who}")
    click.echo("the next release applies it (the release_after_decision sensor, or benchgen build)")


@review.command("approve")
@click.argument("dataset")
@click.argument("ids", nargs=-1)
@click.option("--partition", default=None, help="Every scenario of this partition.")
@click.option("--note", default="", help="Why, in plain words.")
def review_approve(dataset: str, ids: tuple[str, ...], partition: str | None, note: str) -> None:
    """Approve scenarios (IDS) or a whole partition (--partition) for the release."""
    _decide("approve", dataset, ids, partition, note)


@review.command("reject")
@click.argument("dataset")
@click.argument("ids", nargs=-1)
@click.option("--partition", default=None, help="Every scenario of this partition.")
@click.option("--note", required=True, help="Why, in plain words (an agent's Coder reads it).")
def review_reject(dataset: str, ids: tuple[str, ...], partition: str | None, note: str) -> None:
    """Reject scenarios (IDS) or a whole partition (--partition): left out of every release
    until a later decision approves them."""
    if not note.strip():
        raise BadInput("--note must say why the scenarios are rejected")
    _decide("reject", dataset, ids, partition, note)


@review.command("plan")
@click.argument("dataset")
@click.argument("request_id", required=False)
@click.option("--approve", is_flag=True, help="Approve the plan as the Planner drafted it.")
@click.option(
    "--edit",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="Approve this edit of the plan instead (JSON or YAML, the fields `plan` shows).",
)
@click.option("--note", default="", help="Why, in plain words.")
def review_plan(
    dataset: str, request_id: str | None, approve: bool, edit: Path | None, note: str
) -> None:
    """The plans of requests with `review_plan: true`: without REQUEST_ID the ones waiting;
    with it that plan (as JSON, to edit); with --approve or --edit the run goes on with it (the
    `resume_reviewed_plans` sensor), the Planner is not asked again.

    \b
    Examples:
      benchgen review plan data/datasets/default
      benchgen review plan data/datasets/default ramp-roll-1a2b > plan.json
      benchgen review plan data/datasets/default ramp-roll-1a2b --edit plan.json --note "lower"
    """
    import yaml

    from benchgen_dagster.curation.plans import PlanReviews

    store, name = _open_dataset(dataset)
    reviews = PlanReviews(store, name)
    if request_id is None:
        for review in reviews.all():
            click.echo(f"{review.status:9} {review.request_id:28} {review.plan.family}")
        return
    if approve or edit:
        try:
            edited = yaml.safe_load(edit.read_text()) if edit else None
        except (OSError, yaml.YAMLError) as error:
            raise BadInput(f"cannot read the edited plan {edit}: {error}") from None
        if edited is not None and not isinstance(edited, dict):
            raise BadInput(f"{edit}: expected the plan's fields as a mapping")
        review = reviews.approve(request_id, edited, note)
        what = "an edit of the plan" if review.edited else "the plan"
        click.echo(f"approved {what} of {request_id} (family {review.plan.family})")
        return
    review = reviews.get(request_id)
    if review is None:
        raise BadInput(f"request {request_id!r} has no plan held for review")
    fields = review.plan.model_dump(mode="json", exclude={"source"}, exclude_none=True)
    click.echo(json.dumps(fields, indent=2))
    click.echo(f"({review.status})", err=True)


@review.command("policy")
@click.argument("dataset", default=DEFAULT_DATASET)
@click.argument("policy", type=click.Choice(["auto", "review"]), required=False)
def review_policy(dataset: str, policy: str | None) -> None:
    """Show the dataset's policy, or set it: `auto` or `review`."""
    from benchgen_dagster.curation.log import CurationLog, open_curation

    store, name = open_curation(dataset, str(DATA_DIR))
    log = CurationLog(store, name)
    if policy is not None:
        log.set_policy(policy)  # type: ignore[arg-type]
    click.echo(f"{name}: {log.policy()}")


@main.command()
@click.argument("prompt")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document.")
@click.option(
    "--check",
    type=click.IntRange(0, 64),
    default=0,
    show_default=True,
    help="Run this many seeds of the spec through the funnel.",
)
@sandbox_option("Which sandbox runs the checks.")
def plan(prompt: str, as_json: bool, check: int, sandbox: str) -> None:
    """Turn a plain request into a course spec offline, without a model.

    Prints what it understood (quantities in millimetres, with the words they came from),
    what it ignored, and the spec. A prompt it cannot map is one message, exit status 1.

    \b
    Examples:
      benchgen plan "a 30 mm marble must reach a cup half a metre away"
      benchgen plan "a cube must cross a gap 200 mm wide" --check 4 --json
    """
    from benchgen_dagster.courses.planner import PlanError, plan_prompt
    from benchgen_dagster.courses.script import spec_script
    from benchgen_dagster.validation.checking import check_seeds

    try:
        made = plan_prompt(prompt)
    except PlanError as error:
        click.echo(f"benchgen plan: {error}", err=True)
        sys.exit(1)
    checks = []
    if check:
        script = spec_script(made.spec, "planned", "planner")
        for report in check_seeds(script.source, "planned", 0, check, sandbox):
            rejection = next((s for s in report["stages"] if not s["passed"]), None)
            reason = rejection["reason"] if rejection else None
            checks.append(
                {"seed": report["seed"], "accepted": report["accepted"], "reason": reason}
            )
    if as_json:
        click.echo(json.dumps({**made.as_json(), "checks": checks}, indent=2))
        return
    click.echo("understood:")
    for name, value in made.understood.items():
        amount = f"{value['mm']} mm" if "mm" in value else value["value"]
        click.echo(f"  {name}: {amount}" + (f"  ({value['words']!r})" if value["words"] else ""))
    click.echo(f"ignored: {', '.join(made.ignored) or '(nothing)'}")
    click.echo("spec:")
    click.echo(json.dumps(made.spec.as_data(), indent=2))
    for c in checks:
        verdict = "accepted" if c["accepted"] else f"rejected ({c['reason']})"
        click.echo(f"seed {c['seed']}: {verdict}")


@main.command()
@click.argument(
    "folder", type=click.Path(file_okay=False, path_type=Path), default=Path("docs/schema")
)
def schema(folder: Path) -> None:
    """Write the JSON Schemas of the dataset's records (scenario, request, plan, report)."""
    from benchgen_dagster.schema.records import json_schemas

    folder.mkdir(parents=True, exist_ok=True)
    for name, document in json_schemas().items():
        (folder / f"{name}.schema.json").write_text(json.dumps(document, indent=2) + "\n")
        click.echo(folder / f"{name}.schema.json")


@main.command(
    "dev",
    context_settings={"ignore_unknown_options": True, "help_option_names": ["--help"]},
)
@click.argument("dagster_args", nargs=-1, type=click.UNPROCESSED)
def dev(dagster_args: tuple[str, ...]) -> None:
    """`dagster dev DAGSTER_ARGS…` (what `make dev` runs): the UI, its daemon and code server;
    with the Docker sandbox, a warm worker (container started, build123d imported) waits for
    the next run's first batch, and another is started when one is taken.

    \b
    Examples:
      benchgen dev -h 127.0.0.1 -p 3000 -w workspace.yaml
    """
    from benchgen_dagster.orchestration.dev import run_dev

    sys.exit(run_dev(list(dagster_args), say=lambda line: click.echo(line, err=True)))


@main.command("dagster-home")
@click.option("--data-dir", type=click.Path(path_type=Path), default=DATA_DIR, show_default=True)
def dagster_home_command(data_dir: Path) -> None:
    """Create the Dagster instance folder (DAGSTER_HOME) if needed and print its path."""
    from benchgen_dagster.orchestration.build import dagster_home

    click.echo(dagster_home(data_dir))


@main.command("executor-config")
@click.option("--data-dir", type=click.Path(path_type=Path), default=DATA_DIR, show_default=True)
def executor_config(data_dir: Path) -> None:
    """Print the run config of `build_partition_in_docker` on this Docker host: one container
    per step through dagster-docker's docker_executor, sharing DATA_DIR and its Dagster home.
    Imports the step image first if it is missing.

    \b
    Example:
      benchgen executor-config > run.yaml
      DAGSTER_HOME=data/dagster dagster job execute -m benchgen_dagster.orchestration.definitions \\
        -j build_partition_in_docker -c run.yaml --tags '{"dagster/partition": "ball_bin"}'
    """
    import yaml

    from benchgen_dagster.orchestration.build import dagster_home
    from benchgen_dagster.orchestration.scaleout import docker_executor_config, ensure_step_image
    from benchgen_dagster.sandbox.docker import docker_available

    if not docker_available():
        raise BadInput("no Docker daemon answers; start it with scripts/ensure-docker")
    home = dagster_home(data_dir)
    config = docker_executor_config(data_dir, home, ensure_step_image())
    click.echo(yaml.safe_dump(config, sort_keys=False), nl=False)


@main.group()
def stack() -> None:
    """The production stack on this machine (`deploy/`): PostgreSQL, the S3 server, the code
    server, the Dagster daemon and the web server. Settings come from the environment, with the
    defaults of deploy/stack.env.

    \b
    Examples:
      benchgen stack up                   # start what is not running; prints each start-up time
      benchgen request "..." --family over_wall --requests-dir data/requests
      benchgen stack status
      benchgen stack down                 # stop everything, remove the runs' containers
    """


@stack.command("up")
@click.argument("services", nargs=-1, type=click.Choice(SERVICES))
def stack_up(services: tuple[str, ...]) -> None:
    """Start the stack (or only SERVICES) and wait until every service answers."""
    import time

    from benchgen_dagster.sandbox.docker import docker_available
    from benchgen_dagster.stack.services import Stack

    if not docker_available():
        raise BadInput("no Docker daemon answers; start it with scripts/ensure-docker")
    started = time.perf_counter()
    deployment = Stack.from_environment(say=click.echo)
    deployment.up(services or SERVICES)
    click.echo(f"stack up in {time.perf_counter() - started:.1f} s: {deployment.web_url}")


@stack.command("down")
def stack_down() -> None:
    """Stop every service of the stack and remove the containers its runs left."""
    from benchgen_dagster.stack.services import Stack

    Stack.from_environment(say=click.echo).down()


@stack.command("status")
def stack_status() -> None:
    """Which services run (exit 1 when one does not)."""
    from benchgen_dagster.stack.services import Stack

    state = Stack.from_environment(say=click.echo).status()
    for name, running in state.items():
        click.echo(f"{name}: {'running' if running else 'stopped'}")
    sys.exit(0 if all(state.values()) else 1)


if __name__ == "__main__":
    main()
