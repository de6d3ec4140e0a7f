"""The public Python API (`ssechat/_api.py` behind `ssechat/__init__.py`).

Its promise is the commands' behaviour: each function is checked against the
installed `ssechat` on the same bytes, at cuts, over live HTTP bodies from a
local server, and on a large stream read from a generator.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from hypothesis import given, settings
from hypothesis import strategies as st

import ssechat
from tests.conftest import (
    EXAMPLES,
    case_input,
    corpus_params,
    json_lines,
    load_corpus,
    run_ssechat,
)
from tests.test_replay import serve

CAPTURES = sorted(EXAMPLES.glob("*.sse"))
TOOLS = EXAMPLES / "openai-tool-call.sse"


def test_import_ssechat_loads_nothing_else() -> None:
    code = "import ssechat, sys, json; print(json.dumps(sorted(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, check=True)
    loaded = json.loads(out.stdout)
    assert [name for name in loaded if name.split(".")[0] == "ssechat"] == ["ssechat"]
    assert "orjson" not in loaded and "click" not in loaded


def test_every_public_name_resolves_and_nothing_else_does() -> None:
    for name in ssechat.__all__:
        assert getattr(ssechat, name) is not None
        assert name in dir(ssechat)
    with pytest.raises(AttributeError):
        ssechat.Pipeline  # noqa: B018
    assert issubclass(ssechat.TruncatedStreamError, ssechat.InputError)
    assert ssechat.InputError.exit_status == ssechat.ExitStatus.BAD_INPUT == 3


def test_events_is_the_function_even_after_the_core_is_imported() -> None:
    import ssechat.normalized  # the writers' module, once named ssechat.events
    import ssechat.pipeline

    assert callable(ssechat.events)
    assert list(ssechat.events(b"data: x\n\n")) == [{"event": "message", "data": "x"}]


# -- parse: the same answer as parse-sse ----------------------------------------


@pytest.mark.parametrize("path", CAPTURES, ids=lambda p: p.name)
def test_parse_gives_what_parse_sse_writes(path: Path) -> None:
    proc = run_ssechat(["parse-sse", str(path)])
    assert proc.returncode == 0
    assert list(ssechat.parse(path)) == json_lines(proc.stdout)
    with path.open("rb") as stream:
        assert list(ssechat.parse(stream)) == json_lines(proc.stdout)
    assert list(ssechat.parse(path.read_bytes())) == json_lines(proc.stdout)


def _parse_all(data: bytes, **options: Any) -> tuple[list[dict[str, Any]], int]:
    """The events parse yields and the exit status its exception carries (0: none)."""
    got: list[dict[str, Any]] = []
    try:
        for event in ssechat.parse(data, **options):
            got.append(event)
    except ssechat.SsechatError as exc:
        return got, int(exc.exit_status)
    return got, 0


@pytest.mark.filterwarnings("ignore::ssechat.SsechatWarning")  # the short cuts
def test_parse_at_cuts_agrees_with_parse_sse_events_and_verdict() -> None:
    data = TOOLS.read_bytes()
    for cut in [*range(0, len(data), 89), len(data) - 1]:
        proc = run_ssechat(["parse-sse"], data[:cut])
        got, status = _parse_all(data[:cut])
        assert (got, status) == (json_lines(proc.stdout), proc.returncode), cut


@pytest.mark.filterwarnings("ignore::ssechat.SsechatWarning")
@pytest.mark.parametrize(
    "case", corpus_params("providers/streams.jsonl") + corpus_params("longtail/streams.jsonl")
)
def test_parse_and_events_agree_with_the_command_on_every_corpus_stream(
    case: dict[str, Any],
) -> None:
    """Every provider's real stream (SSE, NDJSON, AWS event stream), whole and cut in half."""
    data = case_input(case)
    for part in (data, data[: len(data) // 2]):
        proc = run_ssechat(["parse-sse"], part)
        assert _parse_all(part) == (json_lines(proc.stdout), proc.returncode)
    plain = run_ssechat(["parse-sse", "--events"], data)
    assert list(ssechat.events(data)) == json_lines(plain.stdout)


def _cut_before_the_end_marker() -> bytes:
    data = TOOLS.read_bytes()
    return data[: data.index(b"data: [DONE]")]


def test_truncated_stream_yields_the_truncated_event_then_raises() -> None:
    data = _cut_before_the_end_marker()
    got: list[dict[str, Any]] = []
    with pytest.raises(ssechat.TruncatedStreamError) as info:
        for event in ssechat.parse(data):
            got.append(event)
    assert got[-1]["type"] == "error" and got[-1]["code"] == "truncated"
    assert info.value.exit_status == 3
    accepted = list(ssechat.parse(data, allow_truncated=True))
    assert accepted == got


def test_an_error_in_the_stream_raises_input_error() -> None:
    stream = (
        b'data: {"choices":[{"index":0,"delta":{"content":"hi"}}]}\n\n'
        b'data: {"error":{"message":"overloaded","type":"server_error"}}\n\n'
    )
    got, status = _parse_all(stream)
    proc = run_ssechat(["parse-sse"], stream)
    assert status == proc.returncode == 3
    assert got == json_lines(proc.stdout)
    assert any(e["type"] == "error" and "overloaded" in e["message"] for e in got)


def test_forced_dialect_and_unknown_dialect() -> None:
    data = (EXAMPLES / "openai-text.sse").read_bytes()
    assert list(ssechat.parse(data, dialect="openai-chat")) == list(ssechat.parse(data))
    ssechat.parse(data, dialect="tgi")  # the long tail's names are known too
    with pytest.raises(ssechat.UsageError) as info:
        ssechat.parse(data, dialect="nope")  # raised at the call, not at the first event
    assert info.value.exit_status == 2


def test_unrecognised_stream_yields_plain_events_with_a_warning() -> None:
    data = b'event: tick\ndata: {"n": 1}\n\n' * 20
    with pytest.warns(ssechat.SsechatWarning, match="no dialect recognises"):
        got = list(ssechat.parse(data))
    assert got == list(ssechat.events(data))
    assert got == json_lines(run_ssechat(["parse-sse"], data).stdout)


def test_sources_that_are_not_bytes_are_refused_at_the_call() -> None:
    with pytest.raises(TypeError, match="encode"):
        ssechat.parse("data: x\n\n")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        ssechat.events(42)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="binary mode"):
        list(ssechat.parse(io.StringIO("data: x\n\n")))  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="bytes, not str"):
        list(ssechat.events(["data: x\n\n"]))  # type: ignore[list-item]


@settings(max_examples=40, deadline=None)
@given(st.lists(st.integers(min_value=1, max_value=400), min_size=1, max_size=30))
def test_parse_does_not_depend_on_the_chunking(sizes: list[int]) -> None:
    data = (EXAMPLES / "anthropic-text.sse").read_bytes()
    chunks, at = [], 0
    for size in sizes * (len(data) // sum(sizes) + 1):
        chunks.append(data[at : at + size])
        at += size
    assert b"".join(chunks) == data
    assert list(ssechat.parse(iter(chunks))) == list(ssechat.parse(data))


def _openai_stream(count: int, text: str = "word ") -> Iterator[bytes]:
    yield b'data: {"id":"c1","model":"m","choices":[{"index":0,"delta":{"role":"assistant"}}]}\n\n'
    content = json.dumps({"id": "c1", "choices": [{"index": 0, "delta": {"content": text}}]})
    chunk = f"data: {content}\n\n".encode()
    batch = chunk * 100
    for _ in range(count // 100):
        yield batch
    yield b'data: {"id":"c1","choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}\n\n'
    yield b"data: [DONE]\n\n"


def test_parse_is_incremental_on_a_chunk_generator() -> None:
    pulled = 0

    def counted() -> Iterator[bytes]:
        nonlocal pulled
        for chunk in _openai_stream(1_000_000):
            pulled += 1
            yield chunk

    events = ssechat.parse(counted())
    assert next(events)["type"] == "start"
    assert next(events) == {"type": "delta", "text": "word "}
    assert pulled <= 2  # the first events came before the rest of the stream was read
    events.close()


@pytest.mark.slow
def test_parse_memory_stays_flat_over_a_large_stream() -> None:
    """80 MB of events through parse, in a process whose peak memory is measured."""
    script = """
import resource, ssechat
from tests.test_api import _openai_stream
base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
n = chars = 0
for event in ssechat.parse(_openai_stream(1_000_000)):
    n += 1
    chars += len(event.get("text", ""))
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(n, chars, (peak - base) // 1024)
"""
    out = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        check=True,
        cwd=Path(__file__).resolve().parent.parent,
        timeout=300,
    )
    count, chars, grown_mb = map(int, out.stdout.split())
    assert count == 1 + 1_000_000 + 1 and chars == 1_000_000 * 5  # start, deltas, done
    assert grown_mb < 40, f"memory grew by {grown_mb} MB over an 80 MB stream"


# -- live HTTP bodies from a local server ----------------------------------------


@pytest.fixture
def served_capture() -> Iterator[str]:
    """`ssechat replay --serve` on 127.0.0.1, playing the tool-call capture."""
    with serve(TOOLS, "--no-delay") as server:
        yield server.url


def test_parse_a_live_requests_body(served_capture: str) -> None:
    with requests.post(served_capture + "/v1/chat/completions", stream=True, timeout=10) as r:
        got = list(ssechat.parse(r.iter_content(chunk_size=None)))
    assert got == list(ssechat.parse(TOOLS))
    with requests.post(served_capture + "/v1/chat/completions", stream=True, timeout=10) as r:
        assert list(ssechat.parse(r.raw)) == got


def test_parse_a_live_httpx_body(served_capture: str) -> None:
    import httpx  # a dependency of openai, in the test extra

    with httpx.stream("POST", served_capture + "/v1/chat/completions", timeout=10) as r:
        got = list(ssechat.parse(r.iter_bytes()))
    assert got == list(ssechat.parse(TOOLS))


# -- summarize ---------------------------------------------------------------------


def test_summarize_gives_the_rows_of_parse_sse_summary(tmp_path: Path) -> None:
    log = tmp_path / "mixed.sse"  # a file: no live clock, as summarize has none
    log.write_bytes(b"".join(path.read_bytes() for path in CAPTURES))  # many responses
    proc = run_ssechat(["parse-sse", "--summary", str(log)])
    rows = list(ssechat.summarize(log))
    assert rows == json_lines(proc.stdout)
    assert len(rows) >= 1 and all("truncated" in row for row in rows)


def test_summarize_says_truncated_instead_of_raising() -> None:
    rows = list(ssechat.summarize(_cut_before_the_end_marker()))
    assert rows[-1]["truncated"] is True


# -- events ------------------------------------------------------------------------


@pytest.mark.filterwarnings("ignore::ssechat.SsechatWarning")  # vectors that are not SSE
@pytest.mark.parametrize("case", corpus_params("sse/cases.jsonl"))
def test_events_pass_the_sse_conformance_vectors(case: dict[str, Any]) -> None:
    data = case_input(case)
    assert list(ssechat.events(data, eof="discard")) == case["expected"]
    bytewise = (data[i : i + 1] for i in range(len(data)))
    assert list(ssechat.events(bytewise, eof="discard")) == case["expected"]


def test_events_match_parse_sse_events() -> None:
    data = b"".join(path.read_bytes() for path in CAPTURES) + b"retry: 300\nid: 7\ndata: x"
    proc = run_ssechat(["parse-sse", "--events"], data)
    assert list(ssechat.events(data)) == json_lines(proc.stdout)
    assert list(ssechat.events(data, eof="discard")) == json_lines(proc.stdout)[:-1]
    with pytest.raises(ssechat.UsageError):
        ssechat.events(data, eof="later")


def test_events_warns_when_the_input_is_not_sse() -> None:
    with pytest.warns(ssechat.SsechatWarning, match="does not look like SSE"):
        assert list(ssechat.events(b"<html>502 Bad Gateway</html>")) == []


def test_an_event_over_the_bound_raises_event_too_large() -> None:
    with pytest.raises(ssechat.EventTooLargeError) as info:
        list(ssechat.events([b"data: " + b"x" * 5000], max_event_bytes=1024))
    assert info.value.exit_status == 3


# -- repair_json -------------------------------------------------------------------


def test_repair_json_valid_repaired_and_cut_off() -> None:
    valid = ssechat.repair_json('{"a": 1}')
    assert (valid.value, valid.repaired, valid.truncated) == ({"a": 1}, False, False)
    fixed = ssechat.repair_json(b"```json\n{'a': True, }\n```")
    assert fixed.value == {"a": True} and fixed.repaired and not fixed.truncated
    assert fixed.changes
    with pytest.raises(ssechat.TruncatedJSONError) as info:
        ssechat.repair_json('{"cmd": "rm -rf /var')
    assert info.value.exit_status == 3
    assert info.value.result.value == {"cmd": "rm -rf /var"}
    closed = ssechat.repair_json('{"cmd": "rm -rf /var', allow_truncated=True)
    assert closed.truncated and closed.value == {"cmd": "rm -rf /var"}


def test_repair_json_agrees_with_the_command_on_the_value() -> None:
    text = '```json\n{"city": "Paris", "tags": ["a", "b"'
    proc = run_ssechat(["repair-json", "-q"], text.encode())
    assert json.loads(proc.stdout) == ssechat.repair_json(text, allow_truncated=True).value


def test_repair_json_refuses_input_with_no_json() -> None:
    for text in ("", "   ", "hello there", b"\x00\x01"):
        with pytest.raises(ssechat.RepairError) as info:
            ssechat.repair_json(text)
        assert info.value.exit_status == 3
    with pytest.raises(TypeError):
        ssechat.repair_json(42)  # type: ignore[arg-type]


# -- the README's examples -----------------------------------------------------------


def _readme_examples() -> list[tuple[str, str]]:
    """(command, expected stdout) of each `$ python -c` in the README's library section."""
    import shlex

    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text()
    section = readme.split("## ssechat as a Python library", 1)[1].split("\n## ", 1)[0]
    block = section.split("```console\n", 1)[1].split("\n```", 1)[0]
    examples: list[tuple[str, str]] = []
    lines = block.split("\n")
    while lines:
        assert lines[0].startswith("$ "), lines[0]
        command = lines.pop(0)[2:]
        while True:
            try:
                shlex.split(command)
                break
            except ValueError:  # a quote still open: the command goes on
                command += "\n" + lines.pop(0)
        output = []
        while lines and not lines[0].startswith("$ "):
            output.append(lines.pop(0))
        examples.append((command, "\n".join(output) + "\n"))
    return examples


def test_readme_library_examples_run_and_print_what_they_say() -> None:
    examples = _readme_examples()
    assert len(examples) == 5
    assert any("dask" in command for command, _ in examples)
    root = Path(__file__).resolve().parent.parent
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    for command, expected in examples:
        assert command.startswith("python -c ")
        proc = subprocess.run(
            ["bash", "-c", command], cwd=root, env=env, capture_output=True, timeout=300
        )
        assert proc.returncode == 0, (command, proc.stderr.decode())
        assert proc.stdout.decode() == expected, command


# -- types ---------------------------------------------------------------------------------

USER_CODE = """\
import pathlib
import ssechat

for event in ssechat.parse(pathlib.Path("capture.sse"), dialect="anthropic"):
    reveal_type(event)
result = ssechat.repair_json("{")
reveal_type(result.truncated)
try:
    pass
except ssechat.InputError as exc:
    reveal_type(exc.exit_status)
ssechat.parse("capture.sse")
ssechat.Pipeline
"""


@pytest.mark.slow
def test_a_users_code_type_checks_against_the_api(tmp_path: Path) -> None:
    """py.typed: mypy --strict sees the real signatures, and no catch-all attribute."""
    user = tmp_path / "user.py"
    user.write_text(USER_CODE)
    root = Path(__file__).resolve().parent.parent
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "mypy",
            "--strict",
            "--cache-dir",
            str(tmp_path / "cache"),
            str(user),
        ],
        capture_output=True,
        env={**os.environ, "MYPYPATH": str(root)},
        timeout=300,
    )
    out = proc.stdout.decode()
    assert 'Revealed type is "dict[str, Any]"' in out
    assert 'Revealed type is "bool"' in out
    assert 'Revealed type is "ssechat.errors.ExitStatus"' in out
    assert 'user.py:12: error: Argument 1 to "parse" has incompatible type "str"' in out
    assert 'user.py:13: error: Module has no attribute "Pipeline"' in out
    assert "Found 2 errors" in out, out


def test_repair_json_agrees_with_the_command_on_the_repair_corpus() -> None:
    """Every one-line case of the corpus through `repair-json --lines --report`, at once."""
    cases = [
        case["input"]
        for case in load_corpus("repair/cases.jsonl")
        if isinstance(case.get("input"), str)
        and case["input"].strip()
        and not any(c in case["input"] for c in "\n\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029")
    ]
    assert len(cases) > 300
    # Each line as --lines reads it, with its line end: the same bytes for both.
    proc = run_ssechat(
        ["repair-json", "--lines", "--report"], "".join(c + "\n" for c in cases).encode()
    )
    reports = {r["line"]: r for r in json_lines(proc.stderr)}
    outputs = proc.stdout.decode().split("\n")
    for number, text in enumerate(cases, start=1):
        report = reports[number]
        try:
            result = ssechat.repair_json(text + "\n")
        except ssechat.TruncatedJSONError as exc:
            assert report["truncated"] and "cut off" in report["error"], text
            result = exc.result
        except ssechat.RepairError:
            assert "error" in report and "valid" not in report, text
            continue
        else:
            assert "error" not in report, text
        assert (result.repaired, result.truncated) == (report["repaired"], report["truncated"])
        assert list(result.changes) == report["changes"], text
        assert json.loads(outputs[number - 1]) == result.value, text
