"""Generation requests: YAML files in the requests folder, and the built-in catalogue.

Layout of the requests folder: new files are dropped in its top level; accepted requests live
in `accepted/<request_id>.yaml` (a partition each); bad files are moved to `rejected/` with a
`.reason.txt` beside them naming every problem. What makes a request acceptable is decided in
one place, `catalogue.checks.check_request`, for the command line and the sensor alike.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

import yaml
from pydantic import ValidationError

from benchgen_dagster.catalogue.builtin import builtin_request, builtin_requests
from benchgen_dagster.catalogue.checks import (
    Verdict,
    check_request,
    problems_with,
    shape_problems,
)
from benchgen_dagster.errors import UserError
from benchgen_dagster.schema.records import GenerationRequest
from benchgen_dagster.stores.local import LocalStore


class RequestError(UserError):
    """A request that cannot be used, with the reason in words."""


class RequestRejected(RequestError):
    """A request with one or more problems, every one of them named."""

    def __init__(self, source: str, problems: list[str]) -> None:
        self.source, self.problems = source, problems
        super().__init__(f"{source} is refused: {'; '.join(problems)}")

    def report(self) -> str:
        """One problem a line, for the `.reason.txt` beside a rejected file."""
        count = f"{len(self.problems)} problem{'s' if len(self.problems) > 1 else ''}"
        return f"{self.source} is refused ({count}):\n" + "".join(f"- {p}\n" for p in self.problems)


def read_fields(text: str, source: str = "request") -> dict[str, object]:
    """A request file's fields, its id made up when missing; unchecked."""
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as error:
        raise RequestRejected(source, [f"not valid YAML: {error}"]) from None
    if not isinstance(data, dict):
        raise RequestRejected(source, ["must be a YAML mapping with at least a prompt"])
    return with_id(data)


def with_id(data: dict[str, object]) -> dict[str, object]:
    """The fields without empty ones, and an id made up from them when there is none."""
    data = {str(k): v for k, v in data.items() if v is not None}
    data.setdefault("request_id", request_id_for(str(data.get("prompt", "")), data))
    return data


def parse_request(text: str, source: str = "request") -> GenerationRequest:
    """A request of the right shape (an accepted file); not checked against the others."""
    try:
        return GenerationRequest.model_validate(read_fields(text, source))
    except ValidationError as error:
        raise RequestRejected(source, shape_problems(error)) from None


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
    rejected: list[tuple[str, str]]  # file name, every problem
    notes: list[tuple[str, str]]  # file name, what intake changed or why nothing is new


class RequestBook:
    def __init__(self, folder: Path, builtin_variants: int) -> None:
        self.folder = Path(folder)
        self.builtin_variants = builtin_variants

    def accepted_path(self, request_id: str) -> Path:
        return self.folder / "accepted" / f"{request_id}.yaml"

    def load(self, request_id: str) -> GenerationRequest:
        """The request behind a partition, as it was accepted."""
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

    def load_checked(self, request_id: str) -> GenerationRequest:
        """The request behind a partition, refused if the registry no longer allows it (its
        family removed, or the family's declared ranges changed since it was accepted)."""
        request = self.load(request_id)
        if problems := problems_with(request):
            raise RequestRejected(f"request {request_id}", problems)
        return request

    def accept(self, request: GenerationRequest) -> Path:
        path = self.accepted_path(request.request_id)
        LocalStore(path.parent).put(path.name, request_yaml(request).encode())
        return path

    def check(self, data: dict[str, object]) -> Verdict:
        """Every problem with a request, against the registry, the accepted requests and the
        built-in catalogue: the one check `benchgen request` and intake share."""
        builtin = builtin_requests(self.builtin_variants)
        return check_request(with_id(data), self.accepted_requests(), builtin)

    def accepted_requests(self) -> list[GenerationRequest]:
        """Every readable accepted request (a file that no longer parses takes no seeds)."""
        requests = []
        for request_id in self.accepted_ids():
            path = self.accepted_path(request_id)
            try:
                requests.append(parse_request(path.read_text(errors="replace"), str(path)))
            except (RequestError, OSError):
                continue
        return requests

    def forget(self, request_id: str) -> bool:
        """Remove an accepted request's file; whether there was one."""
        path = self.accepted_path(request_id)
        existed = path.is_file()
        path.unlink(missing_ok=True)
        return existed

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
        to `rejected/` with a `.reason.txt` beside them naming every problem. Oldest first;
        each is checked against those accepted before it."""
        intake = Intake([], [], [])
        files = sorted(
            (p for p in self.folder.glob("*.y*ml") if p.is_file()),
            key=lambda p: (p.stat().st_mtime_ns, p.name),
        )
        for path in files:
            try:
                self._take_in(path, intake)
            except FileNotFoundError:  # taken in by a concurrent tick
                continue
            except OSError as error:  # unreadable: it stays, and every tick says so
                intake.notes.append((path.name, f"left in place, cannot be read: {error}"))
        return intake

    def _take_in(self, path: Path, intake: Intake) -> None:
        try:
            verdict = self.check(read_fields(path.read_text(errors="replace"), path.name))
            if not verdict.ok:
                raise RequestRejected(path.name, verdict.problems)
        except RequestRejected as rejected:
            store = LocalStore(self.rejected_folder)
            store.put(path.name, path.read_bytes())
            store.put(f"{path.name}.reason.txt", rejected.report().encode())
            intake.rejected.append((path.name, "; ".join(rejected.problems)))
        else:
            if not verdict.already_accepted:
                self.accept(verdict.admitted)
                intake.accepted.append(verdict.admitted)
            intake.notes.extend((path.name, note) for note in verdict.notes)
        path.unlink()
