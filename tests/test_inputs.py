"""Input formats besides SSE: sniffing (inputs), NDJSON (ndjson), the AWS event stream.

The format is told from the first bytes whatever their chunking; NDJSON lines
and event-stream frames come out as events, in `parse-sse --events` too; every
CRC is checked.
"""

from __future__ import annotations

import base64
import json
import struct
import zlib
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import ssechat
from ssechat.errors import EventTooLargeError
from ssechat.eventstream import EventStreamDecoder, FrameError
from ssechat.inputs import InputDecoder, sniff
from ssechat.ndjson import NdjsonDecoder
from ssechat.sse import Comment, Event
from tests.conftest import json_lines, run_ssechat
from tests.test_dialects import normalize
from tests.test_longtail import frame, ndjson
from tests.test_send import replay, send

OLLAMA = ndjson(
    {"model": "m", "response": "Hel", "done": False},
    {"model": "m", "response": "lo", "done": False},
    {"model": "m", "response": "", "done": True, "done_reason": "stop", "eval_count": 2},
)
BEDROCK = b"".join(
    [
        frame("messageStart", {"role": "assistant"}),
        frame("contentBlockDelta", {"contentBlockIndex": 0, "delta": {"text": "Hello"}}),
        frame("messageStop", {"stopReason": "end_turn"}),
    ]
)


@pytest.mark.parametrize(
    ("head", "final", "found"),
    [
        (b"data: {}\n\n", False, "sse"),
        (b"event: x\n", False, "sse"),
        (b"\n\n  ", False, None),  # only spaces yet: wait
        (b"\n\n  ", True, "sse"),
        (b'{"done": false, "response": "a"}\n', False, "ndjson"),  # Ollama: the first line tells
        (b'{"a": 1}\n', False, None),  # one JSON line: wait for the next
        (b'{"a": 1}\n{"a": 2}', False, "ndjson"),
        (b'{"error": "bad key"}\n', True, "sse"),  # a lone JSON document: an error body
        (b'{"done": true, "response": "a"}', True, "ndjson"),  # no final newline
        (b'{\n  "error": "x"\n}\n', False, "sse"),  # pretty-printed JSON: a body
        (b"\xef\xbb\xbf" + b'{"done": false}\n', False, "ndjson"),
        (BEDROCK[:11], False, None),
        (BEDROCK[:12], False, "eventstream"),
        (BEDROCK[:11], True, "sse"),
        (b"\x00" * 12, False, "sse"),  # zeros: the prelude CRC does not match
        (b": ssechat-capture status=200\n: t=0.000\n" + OLLAMA, False, "ndjson"),  # a capture
        (b": keep-alive\n\ndata: x\n\n", False, "sse"),
        (b": keep-alive", False, None),  # a comment alone: wait
    ],
)
def test_sniff(head: bytes, final: bool, found: str | None) -> None:
    assert sniff(head, final=final) == found


@settings(max_examples=60, deadline=None)
@given(
    data=st.sampled_from([OLLAMA, BEDROCK, b"data: a\n\ndata: b\n\n"]),
    cuts=st.lists(st.integers(0, 300)),
)
def test_the_format_and_events_do_not_depend_on_the_chunking(data: bytes, cuts: list[int]) -> None:
    whole = InputDecoder()
    expected = whole.feed(data) + whole.close()
    decoder = InputDecoder()
    got = []
    start = 0
    for cut in [*sorted({c for c in cuts if c < len(data)}), len(data)]:
        got += decoder.feed(data[start:cut])
        start = cut
    got += decoder.close()
    assert got == expected and decoder.format == whole.format


def test_ndjson_lines_become_message_events() -> None:
    decoder = NdjsonDecoder()
    events = decoder.feed(b'{"a": 1}\r\n\n{"a"') + decoder.feed(b": 2}\n") + decoder.close()
    assert events == [Event("message", '{"a": 1}', ""), Event("message", '{"a": 2}', "")]
    assert decoder.events_dispatched == 2


def test_ndjson_last_line_without_its_line_end_is_dispatched_and_said() -> None:
    decoder = NdjsonDecoder()
    decoder.feed(b'{"a": 1}\n{"a": ')
    assert decoder.close() == [Event("message", '{"a":', "")]
    assert decoder.ended_inside_event  # the pipeline takes it for the cut: not whole JSON
    whole = NdjsonDecoder()
    whole.feed(b'{"a": 1}\n')
    assert whole.close() == [] and not whole.ended_inside_event
    discard = NdjsonDecoder(dispatch_at_eof=False)
    discard.feed(b'{"a": 1}\n{"a": 2}')
    assert discard.close() == []


def test_ndjson_cut_inside_a_line_is_truncated_not_an_error() -> None:
    first = b'{"model": "m", "response": "Hi", "done": false}\n'
    events, outcome = normalize(first + b'{"model": "m", "resp')
    assert [e["type"] for e in events] == ["start", "delta", "error"]
    assert events[-1]["code"] == "truncated" and outcome.errors == 0
    whole, outcome = normalize(first + b'{"done": true}')
    assert whole[-1] == {"type": "done", "finish_reason": None} and outcome.truncated == 0


def test_ndjson_line_over_the_bound_is_refused() -> None:
    decoder = NdjsonDecoder(max_event_bytes=10)
    with pytest.raises(EventTooLargeError):
        decoder.feed(b'{"a": "' + b"x" * 20)


def test_event_stream_frames_and_their_crcs() -> None:
    decoder = EventStreamDecoder()
    assert [event.event for event in decoder.feed(BEDROCK)] == [
        "messageStart",
        "contentBlockDelta",
        "messageStop",
    ]
    for position in (2, 20, len(BEDROCK) - 1):  # the prelude, a header, the message CRC
        broken = bytearray(BEDROCK)
        broken[position] ^= 0x01
        decoder = EventStreamDecoder()
        with pytest.raises(FrameError):  # raised after the frames before it are returned
            decoder.feed(bytes(broken))
            decoder.close()


def test_event_stream_bad_frame_comes_after_the_good_ones() -> None:
    second = bytearray(frame("contentBlockDelta", {"contentBlockIndex": 0, "delta": {"text": "x"}}))
    second[-1] ^= 0x01
    decoder = EventStreamDecoder()
    assert [e.event for e in decoder.feed(frame("messageStart", {}) + bytes(second))] == [
        "messageStart"
    ]
    with pytest.raises(FrameError, match="message CRC"):
        decoder.feed(b"")


def test_event_stream_error_frame() -> None:
    headers = b""
    for name, value in (
        (":message-type", "error"),
        (":error-code", "InternalFailure"),
        (":error-message", "boom"),
    ):
        headers += (
            bytes([len(name)])
            + name.encode()
            + b"\x07"
            + struct.pack(">H", len(value))
            + value.encode()
        )
    prelude = struct.pack(">II", 16 + len(headers), len(headers))
    prelude += struct.pack(">I", zlib.crc32(prelude))
    message = prelude + headers
    data = message + struct.pack(">I", zlib.crc32(message))
    (event,) = EventStreamDecoder().feed(data)
    assert event.event == "error"
    assert json.loads(event.data) == {"code": "InternalFailure", "message": "boom"}


def test_parse_sse_events_writes_one_object_per_line_or_frame() -> None:
    lines = run_ssechat(["parse-sse", "--events"], OLLAMA)
    assert lines.returncode == 0 and lines.stderr == b""
    assert [json.loads(e["data"])["response"] for e in json_lines(lines.stdout)] == [
        "Hel",
        "lo",
        "",
    ]
    frames = run_ssechat(["parse-sse", "--events"], BEDROCK)
    assert frames.returncode == 0 and frames.stderr == b""
    assert json_lines(frames.stdout)[1] == {
        "event": "contentBlockDelta",
        "data": '{"contentBlockIndex": 0, "delta": {"text": "Hello"}}',
    }


def test_parse_sse_text_of_ndjson_and_event_streams() -> None:
    proc = run_ssechat(["parse-sse", "--text"], OLLAMA)
    assert proc.stdout == b"Hello\n" and proc.returncode == 0
    proc = run_ssechat(["parse-sse", "--text"], BEDROCK)
    assert proc.stdout == b"Hello\n" and proc.returncode == 0


def test_invoke_model_chunks_unwrap_to_the_models_own_events() -> None:
    """Bedrock's InvokeModelWithResponseStream: base64 Anthropic events inside `chunk` frames."""
    inner = [
        {
            "type": "message_start",
            "message": {"id": "msg_1", "model": "claude", "usage": {"input_tokens": 4}},
        },
        {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
        {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "Hi"}},
        {"type": "content_block_stop", "index": 0},
        {
            "type": "message_delta",
            "delta": {"stop_reason": "end_turn"},
            "usage": {"output_tokens": 1},
        },
        {"type": "message_stop", "amazon-bedrock-invocationMetrics": {"inputTokenCount": 4}},
    ]
    data = b"".join(
        frame("chunk", {"bytes": base64.b64encode(json.dumps(e).encode()).decode()}) for e in inner
    )
    events = InputDecoder().feed(data)
    assert [e.event for e in events] == [e["type"] for e in inner]
    normalized, outcome = normalize(data)
    assert normalized[0]["provider"] == "anthropic"
    assert normalized[-1] == {"type": "done", "finish_reason": "end_turn"}
    assert [e["text"] for e in normalized if e["type"] == "delta"] == ["Hi"]
    assert outcome.errors == outcome.truncated == 0


def test_library_events_read_through_the_same_decoder() -> None:
    proc = run_ssechat(["parse-sse", "--events"], OLLAMA)
    assert list(ssechat.events(OLLAMA)) == json_lines(proc.stdout)
    assert [e["event"] for e in ssechat.events(BEDROCK)] == [
        "messageStart",
        "contentBlockDelta",
        "messageStop",
    ]


def test_send_reads_an_ndjson_body_from_a_local_server(tmp_path: Path) -> None:
    body = tmp_path / "ollama.ndjson"
    body.write_bytes(OLLAMA)
    with replay(tmp_path, body) as server:
        normalized = send(server.url, "hi")
        plain = send(server.url, "--events", "hi")
    assert normalized.returncode == 0, normalized.stderr
    events = json_lines(normalized.stdout)
    assert events[0] == {"type": "start", "provider": "ollama", "model": "m"}
    assert events[-1] == {"type": "done", "finish_reason": "stop"}
    assert plain.returncode == 0 and json_lines(plain.stdout) == list(ssechat.events(OLLAMA))


def test_a_saved_ndjson_capture_reads_as_the_body_did(tmp_path: Path) -> None:
    """`send --save` annotates with comment lines: the capture still reads as NDJSON."""
    body = tmp_path / "ollama.ndjson"
    body.write_bytes(OLLAMA)
    capture = tmp_path / "capture.sse"
    with replay(tmp_path, body) as server:
        sent = send(server.url, "--save", str(capture), "hi")
    assert sent.returncode == 0, sent.stderr
    assert capture.read_bytes().startswith(b": ssechat-capture")
    again = run_ssechat(["parse-sse", str(capture)])
    assert again.returncode == 0 and json_lines(again.stdout) == json_lines(sent.stdout)
    summary = json_lines(run_ssechat(["parse-sse", "--summary", str(capture)]).stdout)
    assert summary[0]["dialect"] == "ollama" and summary[0]["http_status"] == 200
    assert NdjsonDecoder(comments=True).feed(b": t=0.5\n" + OLLAMA)[0] == Comment(" t=0.5")
