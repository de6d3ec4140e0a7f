"""docs/scale.md: its two recipes, taken from the file's text and run as a user would.

The one-machine recipe (`xargs -P` over the installed `ssechat parse-sse
--summary`) and the Dask recipe (`ssechat.summarize` on a local cluster) run
over the same folder of captures and must give the same rows.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import EXAMPLES, ROOT, json_lines, run_ssechat, ssechat_command

DOC = ROOT / "docs" / "scale.md"


def _blocks(language: str) -> list[str]:
    return re.findall(rf"^ *```{language}\n(.*?)^ *```", DOC.read_text(), re.DOTALL | re.MULTILINE)


def _env() -> dict[str, str]:
    """The installed ssechat and this Python first on PATH."""
    dirs = [str(Path(ssechat_command()[0]).parent), str(Path(sys.executable).parent)]
    return {**os.environ, "PATH": os.pathsep.join([*dirs, os.environ.get("PATH", "")])}


@pytest.fixture
def captures(tmp_path: Path) -> Path:
    """A folder as logs are: nested, 162 files (3 xargs batches), one cut off, one HTML page."""
    folder = tmp_path / "captures"
    for i in range(40):
        day = folder / f"2026-11-{i % 3 + 1:02d}"
        day.mkdir(parents=True, exist_ok=True)
        for example in sorted(EXAMPLES.glob("*.sse")):
            shutil.copy(example, day / f"{i:02d}-{example.name}")
    tools = (EXAMPLES / "openai-tool-call.sse").read_bytes()
    (folder / "cut.sse").write_bytes(tools[: tools.index(b"data: [DONE]")])
    (folder / "bad-gateway.sse").write_bytes(b"<html><body>502 Bad Gateway</body></html>\n")
    (folder / "notes.txt").write_text("not a capture\n")
    return folder


def _key(row: dict[str, Any]) -> str:
    return json.dumps(row, sort_keys=True)


def test_xargs_recipe_writes_every_row_whole(captures: Path) -> None:
    (recipe,) = [block for block in _blocks("sh") if "xargs" in block]
    proc = subprocess.run(
        ["bash", "-c", recipe], cwd=captures.parent, env=_env(), capture_output=True, timeout=300
    )
    assert proc.returncode == 123, proc.stderr  # the cut capture: parse-sse exited 3
    rows = json_lines((captures.parent / "summary.jsonl").read_bytes())
    files = sorted(map(str, captures.rglob("*.sse")))
    expected = json_lines(run_ssechat(["parse-sse", "--summary", *files]).stdout)
    assert Counter(map(_key, rows)) == Counter(map(_key, expected))
    assert len(rows) >= 160 and sum(row["truncated"] for row in rows) == 1


@pytest.mark.skipif(shutil.which("parallel") is None, reason="GNU parallel is not installed")
def test_parallel_recipe_tags_each_row_with_its_file(captures: Path) -> None:
    (block,) = [block for block in _blocks("sh") if "parallel" in block]
    command = block.split("#")[0].replace("\\\n", "")
    proc = subprocess.run(
        ["bash", "-c", command], cwd=captures.parent, env=_env(), capture_output=True, timeout=300
    )
    lines = (captures.parent / "summary.tsv").read_text().splitlines()
    assert proc.returncode != 0 and lines
    for line in lines:
        name, row = line.split("\t")
        assert Path(name).suffix == ".sse" and json.loads(row)["events"] >= 0


@pytest.mark.slow
def test_dask_recipe_gives_the_rows_of_parse_sse_each_with_its_file(
    captures: Path, tmp_path: Path
) -> None:
    (source,) = _blocks("python")
    script = tmp_path / "summarize_captures.py"
    script.write_text(source)
    out = tmp_path / "out"
    proc = subprocess.run(
        [sys.executable, str(script), str(captures), str(out), "--workers", "2"],
        env=_env(),
        capture_output=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr.decode()[-2000:]
    assert b"captures summarized" in proc.stdout
    parts = sorted(out.glob("part-*.jsonl"))
    assert parts
    rows = [row for part in parts for row in json_lines(part.read_bytes())]
    files = sorted(str(p) for p in captures.rglob("*.sse"))
    expected = json_lines(run_ssechat(["parse-sse", "--summary", *files]).stdout)
    by_file: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        by_file.setdefault(row.pop("file"), []).append(row)
    assert Counter(map(_key, rows)) == Counter(map(_key, expected))
    assert set(by_file) <= set(files)
    for name in [*files[:: len(files) // 4], str(captures / "cut.sse")]:  # each row's file
        assert by_file.get(name, []) == json_lines(
            run_ssechat(["parse-sse", "--summary", name]).stdout
        )
    assert by_file[str(captures / "cut.sse")][0]["truncated"] is True


def test_dask_recipe_turns_an_unreadable_capture_into_an_error_row(tmp_path: Path) -> None:
    """The recipe's per-file function, run in this process on a file too large to parse."""
    (source,) = _blocks("python")
    namespace: dict[str, Any] = {"__name__": "recipe"}
    exec(compile(source, str(DOC), "exec"), namespace)
    big = tmp_path / "huge.sse"
    big.write_bytes(b"data: " + b"x" * (17 * 1024 * 1024) + b"\n\n")
    (row,) = namespace["summarize_file"](str(big))
    assert row["file"] == str(big) and row["exit_status"] == 3 and "larger than" in row["error"]
    (missing,) = namespace["summarize_file"](str(tmp_path / "gone.sse"))
    assert missing["exit_status"] == 1 and "No such file" in missing["error"]
