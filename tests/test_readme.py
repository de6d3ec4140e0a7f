"""Every shell example of README.md runs here, as jq's manual examples run in its tests.

- `sh` blocks run as bash scripts (errexit, pipefail), each in a fresh scratch
  directory holding the files the examples name, with HOME there too. A line
  ending in `# exit N` must exit N. Nothing a block starts may outlive it (a
  replay server left running fails it).
- `console` blocks run each `$ ` command and compare what it prints (stdout
  and stderr) with the lines shown; a `...` line stands for any lines.
  Blocks of `python -c` commands are the library's: test_api.py runs them.
- `sse` blocks are captures: each must be a complete stream for parse-sse,
  and the first one is the scratch directory's `capture.sse`.
- `send` talks to `ssechat replay --serve` on 127.0.0.1, one per provider,
  standing in for it: the base-URL variables point there, and so do the URLs
  the examples name (a gateway, a local Ollama; `$URL` for curl). Keys are dummies,
  and only blocks that run `send` get any (a CI machine has none).
- A block after `<!-- not run: REASON -->` is not run; there are few (the
  README's Development section names them), and each says why.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import EXAMPLES, ROOT, ssechat_command
from tests.test_replay import serve

README = ROOT / "README.md"
NOT_RUN = re.compile(r"<!-- not run: (.+) -->")
SYSTEM_TOOLS = ("jq", "curl", "make")  # what the examples drive besides ssechat and bash
PROVIDER_CAPTURES = {  # provider -> (base-URL variable, capture it answers with, URL suffix)
    "openai": ("OPENAI_BASE_URL", "openai-text.sse", "/v1"),
    "anthropic": ("ANTHROPIC_BASE_URL", "anthropic-text.sse", ""),
    "coze": ("COZE_API_BASE", "coze-chat.sse", ""),
}
STAND_INS = ("https://gateway.example/v1", "http://localhost:11434/v1")  # -> the openai server
CRON_LINE = re.compile(r"^(?:[\d*/,-]+\s+){5}(?=\S)")
EXIT_LINE = re.compile(r"^(?P<command>[^#\n]*\S)\s+# exit (?P<status>\d+)\b.*$", re.MULTILINE)


@dataclass(frozen=True)
class Block:
    line: int  # of the opening fence
    info: str
    text: str
    not_run: str | None

    def __str__(self) -> str:
        return f"README.md:{self.line}"


def _blocks() -> list[Block]:
    lines = README.read_text(encoding="utf-8").split("\n")
    blocks, i = [], 0
    while i < len(lines):
        fence = re.fullmatch(r"```(\S*)\s*", lines[i])
        if not fence:
            i += 1
            continue
        end = next(j for j in range(i + 1, len(lines)) if lines[j].startswith("```"))
        before = next((line for line in reversed(lines[:i]) if line.strip()), "")
        reason = NOT_RUN.search(before)
        text = "\n".join(lines[i + 1 : end]) + "\n"
        blocks.append(Block(i + 1, fence.group(1), text, reason.group(1) if reason else None))
        i = end + 1
    return blocks


BLOCKS = _blocks()
SHELL = [b for b in BLOCKS if b.info in ("sh", "console") and b.not_run is None]
LIBRARY = [b for b in SHELL if b.info == "console" and b.text.startswith("$ python -c ")]
RUN = [b for b in SHELL if b not in LIBRARY]


def _worked_dialect() -> str:
    """The README's worked dialect file (the JSON block after "A worked example")."""
    text = README.read_text(encoding="utf-8")
    start = text.index("A worked example")
    block = next(b for b in BLOCKS if b.info == "json" and text.count("\n", 0, start) < b.line)
    return block.text


def _fixtures(work: Path, home: Path) -> None:
    """The files the examples name, from the bundled examples and the README itself."""
    shutil.copytree(EXAMPLES, work / "examples")
    captures = [b.text for b in BLOCKS if b.info == "sse"]
    (work / "capture.sse").write_text(captures[0])
    for name, source in {
        "cap.sse": "openai-text.sse",
        "ok.sse": "openai-text.sse",
        "plain.sse": "anthropic-text.sse",
        "coze.sse": "coze-chat.sse",
        "deepseek.sse": "openai-text.sse",
    }.items():
        shutil.copy(EXAMPLES / source, work / name)
    with (work / "log.sse").open("wb") as log:
        for path in sorted(EXAMPLES.glob("*.sse")):
            log.write(path.read_bytes())
    (work / "acme.json").write_text(_worked_dialect())
    (work / "answer.txt").write_text('{"city": "Paris", "tags": ["a", "b"]}\n')
    (work / "answer.schema.json").write_text('{"type": "object", "required": ["city"]}\n')
    (work / "notes.txt").write_text("SSE is a one-way stream of events over HTTP.\n")
    (work / "report.txt").write_text("Builds: 41 green, 1 red (flaky test_signals).\n")
    tools = [{"name": "get_weather", "parameters": {"type": "object", "properties": {}}}]
    (work / "tools.json").write_text(json.dumps(tools))
    body = {"model": "gpt-4o-mini", "stream": True, "messages": [{"role": "user", "content": "hi"}]}
    (work / "body.json").write_text(json.dumps(body))
    (home / ".config" / "ssechat").mkdir(parents=True)
    (home / ".config" / "ssechat" / "key").write_text("sk-ant-readme-test-0000\n")
    (home / ".config" / "ssechat" / "key").chmod(0o600)
    (home / "notes").mkdir()
    (home / "notes" / "today.md").write_text("- wrote the README test\n")
    (home / "reports").mkdir()


@pytest.fixture(scope="module")
def providers() -> Iterator[dict[str, str]]:
    """A replay server per provider: the base URL each provider's variable gets."""
    with (
        serve(EXAMPLES / PROVIDER_CAPTURES["openai"][1], "--no-delay") as openai,
        serve(EXAMPLES / PROVIDER_CAPTURES["anthropic"][1], "--no-delay") as anthropic,
        serve(EXAMPLES / PROVIDER_CAPTURES["coze"][1], "--no-delay") as coze,
    ):
        servers = {"openai": openai.url, "anthropic": anthropic.url, "coze": coze.url}
        yield {
            variable: servers[provider] + suffix
            for provider, (variable, _, suffix) in PROVIDER_CAPTURES.items()
        }


@pytest.fixture
def scratch(tmp_path: Path, providers: dict[str, str]) -> tuple[Path, dict[str, str]]:
    """The directory an example runs in, and its environment."""
    work, home, bin_dir = tmp_path / "work", tmp_path / "home", tmp_path / "bin"
    for folder in (work, home, bin_dir):
        folder.mkdir()
    _fixtures(work, home)
    wrapper = bin_dir / "ssechat"  # the installed command, whichever form it has
    wrapper.write_text("#!/bin/sh\nexec " + shlex.join(ssechat_command()) + ' "$@"\n')
    wrapper.chmod(0o755)
    secret = re.compile(r"(_API_KEY|_API_TOKEN|_BASE_URL|_API_BASE)$|^(SSECHAT_|PYTHONUNBUF)")
    env = {k: v for k, v in os.environ.items() if not secret.search(k)}
    env.update(
        PATH=f"{bin_dir}{os.pathsep}{Path(sys.executable).parent}{os.pathsep}{env['PATH']}",
        HOME=str(home),
        XDG_CONFIG_HOME=str(home / ".config"),
        XDG_DATA_HOME=str(home / ".local" / "share"),
        URL=providers["OPENAI_BASE_URL"] + "/chat/completions",  # what curl examples call
        **providers,
    )
    return work, env


def _for_send(script: str, env: dict[str, str], providers: dict[str, str]) -> str:
    """Keys and the stand-in URLs, for a block that runs `ssechat send`."""
    openai = providers["OPENAI_BASE_URL"]
    env.update(
        OPENAI_API_KEY="sk-readme-test-0000",
        ANTHROPIC_API_KEY="sk-ant-readme-test-0000",
        COZE_API_TOKEN="pat_readme_test_0000",
        GEMINI_API_KEY="gemini-readme-test-0000",
        CODE="readme-test",
    )
    for url in STAND_INS:
        script = script.replace(url, openai)
    return script


def _need_tools(text: str) -> None:
    for tool in SYSTEM_TOOLS:
        if re.search(rf"(^|[|;&(\s]){tool}\s", text, re.MULTILINE) and not shutil.which(tool):
            pytest.skip(f"{tool} is not installed (the README's example runs it)")


def _run(script: str, work: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """bash -e -o pipefail on the script, in a session of its own that must end with it."""
    proc = subprocess.Popen(
        ["bash", "-e", "-o", "pipefail", "-c", script],
        cwd=work,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        out, err = proc.communicate(timeout=120)
    finally:
        left = _left_running(proc.pid)
        if left:
            os.killpg(proc.pid, signal.SIGKILL)
    assert not left, f"the example left processes running\n{script}"
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)


def _left_running(session: int, grace: float = 5.0) -> bool:
    deadline = time.monotonic() + grace
    while True:
        try:
            os.killpg(session, 0)
        except ProcessLookupError:
            return False
        if time.monotonic() > deadline:
            return True
        time.sleep(0.05)


def _commands(text: str) -> list[tuple[str, list[str]]]:
    """A console block's commands (a `$ ` line and its continuations) and their output."""
    result: list[tuple[str, list[str]]] = []
    lines = text.rstrip("\n").split("\n")
    i = 0
    while i < len(lines):
        assert lines[i].startswith("$ "), f"output without a command: {lines[i]!r}"
        command = lines[i][2:]
        i += 1
        while i < len(lines) and (command.endswith("\\") or not _complete(command)):
            command += "\n" + lines[i]
            i += 1
        output = []
        while i < len(lines) and not lines[i].startswith("$ "):
            output.append(lines[i])
            i += 1
        result.append((command, output))
    return result


def _complete(command: str) -> bool:
    try:
        shlex.split(command)
    except ValueError:
        return False
    return True


def _matches(expected: list[str], actual: list[str]) -> bool:
    """`...` in expected stands for any lines (none included)."""
    pattern = "".join(r"(?:[^\n]*\n)*?" if line == "..." else re.escape(line) + r"\n"
                      for line in expected)  # fmt: skip
    return re.fullmatch(pattern, "".join(line + "\n" for line in actual)) is not None


@pytest.mark.parametrize("block", RUN, ids=str)
def test_readme_example_runs(
    block: Block, scratch: tuple[Path, dict[str, str]], providers: dict[str, str]
) -> None:
    work, env = scratch
    _need_tools(block.text)
    script = block.text
    if "ssechat send" in script:
        script = _for_send(script, env, providers)
    if "error: acme.json: 'end.data'" in script:  # the example of a mistake in a dialect file
        dialect = json.loads(_worked_dialect())
        (work / "acme.json").write_text(json.dumps({**dialect, "end": {"data": 1}}))
    script = "\n".join(CRON_LINE.sub("", line) for line in script.split("\n"))
    script = EXIT_LINE.sub(
        r'if \g<command>; then status=0; else status=$?; fi; [ "$status" -eq \g<status> ]', script
    )
    if block.info == "sh":
        done = _run(script, work, env)
        assert done.returncode == 0, f"{block} exits {done.returncode}\n{done.stderr}"
        assert "Traceback" not in done.stderr
        return
    for command, expected in _commands(script):
        done = _run(command + " 2>&1", work, {**env, "COLUMNS": "80"})
        actual = done.stdout.rstrip("\n").split("\n") if done.stdout else []
        assert _matches(expected, actual), f"{block}: {command}\n" + "\n".join(actual)


@pytest.mark.parametrize("block", [b for b in BLOCKS if b.info == "sse"], ids=str)
def test_readme_captures_are_complete_streams(
    block: Block, scratch: tuple[Path, dict[str, str]]
) -> None:
    work, env = scratch
    (work / "shown.sse").write_text(block.text)
    done = _run("ssechat replay --no-delay shown.sse | ssechat parse-sse --text", work, env)
    assert (done.returncode, done.stderr) == (0, ""), f"{block}: {done.stderr}"
    assert done.stdout.strip()


def test_examples_not_run_are_few_and_say_why() -> None:
    not_run = [b for b in BLOCKS if b.not_run is not None]
    assert all(b.info in ("sh", "console") and len(b.not_run or "") > 10 for b in not_run)
    assert len(not_run) <= 6, [str(b) for b in not_run]
    assert len(RUN) >= 15  # the README's examples, found and run above


def test_library_examples_are_run_by_test_api() -> None:
    from tests import test_api

    assert LIBRARY, "the library's python -c examples were not found"
    assert "test_readme_library_examples_run_and_print_what_they_say" in vars(test_api)


def test_ci_runs_exactly_the_readme_test_command() -> None:
    top = BLOCKS[0].text.split("\n")
    command = top[top.index("# 2. Install and run the tests:") + 1]
    assert command == "pip install '.[test]' && python3 -m pytest"
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8").rstrip("\n").split("\n")
    assert ci[-1] == command, "the last line of .ci/run is the README's test command"


def test_readme_links_stay_inside_the_repository() -> None:
    text = README.read_text(encoding="utf-8")
    for target in re.findall(r"\]\(([^)#]+)\)", text):
        if not re.match(r"[a-z]+://", target):
            assert (ROOT / target).exists(), target
            assert (ROOT / target).resolve().is_relative_to(ROOT), target
    assert "DESIGN.md" not in text and "shared/tools" not in text


def test_every_provider_variable_is_in_the_readme() -> None:
    from ssechat.providers import PROVIDERS

    text = README.read_text(encoding="utf-8")
    for provider in PROVIDERS.values():
        for variable in (provider.key_env, provider.base_url_env):
            if variable:
                assert f"`{variable}`" in text or f"`${variable}`" in text, variable
