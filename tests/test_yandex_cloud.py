"""deploy/yandex-cloud/: the Pulumi program's own offline tests (Pulumi's mocks), run in
its own virtualenv (``make test`` builds deploy/yandex-cloud/venv from its requirements)."""

from __future__ import annotations

import re
import subprocess

import pytest

from tests.deploy_helpers import ROOT
from tests.services import services_required

PROGRAM = ROOT / "deploy" / "yandex-cloud"
PYTHON = PROGRAM / "venv" / "bin" / "python"


@pytest.fixture(scope="module")
def program_python() -> str:
    if not PYTHON.exists():
        message = f"{PYTHON} is missing: `make test` creates it from {PROGRAM}/requirements.txt"
        if services_required():
            pytest.fail(message)
        pytest.skip(message)
    return str(PYTHON)


def test_the_program_pins_every_package_it_needs():
    lines = [
        line.strip()
        for line in (PROGRAM / "requirements.txt").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert all(re.fullmatch(r"[A-Za-z0-9_.-]+==[\w.]+", line) for line in lines), lines
    names = {line.split("==")[0] for line in lines}
    assert {"pulumi", "pulumi-yandex-marketmaker"} <= names


def test_the_program_passes_its_tests_against_pulumis_mocks(program_python):
    result = subprocess.run(
        [program_python, "-m", "unittest", "-v", "test_stack"],
        cwd=PROGRAM,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-4000:]
    ran = int(re.search(r"^Ran (\d+) tests?", result.stderr, re.M).group(1))
    assert ran >= 7 and result.stderr.rstrip().endswith("OK"), result.stderr[-2000:]
    assert " ... ok" in result.stderr and "FAIL" not in result.stderr
