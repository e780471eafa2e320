"""The package's shape: a Dagster-free core under a thin Dagster shell."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

CORE = [
    "benchgen_dagster.dataset",
    "benchgen_dagster.catalogue.registry",
    "benchgen_dagster.catalogue.requests",
    "benchgen_dagster.sandbox.select",
    "benchgen_dagster.sandbox.docker",
    "benchgen_dagster.validation.steps",
    "benchgen_dagster.validation.scoring",
    "benchgen_dagster.validation.solvers",
    "benchgen_dagster.dataset.release",
    "benchgen_dagster.curation.staging",
    "benchgen_dagster.curation.plans",
    "benchgen_dagster.curation.page",
]


def test_the_loader_and_the_evaluator_import_without_dagster() -> None:
    code = (
        "import sys, benchgen_dagster\n"
        "from benchgen_dagster.dataset import load\n"
        "benchgen_dagster.evaluate  # the public evaluator\n"
        f"for name in {CORE!r}: __import__(name)\n"
        "from benchgen_dagster.validation.scoring import evaluate\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] == 'dagster'))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]", done.stdout


def test_the_validator_version_covers_the_validation_code_and_the_contract_only() -> None:
    from benchgen_dagster.validation.funnel import validator_sources

    package = Path(__file__).parents[1] / "benchgen_dagster"
    sources = {path.relative_to(package).as_posix() for path in validator_sources()}
    assert "schema/contract.py" in sources and "validation/funnel.py" in sources
    assert all(path.is_file() for path in validator_sources())
    # the pipeline's records and steps change no validation result
    assert not sources & {"schema/records.py", "validation/steps.py", "validation/render.py"}
