"""A store of whole files in a local folder, and the protocol every store follows.

Every write is atomic: a file appears under its key only when complete, so a killed run never
leaves something that looks finished. What a killed writer does leave is a staged file,
`.tmp-<pid>-…` beside its target: never listed as a key, reported by `leftovers` and removed
by `clear_leftovers` once its writer is gone. Keys are POSIX-style paths relative to the
store's root.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Protocol

STAGED = ".tmp-"  # the prefix of a file being written


class Store(Protocol):
    def put(self, key: str, data: bytes) -> None: ...

    def get(self, key: str) -> bytes: ...

    def leftovers(self, prefix: str) -> list[str]:
        """Writes under a folder-like prefix that were started and never completed."""

    def exists(self, key: str) -> bool: ...

    def list(self, prefix: str) -> list[str]:
        """Every key under a folder-like prefix, sorted."""

    def delete(self, key: str) -> None: ...

    def uri(self, key: str) -> str: ...

    def readable_url(self, key: str, expires_s: int) -> str:
        """Where any reader (curl, `webdataset`, Hugging Face `datasets`) can fetch the key."""


class LocalStore:
    """A folder on the local file system."""

    def __init__(self, root: Path | str) -> None:
        self.root = Path(root)

    def path(self, key: str) -> Path:
        path = (self.root / key).resolve()
        if not path.is_relative_to(self.root.resolve()):
            raise ValueError(f"key {key!r} leaves the store")
        return path

    def put(self, key: str, data: bytes) -> None:
        with self._staged(key) as tmp:
            tmp.write_bytes(data)

    def get(self, key: str) -> bytes:
        return self.path(key).read_bytes()

    def exists(self, key: str) -> bool:
        return self.path(key).is_file()

    def list(self, prefix: str) -> list[str]:
        folder = self.path(prefix)
        if not folder.is_dir():
            return []
        return sorted(
            p.relative_to(self.root.resolve()).as_posix()
            for p in folder.rglob("*")
            if p.is_file() and not p.name.startswith(STAGED)
        )

    def leftovers(self, prefix: str) -> list[str]:
        folder = self.path(prefix)
        if not folder.is_dir():
            return []
        root = self.root.resolve()
        return sorted(p.relative_to(root).as_posix() for p in folder.rglob(f"{STAGED}*"))

    def clear_leftovers(self, prefix: str = "") -> list[str]:
        """Remove the staged files of writers that no longer run; the keys they were for."""
        cleared = []
        for key in self.leftovers(prefix):
            if not _writer_alive(Path(key).name):
                self.path(key).unlink(missing_ok=True)
                cleared.append(key)
        return cleared

    def delete(self, key: str) -> None:
        self.path(key).unlink(missing_ok=True)

    def uri(self, key: str) -> str:
        return self.path(key).as_uri()

    def readable_url(self, key: str, expires_s: int) -> str:
        return str(self.path(key))

    def _staged(self, key: str) -> _Staged:
        return _Staged(self.path(key))


class _Staged:
    """A temporary file beside the target, renamed onto it only if the block succeeds."""

    def __init__(self, target: Path) -> None:
        self.target = target

    def __enter__(self) -> Path:
        self.target.parent.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(prefix=f"{STAGED}{os.getpid()}-", dir=self.target.parent)
        os.close(fd)
        self.tmp = Path(name)
        return self.tmp

    def __exit__(self, error_type: object, *_: object) -> None:
        if error_type is not None:
            self.tmp.unlink(missing_ok=True)
            return
        with self.tmp.open("rb+") as file:
            os.fsync(file.fileno())
        os.chmod(self.tmp, 0o644)
        os.replace(self.tmp, self.target)


def _writer_alive(staged_name: str) -> bool:
    """Whether the process that began a staged file still runs (its pid is in the name)."""
    pid = staged_name.removeprefix(STAGED).partition("-")[0]
    if not pid.isdigit():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # it runs, as another user
        return True
    return True
