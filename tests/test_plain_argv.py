"""parse-sse's arguments read without click (ssechat/cli/plain_argv.py) equal click's reading.

The fast path may decline any argument list (click then reads it); whatever
it accepts, it must read exactly as click does, and the command must then
write the same bytes and exit with the same status on both paths.
(repair-json's table, read by the same code, is tested in test_repair_argv.py.)
"""

from __future__ import annotations

import inspect
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ssechat.cli import main, parse_sse, plain_argv
from ssechat.cli.parse_sse_click import parse_sse_cmd
from tests import argv_forms
from tests.argv_forms import memory_env
from tests.conftest import CONFORMANCE, ROOT, case_input, load_corpus

A_FILE = str(ROOT / "examples" / "openai-tool-call.sse")
OTHER_FILE = str(ROOT / "examples" / "openai-text.sse")
FLAGS = ["--text", "--reasoning", "--summary", "--events", "--allow-truncated", "-q", "--debug"]
# Each option's values: most read as given, some that click refuses or reads otherwise.
VALUES = {
    "--dialect": ["openai-chat", "anthropic", "bedrock", "ANTHROPIC", "nope", "", "-"],
    "--eof": ["dispatch", "discard", "Discard", ""],
    "--max-event-bytes": ["16M", "64k", "1G", "0", "0K", "1KB", " 2M ", "1T", "65536", "7"],
    "--flush": ["auto", "event", "never", "AUTO", ""],
}
FILES = [A_FILE, OTHER_FILE, "-", str(CONFORMANCE), str(CONFORMANCE / "missing.sse"), ""]
JUNK = ["-h", "--help", "--", "--nope", "-qq", "--text=1", "--dialect-file", A_FILE, "-"]
DEFAULTS = {
    name: parameter.default
    for name, parameter in inspect.signature(parse_sse.run).parameters.items()
    if parameter.kind is parameter.KEYWORD_ONLY
}


def argument_lists() -> st.SearchStrategy[list[str]]:
    return argv_forms.argument_lists(FLAGS, VALUES, FILES, JUNK, most_files=3)


def click_reading(args: list[str]) -> dict[str, Any] | None:
    """What click makes of `parse-sse ARGS`: the parameters and the -q/--debug flags.

    None when click refuses them, or when the command would refuse their mix.
    """
    reading = argv_forms.click_reading(parse_sse_cmd, args)
    if reading is None:
        return None
    p = reading["params"]
    modes = (p["text_only"], p["reasoning"], p["summary"], p["raw_events"])
    if parse_sse.mode_conflict(*modes, bool(p["dialect"] or p["dialect_files"])):
        return None
    return reading


def fast_reading(args: list[str]) -> dict[str, Any] | None:
    """plain_argv's reading, with run()'s defaults for what it leaves unset (as click's)."""
    reading = argv_forms.fast_reading(plain_argv.PARSE_SSE, args)
    return reading and {**reading, "params": {**DEFAULTS, **reading["params"]}}


@settings(max_examples=1500, deadline=None)
@given(args=argument_lists())
def test_the_fast_reading_equals_clicks(args: list[str]) -> None:
    fast = fast_reading(args)
    if fast is not None:
        assert fast == click_reading(args)


@pytest.mark.parametrize(
    "args",
    [
        [],
        [A_FILE],
        ["-"],
        [A_FILE, "-", OTHER_FILE],
        ["--text", "--reasoning", A_FILE],
        ["--summary", "--dialect", "anthropic", "--allow-truncated"],
        ["--events", "--eof=discard", "--max-event-bytes", "64K", "-q", "--debug"],
        ["--flush", "never", "--dialect=openai-chat", OTHER_FILE],
    ],
)
def test_the_plain_forms_take_the_fast_path(args: list[str]) -> None:
    fast = fast_reading(args)
    assert fast is not None and fast == click_reading(args)


@pytest.mark.parametrize(
    "args",
    [
        ["--help"],
        ["--text", "--summary"],
        ["--events", "--dialect", "anthropic"],
        ["--reasoning"],
        ["--dialect-file", A_FILE],
        ["--text", "--text"],
        ["--", A_FILE],
        ["--eof", "DISCARD"],
        ["--max-event-bytes", "0"],
        [str(CONFORMANCE)],
    ],
)
def test_anything_else_is_left_to_click(args: list[str]) -> None:
    assert plain_argv.parse(plain_argv.PARSE_SSE, args) is None


MODES = [[], ["--text"], ["--summary"], ["--events"], ["--text", "--reasoning", "-q"]]
CASES = load_corpus("providers/streams.jsonl")


@pytest.mark.parametrize("mode", MODES, ids=" ".join)
def test_both_paths_write_the_same_bytes(
    mode: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every provider capture, as a FILE and on stdin: same output, messages and status."""
    for number, case in enumerate(CASES):
        capture = tmp_path / f"{number}.sse"
        capture.write_bytes(case_input(case))
        for args, stdin in ([*mode, str(capture)], b""), (mode, case_input(case)):
            with monkeypatch.context() as patch:
                fast = _without_clock(_run_main(args, stdin))
                patch.setattr(plain_argv, "parse", lambda table, args: None)  # click's path
                assert _without_clock(_run_main(args, stdin)) == fast, case["name"]


# What --summary measures with the clock on live input (stdin here): two runs differ.
CLOCK_FIELDS = ("ttft_ms", "duration_ms", "max_gap_ms", "events_per_s")


def _without_clock(result: tuple[int, bytes, bytes]) -> tuple[int, bytes, bytes]:
    """`result` with --summary's clock readings blanked (every other byte kept)."""
    status, out, err = result
    lines = out.splitlines(keepends=True)
    for number, line in enumerate(lines):
        record = json.loads(line) if line.startswith(b'{"dialect"') else None
        if isinstance(record, dict) and set(CLOCK_FIELDS) <= record.keys():
            record.update(dict.fromkeys(CLOCK_FIELDS))
            lines[number] = json.dumps(record).encode() + b"\n"
    return status, b"".join(lines), err


def test_the_cases_cover_notes_warnings_and_failures(tmp_path: Path) -> None:
    """The corpus above holds a failing stream (exit 3), and --text's tool-call note."""
    statuses, messages = set(), b""
    for case in CASES:
        status, _, err = _run_main(["--text"], case_input(case))
        statuses.add(status)
        messages += err
    assert statuses == {0, 3} and b"ssechat: note: " in messages


def _run_main(args: list[str], stdin: bytes) -> tuple[int, bytes, bytes]:
    env, out, err = memory_env(stdin)
    return main(["parse-sse", *args], env), out.getvalue(), err.getvalue()


def test_shell_completion_is_left_to_click(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(plain_argv.COMPLETE_VAR, "bash_complete")
    env, out, _ = memory_env(b"data: x\n\n")
    assert plain_argv.run_without_click(["parse-sse", "--events"], env) is None
    assert out.getvalue() == b""


@pytest.mark.parametrize("mode", [[], ["--events"], ["--text"], ["--summary"]], ids=" ".join)
def test_parse_sse_with_plain_arguments_imports_no_click(mode: list[str]) -> None:
    """Start-up: click's import is most of the time to the first event."""
    code = (
        "import sys; from ssechat.cli import main; "
        f"rc = main(['parse-sse', *{mode!r}, {A_FILE!r}]); "
        "print(rc, 'click' in sys.modules, file=sys.stderr)"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert proc.stderr.strip().splitlines()[-1] == "0 False"
