"""The normalized events and their writers: JSON lines (batched), text, flush policy."""

from __future__ import annotations

import io
import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ssechat.lines import FlushPolicy, json_line
from ssechat.normalized import (
    TRUNCATED,
    JsonLinesWriter,
    TextWriter,
    done_event,
    encode_lines,
    error_event,
    start_event,
)


class CountingStream(io.BytesIO):
    def __init__(self) -> None:
        super().__init__()
        self.flushes = 0

    def flush(self) -> None:
        self.flushes += 1
        super().flush()


def decode_lines(data: bytes) -> list[Any]:
    assert data.endswith(b"\n")
    return [json.loads(line) for line in data.decode("utf-8").split("\n")[:-1]]


def test_constructors_put_type_first_and_leave_out_what_is_unknown() -> None:
    assert list(start_event("anthropic", "claude", "m1")) == ["type", "provider", "model", "id"]
    assert start_event("gemini") == {"type": "start", "provider": "gemini"}
    assert error_event("boom") == {"type": "error", "message": "boom"}
    assert error_event("cut", TRUNCATED) == {"type": "error", "message": "cut", "code": "truncated"}
    assert error_event("zero", 0) == {"type": "error", "message": "zero", "code": 0}
    assert done_event(None) == {"type": "done", "finish_reason": None}


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(),
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(st.sampled_from(["type", "a", "},{", "x"]), inner, max_size=4)
    ),
    max_leaves=6,
)
# `type` first, as the contract (DESIGN.md section 3) and every dialect have it.
EVENT = st.builds(
    lambda kind, rest: {"type": kind, **rest},
    st.sampled_from(["delta", "tool_call", "usage", "error"]),
    st.fixed_dictionaries({}, optional={"text": st.text(), "arguments": JSON, "code": JSON}),
)


@settings(max_examples=80, deadline=None)
@given(st.lists(EVENT, min_size=1, max_size=6))
def test_batch_encoding_equals_one_line_per_event(events: list[dict[str, Any]]) -> None:
    # Nested {"type": ...} objects inside arguments must not split a line.
    assert encode_lines(events) == b"".join(json_line(event) for event in events)
    assert decode_lines(encode_lines(events)) == events


def test_batch_encoding_with_a_nested_joint_and_what_orjson_refuses() -> None:
    nested = [
        {"type": "tool_call", "arguments": [{"type": "a"}, {"type": "b"}]},
        {"type": "delta", "text": "x"},
    ]
    assert decode_lines(encode_lines(nested)) == nested
    huge = [{"type": "tool_call", "arguments": {"id": 2**70}}, {"type": "delta", "text": "\ud800"}]
    assert decode_lines(encode_lines(huge)) == huge
    assert encode_lines(huge).isascii()  # the fallback escapes, so the line stays UTF-8


def test_json_lines_writer_flushes_per_batch_only_when_asked() -> None:
    stream = CountingStream()
    writer = JsonLinesWriter(stream, flush_each=True)
    writer.write([{"type": "delta", "text": "a"}, {"type": "delta", "text": "b"}])
    writer.write([])
    assert stream.flushes == 1
    writer.raw([b'{"event":"message","data":"x"}\n'])
    assert stream.flushes == 2
    quiet = CountingStream()
    JsonLinesWriter(quiet, flush_each=False).write([{"type": "delta", "text": "a"}])
    assert quiet.flushes == 0
    assert decode_lines(stream.getvalue()) == [
        {"type": "delta", "text": "a"},
        {"type": "delta", "text": "b"},
        {"event": "message", "data": "x"},
    ]


def test_flush_policy() -> None:
    assert FlushPolicy.AUTO.flushes_each_event(input_is_regular_file=False)
    assert not FlushPolicy.AUTO.flushes_each_event(input_is_regular_file=True)
    assert FlushPolicy.EVENT.flushes_each_event(input_is_regular_file=True)
    assert not FlushPolicy.NEVER.flushes_each_event(input_is_regular_file=False)


def response(*texts: str, reasoning: str = "") -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = [{"type": "start", "provider": "generic"}]
    if reasoning:
        events.append({"type": "reasoning", "text": reasoning})
    events += [{"type": "delta", "text": text} for text in texts]
    events += [
        {"type": "delta", "text": "other choice", "index": 1},
        {"type": "usage", "input_tokens": 1, "output_tokens": 2},
        {"type": "done", "finish_reason": "stop"},
    ]
    return events


def test_text_writer_writes_the_answer_only_and_ends_each_response_with_a_newline() -> None:
    out = CountingStream()
    writer = TextWriter(out, flush_each=True)
    writer.write(response("Hel", "lo", reasoning="hmm"))
    writer.write(response("ends with a newline\n"))
    writer.write(response())  # no text at all: no empty line
    writer.close()
    assert out.getvalue() == b"Hello\nends with a newline\n"
    assert out.flushes >= 2


def test_text_writer_sends_reasoning_to_its_own_stream() -> None:
    out, err = io.BytesIO(), io.BytesIO()
    writer = TextWriter(out, flush_each=False, reasoning=err)
    writer.write(response("answer", reasoning="first I think"))
    writer.close()
    assert out.getvalue() == b"answer\n"
    assert err.getvalue() == b"first I think\n"


def test_text_writer_ends_a_truncated_response_too() -> None:
    out = io.BytesIO()
    writer = TextWriter(out, flush_each=False)
    writer.write(
        [{"type": "delta", "text": "cut"}, {"type": "error", "message": "x", "code": TRUNCATED}]
    )
    writer.write([{"type": "delta", "text": "\ud800 lone"}])  # unencodable: replaced, no crash
    writer.close()
    assert out.getvalue() == b"cut\n? lone\n"


@pytest.mark.parametrize(
    ("event", "expected"),
    [
        ({"type": "delta", "text": "a"}, True),
        ({"type": "delta", "text": "a", "index": 0}, True),
        ({"type": "delta", "text": "a", "index": 1}, False),
        ({"type": "reasoning", "text": "a", "index": 2}, False),
    ],
)
def test_first_choice_is_the_answer(event: dict[str, object], expected: bool) -> None:
    from ssechat.normalized import first_choice

    assert first_choice(event) is expected
