"""The normalizing pipeline: what real inputs carry around the SSE, and chunk invariance."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ssechat import dialects
from ssechat.normalized import NormalizedEvent
from ssechat.pipeline import Outcome, Pipeline
from tests.conftest import EXAMPLES, case_input, load_corpus
from tests.test_dialects import ListSink


def run(
    data: bytes, chunks: list[bytes] | None = None, **options: Any
) -> tuple[ListSink, Outcome, list[str]]:
    warnings: list[str] = []
    sink = ListSink()
    pipeline = Pipeline(sink, warn=warnings.append, **options)
    for chunk in chunks if chunks is not None else [data]:
        pipeline.feed(chunk)
    return sink, pipeline.close(), warnings


OPENAI = (EXAMPLES / "openai-text.sse").read_bytes()
ANTHROPIC = (EXAMPLES / "anthropic-text.sse").read_bytes()


def test_examples_are_recognised_and_complete() -> None:
    for path in sorted(EXAMPLES.glob("*.sse")):
        sink, outcome, warnings = run(path.read_bytes())
        assert outcome.recognized and outcome.responses >= 1, path.name
        assert sink.events[0]["type"] == "start" and sink.events[-1]["type"] == "done", path.name
        assert outcome.errors == outcome.truncated == outcome.bad_calls == 0, path.name
        assert warnings == []


def test_curl_i_headers_are_skipped() -> None:
    head = b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nx-request-id: 7\r\n\r\n"
    plain, _, _ = run(OPENAI)
    with_head, outcome, warnings = run(head + OPENAI)
    assert with_head.events == plain.events
    assert outcome.http_status == 200 and warnings == []
    # Every cut of the head gives the same, including one byte at a time.
    data = head + OPENAI
    bytewise, _, _ = run(data, [data[i : i + 1] for i in range(len(data))])
    assert bytewise.events == plain.events


def test_curl_i_continue_then_error_status_warns_and_reports_the_body() -> None:
    body = (
        b'{"error": {"message": "Rate limit reached", "type": "requests",'
        b' "code": "rate_limit_exceeded"}}'
    )
    data = b"HTTP/1.1 100 Continue\r\n\r\nHTTP/2 429 \r\nretry-after: 3\r\n\r\n" + body
    sink, outcome, warnings = run(data)
    assert sink.events == [
        {"type": "error", "message": "Rate limit reached", "code": "rate_limit_exceeded"}
    ]
    assert outcome.errors == 1 and outcome.http_status == 429
    assert len(warnings) == 1 and "429" in warnings[0]


def test_json_error_bodies_of_each_provider_shape() -> None:
    cases = {
        b'{"code": 4100, "msg": "authentication is invalid"}': ("authentication is invalid", 4100),
        b'[{"error": {"code": 400, "message": "API key not valid", "status": "INVALID"}}]': (
            "API key not valid",
            400,
        ),
        b'{"type":"error","error":{"type":"authentication_error","message":"invalid x-api-key"}}': (
            "invalid x-api-key",
            "authentication_error",
        ),
        b'{\n  "detail": "Not Found"\n}\n': ("Not Found", None),
    }
    for body, (message, code) in cases.items():
        sink, outcome, _ = run(body)
        expected: NormalizedEvent = {"type": "error", "message": message}
        if code is not None:
            expected["code"] = code
        assert sink.events == [expected], body
        assert outcome.errors == 1


def test_a_body_that_is_not_sse_is_one_error_quoting_its_start() -> None:
    bodies = {
        b"<html><body>502 Bad Gateway</body></html>\n": "<html><body>502 Bad Gateway",
        b"Internal Server Error: upstream connect error\n": "Internal Server Error: upstream",
        b'{"error": {"message": "cut': '{"error": {"message": "cut',  # a cut JSON body
        b"\n\n<!DOCTYPE html>\n<html>\n" + b"x" * 2_000_000: "<!DOCTYPE html> <html> xxx",
    }
    for body, start in bodies.items():
        sink, outcome, _ = run(body)
        assert len(sink.events) == 1 and sink.lines == [], body[:40]
        assert sink.events[0]["code"] == "not_sse" and start in sink.events[0]["message"]
        assert outcome.errors == 1
    sink, outcome, _ = run(b'{"error": {"message": "Bad key", "code": "invalid_api_key"}}')
    assert sink.events == [{"type": "error", "message": "Bad key", "code": "invalid_api_key"}]
    assert outcome.errors == 1


@pytest.mark.parametrize("name", dialects.NAMES)
def test_event_error_is_an_error_in_every_dialect_whatever_its_data(name: str) -> None:
    for data in ("{}", "", "upstream timeout", '{"message": "m", "code": 7}', "[1]"):
        event = b"event: error\ndata: " + data.encode() + b"\n\n"
        sink, outcome, _ = run(event * 3, dialect=name)  # the first alone, then in one read
        errors = [e for e in sink.events if e["type"] == "error"]
        assert len(errors) == outcome.errors == 3, (name, data, sink.events)
        assert all(e.get("code") != "truncated" for e in errors)
    # Detected or not: a stream of nothing but an error event (Coze sends exactly this).
    sink, outcome, _ = run(b"event:error\ndata:{}\n\n")
    assert sink.events == [{"type": "error", "message": "an error event"}] and outcome.errors == 1


def test_empty_input_is_nothing_at_all() -> None:
    sink, outcome, warnings = run(b"")
    assert sink.events == [] and warnings == [] and outcome.responses == 0


def test_an_unrecognised_stream_falls_back_to_plain_events() -> None:
    data = b'id: 1\ndata: {"hello": "world"}\n\nretry: 50\ndata: plain text\n\n'
    sink, outcome, warnings = run(data)
    assert sink.events == []
    assert [json.loads(line) for line in sink.lines] == [
        {"event": "message", "data": '{"hello": "world"}', "id": "1"},
        {"retry": 50},
        {"event": "message", "data": "plain text", "id": "1"},
    ]
    assert not outcome.recognized and len(warnings) == 1 and "--dialect" in warnings[0]


def test_events_that_tell_nothing_wait_for_one_that_does() -> None:
    data = b"event: ping\ndata: {}\n\n" + OPENAI
    sink, _, warnings = run(data)
    plain, _, _ = run(OPENAI)
    assert sink.events == plain.events and warnings == []


def test_capture_annotations_are_ignored() -> None:
    annotated = (
        b": ssechat-capture status=200 content-type=text/event-stream\n"
        + ANTHROPIC.replace(b"event: ", b": t=0.125\nevent: ")
    )
    plain, _, _ = run(ANTHROPIC)
    sink, _, warnings = run(annotated)
    assert sink.events == plain.events and warnings == []


def test_forced_dialect_reads_what_detection_would_not() -> None:
    # A lone `[DONE]` tells detection nothing; forced, it is simply nothing.
    sink, outcome, warnings = run(b"data: [DONE]\n\n", dialect="openai-chat")
    assert sink.events == [] and sink.lines == [] and warnings == [] and outcome.recognized


def test_files_concatenated_give_one_start_done_per_response() -> None:
    sink, outcome, _ = run(OPENAI + OPENAI + OPENAI)
    kinds = [e["type"] for e in sink.events]
    assert kinds.count("start") == kinds.count("done") == outcome.responses == 3


def _corpus_inputs() -> list[bytes]:
    inputs = [path.read_bytes() for path in sorted(EXAMPLES.glob("*.sse"))]
    return inputs + [case_input(case) for case in load_corpus("providers/streams.jsonl")]


INPUTS = _corpus_inputs()


@settings(max_examples=150, deadline=None)
@given(
    data=st.sampled_from(INPUTS),
    cuts=st.lists(st.integers(min_value=0, max_value=1 << 20), max_size=30),
    head=st.booleans(),
)
def test_normalized_output_does_not_depend_on_how_the_input_is_cut(
    data: bytes, cuts: list[int], head: bool
) -> None:
    if head:
        data = b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\n\r\n" + data
    whole, outcome, _ = run(data)
    points = sorted({cut % (len(data) + 1) for cut in cuts})
    chunks = [data[a:b] for a, b in zip([0, *points], [*points, len(data)], strict=True)]
    cut, cut_outcome, _ = run(data, chunks)
    assert cut.events == whole.events
    assert cut.lines == whole.lines
    assert cut_outcome == outcome


def _continued(first: bytes, second: bytes, dialect: str | None = None) -> list[NormalizedEvent]:
    """`send`'s continuation: one pipeline fed two streams, `continue_response` between."""
    sink = ListSink()
    pipeline = Pipeline(sink, dialect=dialect)
    pipeline.feed(first)
    pipeline.continue_response()
    pipeline.feed(second)
    pipeline.close()
    return sink.events


def _anthropic(message_id: str, texts: list[str], *, end: bool = True) -> bytes:
    events: list[dict[str, Any]] = [
        {"type": "message_start", "message": {"id": message_id, "model": "c"}},
        {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
    ]
    events += [
        {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": t}}
        for t in texts
    ]
    if end:
        events += [
            {
                "type": "message_delta",
                "delta": {"stop_reason": "end_turn"},
                "usage": {"output_tokens": 2},
            },
            {"type": "message_stop"},
        ]
    return b"".join(f"event: {e['type']}\ndata: {json.dumps(e)}\n\n".encode() for e in events)


def test_a_continuation_is_one_response() -> None:
    overloaded = b'event: error\ndata: {"type":"error","error":{"type":"overloaded_error"}}\n\n'
    first = _anthropic("m1", ["Hel"], end=False) + overloaded
    events = _continued(first, _anthropic("m2", ["lo"]))
    kinds = [e["type"] for e in events]
    # The error came before the continuation (send holds it back); then one answer goes on.
    assert kinds == ["start", "delta", "error", "delta", "usage", "done"]
    assert events[0]["id"] == "m1"
    assert events[-1]["finish_reason"] == "end_turn"
    # Without continue_response (parse-sse of the same bytes): two responses.
    sink, outcome, _ = run(first + _anthropic("m2", ["lo"]))
    assert [e["type"] for e in sink.events].count("start") == 2
    assert outcome.responses == 2


def test_a_continuation_is_cut_inside_an_event() -> None:
    whole = _anthropic("m1", ["Hel", "lo"])
    cut = whole.index(b"event: content_block_delta") + 30  # inside the first delta's lines
    rest = _anthropic("m2", ["Hello"])
    events = _continued(whole[:cut], rest)
    assert [e["type"] for e in events] == ["start", "delta", "usage", "done"]
    assert events[1]["text"] == "Hello"


def test_a_responses_continuation_skips_what_it_already_had() -> None:
    def event(n: int, kind: str, **data: Any) -> bytes:
        body = json.dumps({"type": kind, "sequence_number": n, **data})
        return f"event: {kind}\ndata: {body}\n\n".encode()

    created = event(0, "response.created", response={"id": "r1", "model": "g"})
    words = [event(n, "response.output_text.delta", delta=w) for n, w in enumerate("abc", 1)]
    done = event(4, "response.completed", response={"id": "r1", "status": "completed"})
    events = _continued(created + words[0] + words[1], created + words[1] + words[2] + done)
    assert [e.get("text", e["type"]) for e in events] == ["start", "a", "b", "c", "done"]


def test_a_read_of_common_deltas_reaches_the_dialect_as_data(monkeypatch: Any) -> None:
    """A run reaches the dialect as an EventBatch: no Event made when the template takes it."""
    from ssechat.dialects.anthropic import Anthropic
    from ssechat.dialects.templates import EventBatch
    from tests.test_dialects import START, anthropic_stream

    delta = '{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":%s}}'
    start = '{"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}'
    first = anthropic_stream(START, start, *[delta % json.dumps(f"a{i} é") for i in range(20)])
    second = anthropic_stream(*[delta % json.dumps(f"b{i} ü") for i in range(200)])
    third = anthropic_stream(*[delta % json.dumps(f"c{i} ü") for i in range(200)])
    expanded: list[int] = []
    events = EventBatch.events

    def counting_events(batch: EventBatch) -> Any:
        expanded.append(len(batch.datas))
        return events(batch)

    monkeypatch.setattr(EventBatch, "events", counting_events)
    sink = ListSink()
    pipeline = Pipeline(sink)
    pipeline.feed(first)  # detection: Events, one at a time
    pipeline.feed(second)  # the template is learnt from the first of these
    dialect = pipeline.dialect
    assert isinstance(dialect, Anthropic)
    expanded.clear()
    learns, hits = dialect.template_learns, dialect.template_hits
    pipeline.feed(third)
    assert expanded == []
    assert (dialect.template_learns, dialect.template_hits) == (learns, hits + 200)
    pipeline.close()
    text = "".join(e["text"] for e in sink.events if e["type"] == "delta")
    assert text == "".join(
        [*(f"a{i} é" for i in range(20)), *(f"{c}{i} ü" for c in "bc" for i in range(200))]
    )


# -- the end of a response, exactly (DESIGN.md section 3) -----------------------

_BLANK = re.compile(rb"(?:\r\n|\n|\r){2}")
_LINE_END = re.compile(rb"[\r\n]")


def _complete_streams() -> list[tuple[str, bytes]]:
    streams = [(p.name, p.read_bytes()) for p in sorted(EXAMPLES.glob("*.sse"))]
    for case in load_corpus("providers/streams.jsonl"):
        if case["complete"] and not case["expected"].get("error"):
            streams.append((case["name"], case_input(case)))
    return streams


def cut_range(data: bytes) -> tuple[int, int]:
    """Where a cut is one: after the first event, before the end marker is whole.

    The end marker is the last event's data (`[DONE]`, message_stop,
    response.completed...), but for Coze, whose chat ends at
    conversation.chat.completed (the `done` event after it adds nothing),
    and for Gemini, which has none: the chunk with the first `finishReason`.
    A cut at or after the returned end leaves the marker whole (at most its
    blank line is missing).
    """
    first = _BLANK.search(data)
    assert first is not None
    marker = data.find(b'"finishReason"')
    chat = data.rfind(b"conversation.chat.completed\n")
    if chat >= 0:
        marker = data.index(b"data:", chat)
    if marker >= 0:
        end = _LINE_END.search(data, marker)
        return first.end(), end.start() if end else len(data)
    return first.end(), len(data.rstrip())


def _calls(events: list[NormalizedEvent]) -> dict[Any, Any]:
    return {e["index"]: e["arguments"] for e in events if e["type"] == "tool_call"}


def assert_honest_cut(
    events: list[NormalizedEvent], outcome: Outcome, whole: list[NormalizedEvent]
) -> None:
    """A cut input: the truncated error last, no done, no call passed off as whole."""
    assert events[-1]["type"] == "error" and events[-1]["code"] == "truncated", events[-3:]
    assert outcome.truncated >= 1
    assert all(e["type"] != "done" for e in events)
    assert all(e.get("code") != "invalid_json" for e in events)
    whole_calls = _calls(whole)
    for event in events:
        if event["type"] == "tool_call" and "error" not in event:
            assert event["arguments"] == whole_calls[event["index"]], event


STREAMS = _complete_streams()
CUTTABLE = [(name, data) for name, data in STREAMS if cut_range(data)[1] > cut_range(data)[0]]


@pytest.mark.parametrize(("name", "data"), STREAMS, ids=[name for name, _ in STREAMS])
def test_every_cut_before_the_end_marker_is_truncated(name: str, data: bytes) -> None:
    whole, outcome, _ = run(data)
    assert whole.events[-1]["type"] == "done" and outcome.truncated == 0
    first, end = cut_range(data)
    # Every offset of a short stream; of a long one, every 7th and the bytes
    # around each event boundary and line end (inside a CRLF, just before LF).
    offsets = set(range(first, end, 1 if end - first < 3000 else 7))
    for match in _LINE_END.finditer(data, first, end):
        offsets.update(range(max(first, match.start() - 2), min(end, match.end() + 2)))
    for offset in sorted(offsets):
        cut, cut_outcome, _ = run(data[:offset])
        assert_honest_cut(cut.events, cut_outcome, whole.events)
    # The marker whole: complete, up to the end, or (Gemini, whose response
    # may go on after a finish reason) at each boundary between events after it.
    ends = [m.start() for m in _BLANK.finditer(data, end)] + [
        m.end() for m in _BLANK.finditer(data, end)
    ]
    for offset in {*range(len(data.rstrip()), len(data) + 1), *ends}:
        rest, rest_outcome, _ = run(data[:offset])
        assert rest.events[-1]["type"] == "done" and rest_outcome.truncated == 0


@settings(max_examples=200, deadline=None)
@given(stream=st.sampled_from(CUTTABLE), where=st.floats(0, 1, exclude_max=True), data=st.data())
def test_a_cut_read_by_read_is_the_same_cut(
    stream: tuple[str, bytes], where: float, data: st.DataObject
) -> None:
    """Cut anywhere, fed in any reads: truncated, and as the cut fed whole."""
    _, whole_bytes = stream
    first, end = cut_range(whole_bytes)
    cut = whole_bytes[: first + int((end - first) * where)]
    points = sorted(data.draw(st.lists(st.integers(0, len(cut)), max_size=8)))
    chunks = [cut[a:b] for a, b in zip([0, *points], [*points, len(cut)], strict=True)]
    events, outcome, _ = run(cut, chunks)
    assert_honest_cut(events.events, outcome, run(whole_bytes)[0].events)
    assert events.events == run(cut)[0].events


def test_a_cut_inside_a_utf8_sequence_is_truncated() -> None:
    data = (
        'data: {"choices":[{"index":0,"delta":{"content":"星期三"}}]}\n\n'
        'data: {"choices":[{"index":0,"delta":{"content":"雨"}}]}\n\n'
        "data: [DONE]\n\n"
    ).encode()
    second = data.index("雨".encode())
    for offset in range(second, second + 3):
        sink, outcome, _ = run(data[:offset])
        assert sink.events[-1]["code"] == "truncated" and outcome.truncated == 1


def test_a_cut_in_the_first_event_of_the_next_response_is_truncated() -> None:
    sink, outcome, _ = run(OPENAI + OPENAI[:40])
    kinds = [e["type"] for e in sink.events]
    assert kinds.count("done") == 1 and kinds[-1] == "error" and outcome.truncated == 1
    only, outcome, _ = run(OPENAI[:40])  # nothing whole at all
    assert only.events[-1]["code"] == "truncated" and outcome.truncated == 1 and not only.lines


def test_a_capture_without_its_last_blank_line_is_complete() -> None:
    for data in (OPENAI, ANTHROPIC):
        for end in (b"\n", b""):
            sink, outcome, _ = run(data.rstrip() + end)
            assert sink.events[-1]["type"] == "done" and outcome.truncated == 0
    plain = b"data: hello\n\ndata: world"  # no dialect: plain text is not a cut
    sink, outcome, _ = run(plain)
    assert len(sink.lines) == 2 and outcome.truncated == 0


# -- every response of a mixed input --------------------------------------------


def test_every_pair_of_streams_joined_is_both_responses_in_turn() -> None:
    """A log of many calls: each response detected anew, none dropped or merged."""
    alone = {name: run(data) for name, data in STREAMS}
    for first, data in STREAMS:
        # Gemini has no end marker: old chunks carry no response id and a finish
        # reason on every chunk, so two such responses in a row cannot be told
        # apart, nor one response twice (the same id).
        gemini = alone[first][1].dialect == "gemini"
        old_gemini = gemini and b"responseId" not in data
        joined = data.rstrip(b"\r\n") + b"\n\n"
        for second, more in STREAMS:
            if alone[second][1].dialect == "gemini" and (old_gemini or first == second):
                continue
            sink, outcome, warnings = run(joined + more)
            assert sink.events == alone[first][0].events + alone[second][0].events, (first, second)
            assert outcome.responses == alone[first][1].responses + alone[second][1].responses
            assert outcome.truncated == outcome.errors == 0 and not warnings


def test_mixed_examples_read_by_read_keep_every_response() -> None:
    data = b"".join(path.read_bytes() for path in sorted(EXAMPLES.glob("*.sse")))
    whole, outcome, _ = run(data)
    kinds = [e["type"] for e in whole.events]
    assert kinds.count("start") == kinds.count("done") == outcome.responses == 4
    providers = [e["provider"] for e in whole.events if e["type"] == "start"]
    assert providers == ["anthropic", "coze", "openai-chat", "openai-chat"]
    for size in (1, 7, 100, 4096):
        chunks = [data[at : at + size] for at in range(0, len(data), size)]
        assert run(data, chunks)[0].events == whole.events


def test_a_capture_of_an_http_error_is_an_error_whatever_its_body() -> None:
    """`send --save` keeps an HTTP error as its header comment, then the body as it came."""
    header = b": ssechat-capture status=%d content-type=application/json\n"
    sink, outcome, _ = run(header % 429 + b'{"error": {"message": "slow down", "code": "rate"}}')
    assert sink.events == [{"type": "error", "message": "slow down", "code": "rate"}]
    assert outcome.errors == 1
    sink, outcome, _ = run(header % 502 + b"<html><body>Bad Gateway</body></html>\n")
    assert sink.events == [
        {
            "type": "error",
            "message": "HTTP 502: '<html><body>Bad Gateway</body></html>'",
            "code": 502,
        }
    ]
    sink, outcome, _ = run(header % 503)
    assert sink.events == [{"type": "error", "message": "HTTP 503", "code": 503}]
    sink, outcome, _ = run(b": ssechat-capture status=200 content-type=text/event-stream\n")
    assert sink.events == [] and outcome.errors == 0  # an empty 200 capture: nothing to say
