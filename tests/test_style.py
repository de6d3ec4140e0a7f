"""The codebase's own standards: ruff (lint and format) and mypy --strict pass."""

from __future__ import annotations

import shutil
import subprocess
import sys

import pytest

from tests.conftest import ROOT


def _run(args: list[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, cwd=ROOT, capture_output=True, text=True, timeout=300)


@pytest.mark.skipif(shutil.which("ruff") is None, reason="ruff is not installed (test extra)")
def test_ruff_lint_and_format() -> None:
    lint = _run(["ruff", "check", "."])
    assert lint.returncode == 0, lint.stdout + lint.stderr
    fmt = _run(["ruff", "format", "--check", "."])
    assert fmt.returncode == 0, fmt.stdout + fmt.stderr + "\nrun: ruff format ."


def test_mypy_strict() -> None:
    pytest.importorskip("mypy", reason="mypy is not installed (test extra)")
    proc = _run([sys.executable, "-m", "mypy"])
    assert proc.returncode == 0, proc.stdout + proc.stderr
