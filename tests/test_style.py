"""The codebase's own standards: ruff (lint and format) and mypy --strict pass."""

from __future__ import annotations

import subprocess
import sys

from tests.conftest import ROOT


def _run(args: list[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, cwd=ROOT, capture_output=True, text=True, timeout=300)


def test_ruff_lint_and_format() -> None:
    # `python -m ruff`: the test extra's ruff, whether or not the venv is activated.
    lint = _run([sys.executable, "-m", "ruff", "check", "."])
    assert lint.returncode == 0, lint.stdout + lint.stderr
    fmt = _run([sys.executable, "-m", "ruff", "format", "--check", "."])
    assert fmt.returncode == 0, fmt.stdout + fmt.stderr + "\nrun: ruff format ."


def test_mypy_strict() -> None:
    proc = _run([sys.executable, "-m", "mypy"])
    assert proc.returncode == 0, proc.stdout + proc.stderr
