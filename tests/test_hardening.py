"""Pathological inputs: time linear in size, memory bounded by the configured limits.

Each input is timed against one ten times smaller of the same shape: linear
code takes about 10x as long, quadratic code 100x; the bound is 30x. Times
are the process's CPU time (the work done, not the wall clock that other
processes on a busy machine stretch), the best of several runs. The fifty MB
line is timed against itself in one read instead: memory-bound work slows
with a bigger footprint (caches, page faults), whatever its complexity. No
absolute times: timing targets live in bench/. Memory is the peak RSS of a
real `ssechat` process, measured by a fresh parent (`RUSAGE_CHILDREN`),
against the same command on a tiny input. Also here: the regression tests of
what fuzzing found in repair-json, and hostile captures (huge events,
terminal escapes) through the pipeline; the terminal itself (a pty) is
tested in test_security.py.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from ssechat import repair
from ssechat.errors import SsechatError
from ssechat.sse import Decoder, Event
from tests.conftest import json_lines, run_ssechat, ssechat_command

LINEAR_BOUND = 30.0  # for 10x the input: linear ~10x, quadratic ~100x
MB = 1024 * 1024


# -- helpers ---------------------------------------------------------------------


def _cpu_seconds(run: Callable[[], object]) -> float:
    """The CPU time of one run: the work it did, whatever else the machine is doing."""
    start = time.process_time()
    try:
        run()
    except SsechatError:
        pass  # the bound or a refusal is a result too: its time counts
    return time.process_time() - start


def assert_linear(make: Callable[[int], Callable[[], object]], small: int) -> None:
    """`make(n)` gives a run over an input of size n; 10n must cost under 30x n.

    Best of five small runs against best of up to three big ones (the third
    only when the first two look non-linear): a disturbed run only ever
    makes a time larger, so the least disturbed ones are compared.
    """
    small_run, big_run = make(small), make(10 * small)
    small_time = max(min(_cpu_seconds(small_run) for _ in range(5)), 1e-4)
    big_time = _cpu_seconds(big_run)
    for _ in range(2):
        if big_time / small_time < LINEAR_BOUND:
            break
        big_time = min(big_time, _cpu_seconds(big_run))
    ratio = big_time / small_time
    assert ratio < LINEAR_BOUND, f"10x the input took {ratio:.0f}x the CPU time: not linear"


def decode_in_reads(data: bytes, read: int = 65536, **options: int) -> list[object]:
    decoder = Decoder(**options)  # type: ignore[arg-type]
    items: list[object] = []
    for offset in range(0, len(data), read):
        items += decoder.feed(data[offset : offset + read])
    return items + decoder.close()


_PEAK = """
import resource, subprocess, sys
with open(sys.argv[1], "rb") as stdin:
    done = subprocess.run(sys.argv[2:], stdin=stdin, stdout=subprocess.DEVNULL,
                          stderr=subprocess.PIPE)
sys.stderr.buffer.write(done.stderr)
print(done.returncode, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
"""


def peak_rss(args: list[str], stdin: Path) -> tuple[int, bytes, float]:
    """(exit status, stderr, peak RSS in MB) of `ssechat ARGS < stdin`, stdout discarded."""
    done = subprocess.run(
        [sys.executable, "-c", _PEAK, str(stdin), *ssechat_command(), *args],
        capture_output=True,
        timeout=120,
    )
    status, kilobytes = done.stdout.split()
    return int(status), done.stderr, int(kilobytes) / 1024


def one_line(stderr: bytes) -> str:
    text = stderr.decode("utf-8", "replace")
    assert "Traceback" not in text
    assert text.count("\n") == 1 and text.startswith("ssechat: "), text
    return text


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("tiny") / "tiny.sse"
    path.write_bytes(b"data: x\n\n")
    return path


# -- the SSE decoder -------------------------------------------------------------------


def test_a_million_data_lines_without_a_blank_line_decode_in_linear_time() -> None:
    assert_linear(lambda n: lambda: decode_in_reads(b"data: x\n" * n), 100_000)
    items = decode_in_reads(b"data: x\n" * 1_000_000)
    assert items == [Event("message", "\n".join(["x"] * 1_000_000), "")]


@pytest.mark.slow
def test_a_million_short_data_lines_cost_memory_for_their_bytes_only(
    tmp_path: Path, tiny: Path
) -> None:
    # Regression: the decoder kept each data line as its own bytes object in
    # a list, ~50 bytes a line, so 1M empty `data:` lines (a 1 MB event, far
    # under the 16 MB bound) took 90 MB and 16M of them 1.4 GB.
    lines = tmp_path / "lines.sse"
    lines.write_bytes(b"data:\n" * 1_000_000)
    _, _, baseline = peak_rss(["parse-sse", "--events"], tiny)
    status, stderr, peak = peak_rss(["parse-sse", "--events"], lines)
    assert status == 0, stderr
    assert peak - baseline < 30, f"{peak - baseline:.0f} MB for a 1 MB event"


def test_a_fifty_mb_line_decodes_in_small_reads_at_the_cost_of_one_read() -> None:
    """12800 reads of 4 KB cost what one read of the whole line costs, give or take.

    Counted against the same line in one read (a single linear pass; no read
    is ever scanned twice), not against a smaller line: the two runs touch
    the same memory, so caches, page faults and a busy memory bus weigh on
    both alike. Scanning the pending line again at each read would cost
    hundreds of times more.
    """
    data = b"data: " + b"a" * (50 * MB) + b"\n\n"
    whole = min(
        _cpu_seconds(lambda: decode_in_reads(data, len(data), max_event_bytes=64 * MB))
        for _ in range(3)
    )
    small = _cpu_seconds(lambda: decode_in_reads(data, 4096, max_event_bytes=64 * MB))
    for _ in range(2):  # a disturbed run only ever takes longer: measure again if it looks slow
        if small < 10 * whole:
            break
        small = min(
            small, _cpu_seconds(lambda: decode_in_reads(data, 4096, max_event_bytes=64 * MB))
        )
    assert small < 10 * whole, f"4 KB reads took {small / whole:.0f}x one read: not linear"


def test_a_fifty_mb_line_over_the_bound_is_refused_with_memory_near_the_bound(
    tmp_path: Path, tiny: Path
) -> None:
    line = tmp_path / "line.sse"
    line.write_bytes(b"data: first\n\n" + b"data: " + b"a" * (50 * MB) + b"\n\n")
    _, _, baseline = peak_rss(["parse-sse", "--events"], tiny)
    status, stderr, peak = peak_rss(["parse-sse", "--events"], line)
    assert status == 3
    assert "larger than 16777216 bytes" in one_line(stderr)
    assert peak - baseline < 3 * 16, f"{peak - baseline:.0f} MB over a 16 MB bound"


def test_the_event_bound_keeps_what_came_before(tmp_path: Path) -> None:
    line = tmp_path / "line.sse"
    line.write_bytes(b"data: first\n\n" + b"data: " + b"a" * (2 * MB) + b"\n\ndata: after\n\n")
    result = run_ssechat(["parse-sse", "--events", "--max-event-bytes", "1M", str(line)])
    assert result.returncode == 3
    assert json_lines(result.stdout) == [{"event": "message", "data": "first"}]
    one_line(result.stderr)


def test_a_million_crs_decode_in_linear_time() -> None:
    assert_linear(lambda n: lambda: decode_in_reads(b"\r" * n), 200_000)
    assert decode_in_reads(b"\r" * 1_000_000) == []  # a million blank lines: no event
    assert_linear(lambda n: lambda: decode_in_reads(b"data: x\r\r" * n), 30_000)
    assert len(decode_in_reads(b"data: x\r\r" * 300_000)) == 300_000


def test_crlf_split_across_every_read_is_linear_and_one_line_end() -> None:
    # Reads of 9 bytes end every `data: xy\r` and start the next with `\n`.
    assert_linear(lambda n: lambda: decode_in_reads(b"data: xy\r\n" * n, 9), 10_000)
    items = decode_in_reads(b"data: xy\r\n\r\n" * 1000, 9)
    assert items == [Event("message", "xy", "")] * 1000


def test_a_million_data_lines_through_the_cli(tmp_path: Path) -> None:
    lines = tmp_path / "lines.sse"
    lines.write_bytes(b"data: x\n" * 1_000_000)
    result = run_ssechat(["parse-sse", "--events", str(lines)], timeout=60)
    assert result.returncode == 0 and result.stderr == b""
    (event,) = json_lines(result.stdout)
    assert event["data"].count("\n") == 999_999


# -- repair-json ------------------------------------------------------------------------


@pytest.mark.parametrize("unit", ["[", '{"a":', "[1,"])
def test_deeply_nested_json_repairs_in_linear_time(unit: str) -> None:
    assert_linear(lambda n: lambda: repair.repair_text(unit * n), 20_000)


@pytest.mark.parametrize(
    "document",
    [b"[" * 1_000_000, b"[" * 500_000 + b"]" * 500_000, b'{"a":' * 200_000, b"[1," * 300_000],
    ids=["open", "closed", "object", "items"],
)
def test_deeply_nested_json_is_one_line_never_an_internal_error(document: bytes) -> None:
    # Regression: past the parsers' depth limit a RecursionError escaped
    # json_repair and ended repair-json with "internal error", exit 1.
    result = run_ssechat(["repair-json"], document, timeout=60)
    assert result.returncode in (0, 3), result.stderr
    if result.returncode == 3:
        assert "internal error" not in one_line(result.stderr)
    else:
        json.loads(result.stdout)


def test_a_fence_with_nothing_in_it_is_refused_not_a_crash() -> None:
    # Regression (fuzzing): "```" left an empty text after the fence was
    # stripped, and the no-JSON rule indexed its first character.
    for document in (b"```", b"```json\n```", b"```\n\n"):
        result = run_ssechat(["repair-json"], document)
        assert result.returncode == 3
        assert "no JSON" in one_line(result.stderr)


FUZZ_ASSERTION = '{"```json\n{1xxx```json"}"a":"b\n"'
"""Found by fuzz_repair.py: json_repair's parser fails an assertion on it."""


def test_a_json_repair_library_failure_is_a_repair_error() -> None:
    # Regression: the library's AssertionError escaped as an internal error
    # from repair-json, and from parse-sse when it was a call's arguments.
    with pytest.raises(repair.RepairError):
        repair.repair_text(FUZZ_ASSERTION)
    with pytest.raises(repair.RepairError):
        repair.parse_tool_arguments(FUZZ_ASSERTION)
    result = run_ssechat(["repair-json"], FUZZ_ASSERTION.encode())
    assert result.returncode == 3
    assert "internal error" not in one_line(result.stderr)


def _tool_call_stream(arguments: str) -> bytes:
    def chunk(delta: dict[str, object], finish: str | None = None) -> bytes:
        body = {"id": "c1", "model": "m", "choices": [{"index": 0, "delta": delta}]}
        body["choices"][0]["finish_reason"] = finish  # type: ignore[index]
        return b"data: " + json.dumps(body).encode() + b"\n\n"

    call = {"index": 0, "id": "call_1", "function": {"name": "f", "arguments": arguments}}
    return chunk({"tool_calls": [call]}) + chunk({}, "tool_calls") + b"data: [DONE]\n\n"


@pytest.mark.parametrize(
    "arguments", [FUZZ_ASSERTION, "[" * 100_000, '{"a":' * 50_000], ids=["assert", "deep", "obj"]
)
def test_hostile_tool_call_arguments_end_in_exit_3_not_a_crash(arguments: str) -> None:
    result = run_ssechat(["parse-sse"], _tool_call_stream(arguments), timeout=60)
    assert result.returncode == 3, result.stderr
    one_line(result.stderr)
    (call,) = [line for line in json_lines(result.stdout) if line["type"] == "tool_call"]
    assert call["arguments"] == arguments and call["error"]
    assert json_lines(result.stdout)[-1]["type"] == "done"


# -- hostile captures -------------------------------------------------------------------

HOSTILE_TEXT = "safe \x1b]0;owned\x07\x1b[2J\x1b[1;1Hfake prompt $ \r\x9b31m\x00 end"


def hostile_capture(text: str = HOSTILE_TEXT) -> bytes:
    def chunk(delta: dict[str, object], finish: str | None = None) -> bytes:
        body = {"id": "c1", "model": "m", "choices": [{"index": 0, "delta": delta}]}
        body["choices"][0]["finish_reason"] = finish  # type: ignore[index]
        return b"data: " + json.dumps(body).encode() + b"\n\n"

    return chunk({"content": text}) + chunk({}, "stop") + b"data: [DONE]\n\n"


def test_json_output_never_carries_a_raw_control_character() -> None:
    result = run_ssechat(["parse-sse"], hostile_capture())
    assert result.returncode == 0, result.stderr
    assert not any(byte < 0x20 and byte != 0x0A for byte in result.stdout)
    assert b"\x1b" not in result.stdout  # (C1 controls are legal raw in JSON: kept)
    deltas = [line["text"] for line in json_lines(result.stdout) if line["type"] == "delta"]
    assert deltas == [HOSTILE_TEXT]  # escaped in JSON, exact once decoded


def test_text_output_to_a_pipe_is_the_exact_text() -> None:
    # Only a terminal gets escapes: a pipe or a file gets the model's bytes.
    result = run_ssechat(["parse-sse", "--text"], hostile_capture())
    assert result.returncode == 0, result.stderr
    assert result.stdout == (HOSTILE_TEXT + "\n").encode()


def test_a_hostile_error_message_cannot_reach_the_terminal_raw() -> None:
    stream = b'data: {"error": {"message": "bad \\u001b]0;owned\\u0007 thing", "type": "x"}}\n\n'
    result = run_ssechat(["parse-sse"], stream)
    assert result.returncode == 3
    message = one_line(result.stderr)
    assert "\x1b" not in message and "\x07" not in message
    assert "bad" in message


# -- JSON only the standard library reads ------------------------------------------------

SURROGATE = "x\\udc00y"  # a lone surrogate escape: valid JSON that orjson refuses
STREAMS = {
    "openai-chat": 'data: {"id":"c","choices":[{"index":0,"delta":{"content":"TEXT"}}]}\n\n'
    'data: {"id":"c","choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}\n\n'
    "data: [DONE]\n\n",
    "anthropic": "event: message_start\n"
    'data: {"type":"message_start","message":{"id":"m","model":"c"}}\n\n'
    "event: content_block_delta\ndata: "
    '{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"TEXT"}}\n\n'
    'event: message_stop\ndata: {"type":"message_stop"}\n\n',
    "openai-responses": "event: response.created\n"
    'data: {"type":"response.created","response":{"id":"r","model":"m"}}\n\n'
    "event: response.output_text.delta\n"
    'data: {"type":"response.output_text.delta","delta":"TEXT"}\n\n'
    "event: response.completed\n"
    'data: {"type":"response.completed","response":{"id":"r","status":"completed"}}\n\n',
    "gemini": 'data: {"candidates":[{"content":{"parts":[{"text":"TEXT"}]},'
    '"finishReason":"STOP"}]}\n\n',
    "cohere": 'event: message-start\ndata: {"type":"message-start","id":"x"}\n\n'
    "event: content-delta\ndata: "
    '{"type":"content-delta","index":0,"delta":{"message":{"content":{"text":"TEXT"}}}}\n\n'
    'event: message-end\ndata: {"type":"message-end","delta":{"finish_reason":"COMPLETE"}}\n\n',
    "generic": 'data: {"content":"TEXT"}\n\ndata: [DONE]\n\n',
}


@pytest.mark.parametrize("dialect", sorted(STREAMS))
def test_an_event_only_the_standard_library_parses_is_not_dropped(dialect: str) -> None:
    # Regression: every dialect parsed with orjson alone and silently dropped
    # an event it refused (a lone surrogate escape, an integer past 64 bits);
    # openai-chat parsed it again with the standard library, then dropped it.
    cases = {
        SURROGATE: STREAMS[dialect].replace("TEXT", SURROGATE),
        "big": STREAMS[dialect].replace('"TEXT"', '"big","n":123456789012345678901234567890'),
    }
    for text, stream in cases.items():
        result = run_ssechat(["parse-sse", "--dialect", dialect], stream.encode())
        assert result.returncode == 0, result.stderr
        lines = json_lines(result.stdout)
        answer = "".join(line["text"] for line in lines if line["type"] == "delta")
        assert answer == json.loads(f'"{text}"'), lines


# -- faults send survives ------------------------------------------------------------------


def test_send_survives_garbage_mid_stream(tmp_path: Path) -> None:
    # Regression: garbage from a proxy mid-stream (an HTML page, then a data
    # line that is not JSON) ended send with exit 3 and half an answer; it is
    # now retried like a drop, and the folded answer is the whole one.
    capture = Path(__file__).resolve().parent.parent / "examples" / "openai-text.sse"
    server = subprocess.Popen(
        [*ssechat_command(), "replay", str(capture), "--serve", "0", "--fault", "garbage-after=3"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    )
    try:
        assert server.stdout is not None
        url = server.stdout.readline().decode().strip() + "/v1"
        result = run_ssechat(
            ["send", "--base-url", url, "--backoff-base", "0.05", "hi"],
            env={"OPENAI_API_KEY": "sk-test-garbage"},
        )
    finally:
        server.terminate()
        server.wait(10)
        if server.stdout is not None:
            server.stdout.close()
    assert result.returncode == 0, result.stderr
    text: list[str] = []
    for line in json_lines(result.stdout):
        if line["type"] == "retry":
            assert line["resume"] == "restart"
            text = []
        elif line["type"] == "delta":
            text.append(line["text"])
    reference = run_ssechat(["parse-sse", "--text", str(capture)]).stdout.decode()
    assert "".join(text) + "\n" == reference
