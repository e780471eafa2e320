"""Leaves traces of a batch behind (`params["mode"] == "leave"`), or looks for them ("look").

A sound scenario either way (the built-in ball_sideways), so that its worker may serve the
next batch; its params say which process served it and whether build123d was imported before
the script was, so a test can tell that both batches ran on one warm worker.
"""

import builtins
import contextlib
import math
import os
import signal
import sys
import threading
import time
from dataclasses import replace
from pathlib import Path

WARM = "build123d" in sys.modules  # before this script's own imports

from benchgen_dagster import kit  # noqa: E402
from benchgen_dagster.families.ball_sideways import build as sound_build  # noqa: E402

TRACE = "benchgen-trace"


def places():
    return [Path("/tmp") / TRACE, Path(os.environ["HOME"]) / TRACE, Path("/dev/shm") / TRACE]


def leave(marker):
    for path in places():
        with contextlib.suppress(OSError):  # a place this sandbox does not give the script
            path.write_text("left by an earlier batch")
    os.environ["BENCHGEN_TRACE"] = "1"
    builtins.benchgen_trace = True
    math.pi = 3.0
    kit.Zone = "patched"
    signal.signal(signal.SIGUSR1, lambda *_: None)

    def scribble():
        while True:
            for path in places():
                with contextlib.suppress(OSError):
                    path.write_text("written by a thread of an earlier batch")
            time.sleep(0.01)

    threading.Thread(target=scribble, daemon=True).start()
    if os.fork() == 0:  # a detached process that outlives the batch, unless it is killed
        os.setsid()
        if os.fork() == 0:
            os.execvp("sleep", ["sleep", str(marker)])
        os._exit(0)


def found(marker):
    traces = [str(p) for p in places() if p.exists()]
    for process in Path("/proc").glob("[0-9]*"):
        try:
            if f"sleep\0{marker}".encode() in (process / "cmdline").read_bytes():
                traces.append(f"process {process.name}")
        except OSError:
            pass
    if os.environ.get("BENCHGEN_TRACE"):
        traces.append("the environment")
    if getattr(builtins, "benchgen_trace", False) or kit.Zone == "patched":
        traces.append("a patched module")
    if math.pi != 3.141592653589793:
        traces.append("a patched constant")
    if signal.getsignal(signal.SIGUSR1) is not signal.SIG_DFL:
        traces.append("a signal handler")
    if threading.active_count() > 1:
        traces.append("a thread")
    return traces


def build(seed, params):
    mode = params.pop("mode")
    marker = params.pop("marker_seconds")
    if mode == "look" and (traces := found(marker)):
        raise AssertionError("traces of an earlier batch: " + ", ".join(traces))
    served_by = f"{os.getppid()}:{Path(f'/proc/{os.getppid()}/stat').read_text().split()[21]}"
    base = sound_build(seed, params)
    if mode == "leave":
        leave(marker)
    return replace(base, params={**base.params, "served_by": served_by, "warm": WARM})
