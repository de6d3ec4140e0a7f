"""Shared test helpers: the conformance corpora and the installed `ssechat` command."""

from __future__ import annotations

import base64
import json
import os
import shutil
import signal
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
# The project's copy of the conformance corpora (transcribed test vectors):
# a clone tests itself. `make conformance` refreshes it from the reference,
# ../shared/conformance (or $SSECHAT_SHARED/conformance); test_conformance.py
# says when the copy is stale.
CONFORMANCE = ROOT / "tests" / "conformance"


def load_corpus(relative: str) -> list[dict[str, Any]]:
    """The cases of one conformance corpus (tests/conformance/RELATIVE)."""
    lines = (CONFORMANCE / relative).read_text(encoding="utf-8").split("\n")
    return [json.loads(line) for line in lines if line.strip()]


def corpus_params(relative: str) -> list[Any]:
    """Parametrize over a corpus at collection time, one case per test, named."""
    return [pytest.param(case, id=case["name"]) for case in load_corpus(relative)]


def case_input(case: dict[str, Any]) -> bytes:
    if "input_b64" in case:
        return base64.b64decode(case["input_b64"])
    return str(case["input"]).encode("utf-8")


def default_sigint() -> None:
    """`preexec_fn` for a child that a test sends SIGINT: SIGINT at its default.

    A shell starts a background job (`pytest &`, cron, CI runners) with SIGINT
    ignored, and children inherit that; ssechat rightly leaves an ignored SIGINT
    ignored. A test of Ctrl-C starts its child as a foreground program starts.
    """
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def ssechat_command() -> list[str]:
    """The installed console script (what a user runs), else `python -m ssechat`."""
    exe = shutil.which("ssechat")
    return [exe] if exe else [sys.executable, "-m", "ssechat"]


def run_ssechat(
    args: Sequence[str],
    input: bytes | None = None,
    *,
    timeout: float = 60,
    env: dict[str, str] | None = None,
    cwd: Path | None = None,
) -> subprocess.CompletedProcess[bytes]:
    """Run the installed ssechat as a subprocess, as a user would."""
    full_env = {**os.environ, **(env or {})}
    full_env.pop("PYTHONUNBUFFERED", None)
    return subprocess.run(
        [*ssechat_command(), *args],
        input=input if input is not None else b"",
        capture_output=True,
        timeout=timeout,
        env=full_env,
        cwd=cwd,
    )


def json_lines(out: bytes) -> list[Any]:
    return [json.loads(line) for line in out.decode("utf-8").split("\n") if line.strip()]


@pytest.fixture
def ssechat() -> Any:
    return run_ssechat
