"""repair-json's arguments read without click (ssechat/cli/plain_argv.py) equal click's reading.

The fast path may decline any argument list (click then reads it); whatever
it accepts, it must read exactly as click does, and the command must then
write the same bytes and exit with the same status on both paths.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ssechat.cli import main, plain_argv
from ssechat.cli.repair_io import RepairArgs
from ssechat.cli.repair_json import repair_json_cmd
from tests import argv_forms
from tests.argv_forms import memory_env
from tests.conftest import ROOT

FOLDER = Path(__file__).resolve().parent / "conformance"
A_FILE = str(ROOT / "pyproject.toml")
FLAGS = ["--lines", "--ensure-ascii", "--strict", "--allow-truncated", "--report", "-q", "--debug"]
# Each option's values: most read as given, some that click refuses or reads otherwise.
VALUES = {
    "--field": ["arguments", "a.b", "0", "", "x=y", "-", "--lines"],
    "--indent": ["0", "2", "16", "17", "-1", "+4", " 4", "1_0", "4.0", "04", "\u0664"],
    "--timeout": ["10", "0.5", "2.25", "1e3", "nan", "inf", "0", "0.0", "9999999", "1.", ".5"],
    "--max-bytes": ["64K", "16m", "1G", "0K", "1KB", " 2M ", "1T", "65536", "0", "7"],
    "--flush": ["auto", "event", "never", "AUTO", ""],
    "--schema": [A_FILE, str(FOLDER), str(FOLDER / "missing.json"), "-"],
}
FILES = [A_FILE, "-", str(FOLDER), str(FOLDER / "missing.json"), "pyproject.toml", ""]
JUNK = ["-h", "--help", "--", "--nope", "-qq", "--line", "--quiet", "--lines=1", A_FILE]


def argument_lists() -> st.SearchStrategy[list[str]]:
    return argv_forms.argument_lists(FLAGS, VALUES, FILES, JUNK, most_files=1)


def click_reading(args: list[str]) -> dict[str, Any] | None:
    """What click makes of `repair-json ARGS`: the parameters and the -q/--debug flags."""
    reading = argv_forms.click_reading(repair_json_cmd, args)
    return reading and {**reading, "params": RepairArgs(**reading["params"])}


def fast_reading(args: list[str]) -> dict[str, Any] | None:
    reading = argv_forms.fast_reading(plain_argv.REPAIR_JSON, args)
    return reading and {**reading, "params": RepairArgs(**reading["params"])}


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
        ["--lines", "--field", "arguments"],
        ["--indent=2", "--ensure-ascii", A_FILE],
        ["-q", "--timeout", "2.5", "--max-bytes", "16M", "--flush", "never"],
        ["--strict", "--allow-truncated", "--report", "--debug", "--schema", A_FILE],
    ],
)
def test_the_plain_forms_take_the_fast_path(args: list[str]) -> None:
    fast = fast_reading(args)
    assert fast is not None and fast == click_reading(args)


@pytest.mark.parametrize(
    "args", [["--help"], ["--indent", "-1"], ["--lines", "--lines"], [A_FILE, A_FILE], ["--"]]
)
def test_anything_else_is_left_to_click(args: list[str]) -> None:
    assert plain_argv.parse(plain_argv.REPAIR_JSON, args) is None


@pytest.mark.parametrize(
    ("args", "stdin"),
    [
        ([], b'{"a": 1}'),
        ([], b'{"cmd": "rm -rf /var'),
        (["--allow-truncated", "--indent", "2"], b'```json\n{"a": [1, 2'),
        (["--report"], b"{'a': True, 'b': None,}"),
        (["-q"], b"Sure! {'a': 1} Hope it helps"),
        (["--lines", "--field", "arguments"], b'{"arguments": "{\'x\': 1"}\nnot json\n'),
        (["--strict"], b"[1, 2,]"),
        ([], b"no json here"),
        (["--field", "x"], b"{}"),
    ],
)
def test_both_paths_write_the_same_bytes(
    args: list[str], stdin: bytes, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert plain_argv.parse(plain_argv.REPAIR_JSON, args) is not None
    env, out, err = memory_env(stdin)
    fast = (main(["repair-json", *args], env), out.getvalue(), err.getvalue())
    monkeypatch.setattr(plain_argv, "parse", lambda table, args: None)  # main() takes click's path
    env, out, err = memory_env(stdin)
    assert (main(["repair-json", *args], env), out.getvalue(), err.getvalue()) == fast


def test_shell_completion_is_left_to_click(monkeypatch: pytest.MonkeyPatch) -> None:
    from ssechat._docgen import COMPLETE_VAR

    assert plain_argv.COMPLETE_VAR == COMPLETE_VAR
    monkeypatch.setenv(COMPLETE_VAR, "bash_complete")
    env, out, _ = memory_env(b"{}")
    assert plain_argv.run_without_click(["repair-json"], env) is None and out.getvalue() == b""


def test_repair_json_with_plain_arguments_imports_no_click(tmp_path: Path) -> None:
    """Start-up: json_repair's own CLI imports no click, and repair-json need not either."""
    document = tmp_path / "cut.json"
    document.write_text('{"a": [1, 2')
    code = (
        "import sys; from ssechat.cli import main; "
        f"rc = main(['repair-json', '--allow-truncated', {str(document)!r}]); "
        "print('click' in sys.modules, 'json_repair' in sys.modules, file=sys.stderr)"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert proc.stderr.strip().splitlines()[-1] == "False False"
