"""The `benchgen` command: what is not an asset in the Dagster UI."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import click

from benchgen_dagster import __version__
from benchgen_dagster.errors import UserError, env_int

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
@click.option("--data-dir", type=click.Path(path_type=Path), default=DATA_DIR, show_default=True)
def build(
    variants: int | None, families: tuple[str, ...], workers: int, force: bool, data_dir: Path
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
        build_dataset(data_dir.resolve(), count, workers, force, list(families) or None, click.echo)
    )


@main.command("validate-script")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--seed", type=int, default=0, show_default=True)
@click.option(
    "--sandbox",
    type=click.Choice(["auto", "docker", "bubblewrap", "subprocess"]),
    default="auto",
    show_default=True,
    help="Which sandbox runs the script; auto picks the strongest available.",
)
def validate_script(path: Path, seed: int, sandbox: str) -> None:
    """Run one family script for one seed through the whole funnel and print a JSON report.

    Exit status: 0 accepted, 1 rejected, 2 usage error (bad arguments, sandbox unavailable).

    \b
    Example:
      benchgen validate-script benchgen_dagster/families/ball_bin.py --seed 4 --sandbox docker
    """
    from benchgen_dagster.validation.checking import check_script

    try:
        source = path.read_text()
    except (UnicodeDecodeError, OSError) as error:
        raise BadInput(f"cannot read {path} as a Python script: {error}") from None
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
@click.option(
    "--sandbox",
    type=click.Choice(["auto", "docker", "bubblewrap", "subprocess"]),
    default="auto",
    show_default=True,
)
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
def bench(
    scenarios: int,
    scale: str | None,
    sample: int,
    workers: int,
    sandbox: str,
    cameras: str,
    out: Path,
) -> None:
    """Measure throughput: the pipeline path against a naive fresh-process-per-variant baseline,
    in one run; print a table and write it as JSON.

    \b
    Examples:
      benchgen bench                           # 1000 scenarios (make bench)
      benchgen bench --scale 100,1000,10000 --cameras iso   # make bench-scale
    """
    from benchgen_dagster.validation.bench import per_scenario_ms, run_bench, table

    sizes = [int(n) for n in scale.split(",")] if scale else [scenarios]
    views = tuple(c.strip() for c in cameras.split(",") if c.strip())
    results = []
    for size in sizes:
        result = run_bench(size, sample, workers, sandbox, views, click.echo)
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
def evaluate(
    dataset: str,
    scenario_id: str,
    design: Path | None,
    reference: bool,
    material: str | None,
    trials: int,
) -> None:
    """Score a design on one scenario of a dataset and print the result as JSON.

    DESIGN is a Python file with `design(scenario)` returning {label: build123d shape}, in
    millimetres like a family script (the scenario it receives is in metres), or an MJCF
    file (.xml) whose worldbody holds the design's bodies, in metres. Exit status: 0 the
    design succeeds, 1 it fails or breaks a constraint, 2 bad input.

    \b
    Examples:
      benchgen evaluate data/datasets/default ball_bin-s00003 my_chute.py
      benchgen evaluate data/datasets/default ball_bin-s00003 my_chute.xml --material steel
      benchgen evaluate data/datasets/default ball_bin-s00003 --reference
    """
    from benchgen_dagster.dataset.reader import find_sample
    from benchgen_dagster.validation.scoring import evaluate as score
    from benchgen_dagster.validation.scoring import load_design, reference_design

    if (design is None) == (not reference):
        raise BadInput("give a DESIGN file or --reference (one of them)")
    sample, _, _ = find_sample(dataset, scenario_id)
    if reference:
        parts, own_material = reference_design(sample)
    else:
        parts, own_material = load_design(design, sample.scenario), "wood"  # type: ignore[arg-type]
    try:
        result = score(sample, parts, material=material or own_material, trials=trials)
    except ValueError as error:
        raise BadInput(str(error)) from None
    click.echo(result.model_dump_json(indent=2))
    sys.exit(0 if result.success else 1)


@main.command()
@click.argument("prompt")
@click.option(
    "--family", default=None, help="A built-in family (omit to have the agent write one)."
)
@click.option("--variants", type=click.IntRange(1, 100_000), default=16, show_default=True)
@click.option("--seed-start", type=click.IntRange(0), default=0, show_default=True)
@click.option("--split", type=click.Choice(["train", "validation", "test"]), default=None)
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
    seed_start: int,
    split: str | None,
    requests_dir: Path,
) -> None:
    """Write a generation request where the `new_requests` sensor picks it up (`make dev`).

    \b
    Examples:
      benchgen request "a ball must clear a wall" --family over_wall --variants 8
      benchgen request "a 60 mm cube must cross a 180 mm gap" --seed-start 100
    """
    from benchgen_dagster.catalogue.registry import get_family
    from benchgen_dagster.catalogue.requests import RequestBook, request_from, request_yaml

    if family:
        get_family(family)  # an unknown family is refused here, not in a run
    fields = {"prompt": prompt, "family": family, "variants": variants, "seed_start": seed_start}
    new = request_from({**fields, "split": split}, "the request")
    path = RequestBook(requests_dir, variants).submit(new)
    click.echo(f"{new.request_id}: written to {path}")
    click.echo(request_yaml(new).rstrip())


@main.command()
@click.argument("dataset", default=str(DATA_DIR / "datasets" / "default"))
def verify(dataset: str) -> None:
    """Re-hash a released dataset against its manifest.

    Exit status: 0 every file matches, 1 a file is changed, missing or unlisted, 2 not a dataset.
    """
    from benchgen_dagster.dataset.reader import verify as verify_dataset

    result = verify_dataset(dataset)
    for label, paths in (
        ("changed", result.mismatched),
        ("missing", result.missing),
        ("unlisted", result.unlisted),
    ):
        for path in paths:
            click.echo(f"{label}: {path}")
    verdict = "ok" if result.ok else "FAILED"
    click.echo(f"{verdict}: {result.checked} files listed in {dataset}/manifest.json")
    sys.exit(0 if result.ok else 1)


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


if __name__ == "__main__":
    main()
