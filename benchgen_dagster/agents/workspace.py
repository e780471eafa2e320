"""A request's folder, the only file system the agents see: the plan, the script, the reports
of every validation round, the reviewer's verdict, a journal and the todo list."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

from deepagents.backends import FilesystemBackend

from benchgen_dagster.stores.local import LocalStore

SCRIPT = "script.py"


class Workspace:
    def __init__(self, root: Path) -> None:
        self.root = root

    def reset(self, keep: tuple[str, ...] = ()) -> Workspace:
        """Start a run afresh, keeping the named files (the plan, for the Coder's run)."""
        kept = {name: self.read(name) for name in keep if (self.root / name).exists()}
        shutil.rmtree(self.root, ignore_errors=True)
        self.root.mkdir(parents=True)
        for name, text in kept.items():
            self.write(name, text)
        return self

    def backend(self) -> FilesystemBackend:
        """The agents' file tools, confined to this folder (no `..`, no absolute escapes)."""
        return FilesystemBackend(root_dir=self.root, virtual_mode=True)

    def read(self, name: str) -> str:
        return (self.root / name).read_text()

    def read_json(self, name: str) -> Any:
        path = self.root / name
        return json.loads(path.read_text()) if path.exists() else None

    def write(self, name: str, text: str) -> None:
        LocalStore(self.root).put(name, text.encode())  # atomic: never half a file

    def write_json(self, name: str, value: Any) -> None:
        self.write(name, json.dumps(value, indent=2) + "\n")

    def journal(self, line: str) -> None:
        with (self.root / "journal.md").open("a") as journal:
            journal.write(f"- {line}\n")

    def script(self) -> str | None:
        path = self.root / SCRIPT
        return path.read_text() if path.exists() else None
