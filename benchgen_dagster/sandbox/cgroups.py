"""Tree-wide limits for local sandboxes: cgroup v1 memory and pids groups.

A worker joins its groups before it execs the sandbox, so every process it starts is counted
against the same limits and cannot leave them. Killing the group's processes ends the whole
tree, however a script detaches its children. Where cgroup v1 is not writable the groups are
absent and the caller falls back to per-process limits.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

log = logging.getLogger(__name__)

CGROUP_ROOT = Path("/sys/fs/cgroup")


def _own_path(controller: str) -> Path:
    """This process's group of a controller, from /proc/self/cgroup."""
    for line in Path("/proc/self/cgroup").read_text().splitlines():
        _, controllers, path = line.split(":", 2)
        if controller in controllers.split(","):
            return CGROUP_ROOT / controller / path.lstrip("/")
    raise FileNotFoundError(f"no {controller} cgroup")


@dataclass
class WorkerGroups:
    """A memory and a pids group for one worker; empty when cgroups are not available."""

    paths: list[Path] = field(default_factory=list)

    @classmethod
    def create(cls, memory_mb: int, max_processes: int) -> WorkerGroups:
        name = f"benchgen-{uuid.uuid4().hex[:12]}"
        groups = cls()
        try:
            memory = _own_path("memory") / name
            memory.mkdir()
            groups.paths.append(memory)
            limit = str(memory_mb << 20)
            (memory / "memory.limit_in_bytes").write_text(limit)
            swap = memory / "memory.memsw.limit_in_bytes"
            if swap.exists():
                swap.write_text(limit)
            pids = _own_path("pids") / name
            pids.mkdir()
            groups.paths.append(pids)
            (pids / "pids.max").write_text(str(max_processes))
        except OSError as error:
            log.info("cgroup v1 groups are not available (%s); limits are per process", error)
            groups.remove()
            return cls()
        return groups

    @property
    def active(self) -> bool:
        return bool(self.paths)

    def join(self) -> None:
        """Move the calling process in (call in the child before it execs)."""
        for path in self.paths:
            (path / "cgroup.procs").write_text(str(os.getpid()))

    def pids(self) -> set[int]:
        found: set[int] = set()
        for path in self.paths:
            with contextlib.suppress(OSError):
                found.update(int(p) for p in (path / "cgroup.procs").read_text().split())
        return found

    def kill_all(self) -> None:
        """SIGKILL every process of the tree, including stopped ones and late forks."""
        deadline = time.monotonic() + 5
        while (pids := self.pids()) and time.monotonic() < deadline:
            for pid in pids:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
            time.sleep(0.01)

    def out_of_memory(self) -> bool:
        """Whether the memory limit killed a process of this group."""
        return self._memory_stat("memory.oom_control", "oom_kill") > 0

    def peak_memory_bytes(self) -> int:
        return self._memory_stat("memory.max_usage_in_bytes")

    def _memory_stat(self, name: str, key: str | None = None) -> int:
        for path in self.paths:
            if (path / name).exists():
                text = (path / name).read_text()
                if key is None:
                    return int(text)
                values = dict(line.split() for line in text.splitlines())
                return int(values.get(key, 0))
        return 0

    def remove(self) -> None:
        for path in self.paths:
            for _ in range(100):
                try:
                    path.rmdir()
                    break
                except FileNotFoundError:
                    break
                except OSError:  # still has processes: they are being killed
                    time.sleep(0.01)
        self.paths = []
