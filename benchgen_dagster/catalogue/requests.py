"""Generation requests: YAML files in the requests folder, and the built-in catalogue.

Layout of the requests folder: new files are dropped in its top level; accepted requests live
in `accepted/<request_id>.yaml` (a partition each); bad files are moved to `rejected/` with a
`.reason.txt` beside them.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

import yaml
from pydantic import ValidationError

from benchgen_dagster.catalogue.builtin import builtin_request
from benchgen_dagster.errors import UserError
from benchgen_dagster.schema.records import GenerationRequest
from benchgen_dagster.stores.local import LocalStore


class RequestError(UserError):
    """A request that cannot be used, with the reason in words."""


def parse_request(text: str, source: str = "request") -> GenerationRequest:
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as error:
        raise RequestError(f"{source} is not valid YAML: {error}") from None
    if not isinstance(data, dict):
        raise RequestError(f"{source} must be a YAML mapping with at least a prompt")
    return request_from(data, source)


def request_from(data: dict[str, object], source: str = "request") -> GenerationRequest:
    """A validated request from its fields; the id is made up when missing."""
    data = {k: v for k, v in data.items() if v is not None}
    data.setdefault("request_id", request_id_for(str(data.get("prompt", "")), data))
    try:
        return GenerationRequest.model_validate(data)
    except ValidationError as error:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or 'request'}: {e['msg']}" for e in error.errors()
        )
        raise RequestError(f"{source} is not a valid request: {problems}") from None


def request_id_for(prompt: str, data: dict[str, object]) -> str:
    """A readable, stable id: the family or the prompt's first words, and a short hash."""
    words = re.sub(r"[^a-z0-9]+", "-", str(data.get("family") or prompt).lower()).strip("-")
    digest = hashlib.sha256(repr(sorted(data.items(), key=str)).encode()).hexdigest()[:6]
    return f"{words[:40].strip('-') or 'request'}-{digest}"


def request_yaml(request: GenerationRequest) -> str:
    return yaml.safe_dump(request.model_dump(mode="json", exclude_defaults=True), sort_keys=False)


@dataclass(frozen=True)
class Intake:
    accepted: list[GenerationRequest]
    rejected: list[tuple[str, str]]  # file name, reason


class RequestBook:
    def __init__(self, folder: Path, builtin_variants: int) -> None:
        self.folder = Path(folder)
        self.builtin_variants = builtin_variants

    def accepted_path(self, request_id: str) -> Path:
        return self.folder / "accepted" / f"{request_id}.yaml"

    def load(self, request_id: str) -> GenerationRequest:
        path = self.accepted_path(request_id)
        if path.is_file():
            request = parse_request(path.read_text(), str(path))
            if request.request_id != request_id:
                raise RequestError(f"{path} holds request {request.request_id!r}")
            return request
        request = builtin_request(request_id, self.builtin_variants)
        if request is None:
            raise RequestError(
                f"no request {request_id!r}: not a built-in family and not in "
                f"{self.folder / 'accepted'}"
            )
        return request

    def accept(self, request: GenerationRequest) -> Path:
        path = self.accepted_path(request.request_id)
        LocalStore(path.parent).put(path.name, request_yaml(request).encode())
        return path

    def submit(self, request: GenerationRequest) -> Path:
        """Drop a request in the folder the sensor watches."""
        path = self.folder / f"{request.request_id}.yaml"
        LocalStore(self.folder).put(path.name, request_yaml(request).encode())
        return path

    @property
    def rejected_folder(self) -> Path:
        return self.folder / "rejected"

    def accepted_ids(self) -> list[str]:
        return sorted(p.stem for p in (self.folder / "accepted").glob("*.yaml"))

    def intake(self) -> Intake:
        """Move every request file dropped in the folder: valid ones to `accepted/`, bad ones
        to `rejected/` with a `.reason.txt` beside them. Oldest first."""
        accepted, rejected = [], []
        files = sorted(
            (p for p in self.folder.glob("*.y*ml") if p.is_file()),
            key=lambda p: (p.stat().st_mtime_ns, p.name),
        )
        for path in files:
            try:
                request = parse_request(path.read_text(errors="replace"), path.name)
            except RequestError as error:
                store = LocalStore(self.rejected_folder)
                store.put(path.name, path.read_bytes())
                store.put(f"{path.name}.reason.txt", f"{error}\n".encode())
                rejected.append((path.name, str(error)))
            else:
                self.accept(request)
                accepted.append(request)
            path.unlink()
        return Intake(accepted, rejected)
