"""Runs one family script for a batch of seeds inside a sandbox and writes plain data.

Usage: python -m benchgen_dagster.sandbox.worker INPUT_DIR OUTPUT_DIR

With `"task": "solve"` in `jobs.json` the script is a user's solver instead, and the worker
calls its `solve(scenario, attempt)` for each job (see `_run_solver_jobs`).

INPUT_DIR holds `script.py` and `jobs.json`. For each job the worker writes `<i>.started`, then
the part meshes as binary STL (millimetres) and `<i>.json` (renamed into place when whole), so
the host can tell which variant a hang or a crash belongs to. Everything printed goes to
`console.log` in OUTPUT_DIR. When a Dagster run launched it through Pipes, the worker also
reports progress there. It imports only the standard library, numpy, build123d, the kit and
dagster-pipes: nothing here is trusted by the host.
"""

from __future__ import annotations

import contextlib
import dataclasses
import importlib.util
import json
import os
import sys
import time
import traceback
from pathlib import Path
from typing import Any

import numpy as np


def main(argv: list[str]) -> int:
    input_dir, output_dir = Path(argv[0]), Path(argv[1])
    _capture_console(output_dir / "console.log")
    spec = json.loads((input_dir / "jobs.json").read_text())
    if spec.get("task") == "solve":
        _run_solver_jobs(spec, input_dir, output_dir)
        return 0
    with _pipes() as pipes:
        _run_jobs(spec, input_dir, output_dir, pipes)
    return 0


def _run_solver_jobs(spec: dict[str, Any], input_dir: Path, output_dir: Path) -> None:
    """A user's solver script: `solve(scenario, attempt)` for each job, its design written as
    `<i>.design.xml` (MJCF) or `<i>.design.<k>.<n>.stl` (parts), described by `<i>.json`."""
    _write_atomic(output_dir / "ready", b"")
    try:
        module = _load_script(input_dir / "script.py", "solve", "solve(scenario, attempt)")
    except BaseException as error:
        for job in spec["jobs"]:
            _write_json(output_dir / f"{job['index']}.json", _solver_record(job, _failure(error)))
        return
    for job in spec["jobs"]:
        index = job["index"]
        (output_dir / f"{index}.started").touch()
        started = time.perf_counter()
        try:
            scenario = json.loads((input_dir / job["scenario"]).read_text())
            made = module.solve(scenario, job["seed"])
            record = _solver_record(job, {"ok": True, **_export_design(made, index, output_dir)})
        except BaseException as error:
            record = _solver_record(job, _failure(error))
        record["seconds"] = round(time.perf_counter() - started, 6)
        _write_json(output_dir / f"{index}.json", record)


def _solver_record(job: dict[str, Any], fields: dict[str, Any]) -> dict[str, Any]:
    return {"index": job["index"], "seed": job["seed"], **fields}


def _export_design(made: Any, index: int, output_dir: Path) -> dict[str, Any]:
    material = "wood"
    if isinstance(made, tuple) and len(made) == 2 and isinstance(made[1], str):
        made, material = made
    if made is None or (isinstance(made, dict) and not made):
        return {"kind": "none", "material": material}
    if isinstance(made, str):
        _write_atomic(output_dir / f"{index}.design.xml", made.encode())
        return {"kind": "mjcf", "material": material}
    if not isinstance(made, dict):
        raise TypeError(f"solve() returned {type(made).__name__}: give MJCF text, a dict or None")
    parts = {}
    for k, (label, shape) in enumerate(made.items()):
        stem = f"{index}.design.{k}"
        stls = [shape] if isinstance(shape, bytes) else shape
        if isinstance(stls, list) and all(isinstance(b, bytes) for b in stls):
            names = [f"{stem}.{n}.stl" for n in range(len(stls))]
            for name, data in zip(names, stls, strict=True):
                (output_dir / name).write_bytes(data)
        else:
            names = write_stls(shape, output_dir, stem, 0.1, 0.1)
        parts[str(label)] = names
    return {"kind": "parts", "parts": parts, "material": material}


def _run_jobs(spec: dict[str, Any], input_dir: Path, output_dir: Path, pipes: Any) -> None:
    from benchgen_dagster import kit

    _write_atomic(output_dir / "ready", b"")
    try:
        module = _load_script(input_dir / "script.py")
    except BaseException as error:  # a broken script fails each of its variants
        failure = _failure(error)
        for job in spec["jobs"]:
            _write_json(output_dir / f"{job['index']}.json", {**job, **failure})
        return
    for job in spec["jobs"]:
        index = job["index"]
        (output_dir / f"{index}.started").touch()
        started = time.perf_counter()
        try:
            build = module.build(job["seed"], dict(job["params"]))
            if not isinstance(build, kit.ScenarioBuild):
                raise TypeError(f"build() returned {type(build).__name__}, not ScenarioBuild")
            record = {**job, "ok": True, "build": _export(build, index, output_dir, spec)}
        except BaseException as error:  # the variant fails, the batch goes on
            record = {**job, **_failure(error)}
        record["seconds"] = round(time.perf_counter() - started, 6)
        _write_json(output_dir / f"{index}.json", record)
        if pipes is not None:
            verdict = "built" if record["ok"] else record["error"][:200]
            pipes.log.info(f"seed {job['seed']}: {verdict} in {record['seconds']:.2f} s")
            pipes.report_custom_message({"index": index, "seed": job["seed"], "ok": record["ok"]})


def _capture_console(path: Path) -> None:
    """Send everything printed, by Python or by native code, to a file in the output folder,
    where the host bounds its size; the process's own stdout stays clean."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    sys.stdout.flush()
    sys.stderr.flush()
    os.dup2(fd, 1)
    os.dup2(fd, 2)
    os.close(fd)


def _pipes() -> Any:
    """Dagster Pipes when a Dagster run launched this worker, else nothing."""
    try:
        from dagster_pipes import PipesEnvVarParamsLoader, open_dagster_pipes
    except ImportError:
        return contextlib.nullcontext(None)
    if not PipesEnvVarParamsLoader().is_dagster_pipes_process():
        return contextlib.nullcontext(None)
    return open_dagster_pipes()


def _load_script(
    path: Path, function: str = "build", signature: str = "build(seed, params)"
) -> Any:
    spec = importlib.util.spec_from_file_location("family_script", path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    if not callable(getattr(module, function, None)):
        raise AttributeError(f"the script defines no {signature} function")
    return module


def _failure(error: BaseException) -> dict[str, Any]:
    lines = traceback.format_exception(error)
    return {
        "ok": False,
        "error": f"{type(error).__name__}: {error}"[:2000],
        "traceback": "".join(lines)[-4000:],
    }


def _export(build: Any, index: int, output_dir: Path, spec: dict[str, Any]) -> dict[str, Any]:
    plain = {
        f.name: getattr(build, f.name)
        for f in dataclasses.fields(build)
        if f.name not in ("parts", "solution")
    }
    plain = json.loads(json.dumps(plain, default=_plain))
    for group in ("parts", "solution"):
        plain[group] = {
            label: write_stls(
                shape,
                output_dir,
                f"{index}.{group}.{k}",
                spec["tolerance_mm"],
                spec["angular_tolerance"],
            )
            for k, (label, shape) in enumerate(getattr(build, group).items())
        }
    return plain


def write_stls(
    shape: Any, output_dir: Path, stem: str, tolerance_mm: float, angular_tolerance: float
) -> list[str]:
    """Each solid of a shape as a binary STL `<stem>.<n>.stl`, tessellated and written by
    OpenCascade itself (several times faster than tessellating through Python objects). This
    is build123d's `export_stl` without its second meshing pass and its threads, which cost
    more than they save on small solids; the bytes are the same. Files need no atomic rename:
    the host reads a variant's meshes only once its JSON is in place."""
    from OCP.BRepMesh import BRepMesh_IncrementalMesh
    from OCP.StlAPI import StlAPI_Writer

    writer = StlAPI_Writer()
    writer.ASCIIMode = False
    names = []
    for piece, solid in enumerate(shape.solids()):
        name = f"{stem}.{piece}.stl"
        relative, in_parallel = True, False  # relative deflection, as build123d meshes
        BRepMesh_IncrementalMesh(
            solid.wrapped, tolerance_mm, relative, angular_tolerance, in_parallel
        )
        if not writer.Write(solid.wrapped, str(output_dir / name)):
            raise OSError(f"could not write the mesh of {stem} piece {piece}")
        names.append(name)
    return names


def _plain(value: Any) -> Any:
    if dataclasses.is_dataclass(value):
        return dataclasses.asdict(value)  # type: ignore[arg-type]
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(f"cannot export {type(value).__name__}")


def _write_json(path: Path, record: dict[str, Any]) -> None:
    _write_atomic(path, json.dumps(record).encode())


def _write_atomic(path: Path, data: bytes) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
