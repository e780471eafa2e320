"""Where benchgen keeps what it makes: a key-value store of whole files.

Every write is atomic: a file appears under its key only when complete, so a killed run never
leaves something that looks finished. Keys are POSIX-style paths relative to the store's root.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Generic, Protocol, TypeVar

from pydantic import BaseModel

R = TypeVar("R", bound=BaseModel)


class Store(Protocol):
    def put(self, key: str, data: bytes) -> None: ...

    def put_file(self, key: str, path: Path) -> None: ...

    def get(self, key: str) -> bytes: ...

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

    def put_file(self, key: str, path: Path) -> None:
        with self._staged(key) as tmp:
            shutil.copyfile(path, tmp)

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
            if p.is_file() and not p.name.startswith(".tmp-")
        )

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
        fd, name = tempfile.mkstemp(prefix=".tmp-", dir=self.target.parent)
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


@dataclass(frozen=True)
class Bundle(Generic[R]):
    """An asset's value: a structured record plus media files stored beside it."""

    record: R
    files: Mapping[str, bytes]


class StoredFiles(Mapping[str, bytes]):
    """Files of a stored bundle, read from the store only when asked for."""

    def __init__(self, store: Store, prefix: str, names: list[str]) -> None:
        self._store, self._prefix, self._names = store, prefix, names

    def __getitem__(self, name: str) -> bytes:
        if name not in self._names:
            raise KeyError(name)
        return self._store.get(f"{self._prefix}/{name}")

    def __iter__(self) -> Iterator[str]:
        return iter(self._names)

    def __len__(self) -> int:
        return len(self._names)


RECORD_FILE = "record.json"


def write_bundle(store: Store, prefix: str, value: BaseModel | Bundle[BaseModel]) -> None:
    """Store a record (and its files) under a folder-like prefix.

    The media go first and `record.json` last, so a record is never seen without its files;
    files of an earlier version that the new record does not list are removed after it.
    """
    bundle = value if isinstance(value, Bundle) else Bundle(value, {})
    for name, data in bundle.files.items():
        store.put(f"{prefix}/{name}", data)
    envelope = {
        "type": type(bundle.record).__name__,
        "bundle": isinstance(value, Bundle),
        "files": sorted(bundle.files),
        "record": bundle.record.model_dump(mode="json"),
    }
    store.put(f"{prefix}/{RECORD_FILE}", json.dumps(envelope, sort_keys=True).encode())
    listed = {f"{prefix}/{name}" for name in bundle.files} | {f"{prefix}/{RECORD_FILE}"}
    for key in store.list(prefix):
        if key not in listed:
            store.delete(key)


def read_bundle(
    store: Store, prefix: str, types: Mapping[str, type[BaseModel]]
) -> BaseModel | Bundle[BaseModel]:
    """The value stored under a prefix; a Bundle's files are read lazily."""
    key = f"{prefix}/{RECORD_FILE}"
    if not store.exists(key):
        raise FileNotFoundError(f"nothing stored at {store.uri(key)}")
    envelope = json.loads(store.get(key))
    model = types.get(envelope["type"])
    if model is None:
        raise TypeError(f"{key} holds an unknown record type {envelope['type']!r}")
    record = model.model_validate(envelope["record"])
    if not envelope["bundle"]:
        return record
    return Bundle(record, StoredFiles(store, prefix, envelope["files"]))
