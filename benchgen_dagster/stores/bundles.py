"""Asset values in a store: a record as JSON and the media files beside it."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Generic, TypeVar

from pydantic import BaseModel

from benchgen_dagster.stores.local import Store

R = TypeVar("R", bound=BaseModel)


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
