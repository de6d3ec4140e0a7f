"""The SSE decoder: the WHATWG conformance corpus, chunk-boundary invariance, bounds."""

from __future__ import annotations

import itertools
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ssechat.errors import EventTooLargeError
from ssechat.sse import Comment, Decoder, Event, EventRun, Retry, decode
from tests.conftest import case_input, corpus_params


def as_records(items: list[Any]) -> list[dict[str, Any]]:
    """The `--events` shape the conformance corpus is written in."""
    records: list[dict[str, Any]] = []
    for item in items:
        if isinstance(item, Retry):
            records.append({"retry": item.milliseconds})
        elif isinstance(item, Event):
            record = {"event": item.event, "data": item.data}
            if item.id:
                record["id"] = item.id
            records.append(record)
    return records


def decode_all(chunks: list[bytes], **options: Any) -> list[Any]:
    return list(decode(chunks, **options))


@pytest.mark.parametrize("case", corpus_params("sse/cases.jsonl"))
def test_conformance_whole(case: dict[str, Any]) -> None:
    got = as_records(decode_all([case_input(case)], dispatch_at_eof=False))
    assert got == case["expected"]


@pytest.mark.parametrize("case", corpus_params("sse/cases.jsonl"))
def test_conformance_in_the_cases_own_chunks_and_bytewise(case: dict[str, Any]) -> None:
    data = case_input(case)
    if case.get("chunks"):
        chunks = [chunk.encode("utf-8") for chunk in case["chunks"]]
        assert as_records(decode_all(chunks, dispatch_at_eof=False)) == case["expected"]
    bytewise = [data[i : i + 1] for i in range(len(data))]
    assert as_records(decode_all(bytewise, dispatch_at_eof=False)) == case["expected"]


def test_crlf_split_across_reads_is_one_line_end() -> None:
    got = decode_all([b"data: a\r", b"\ndata: b\r", b"\n\r", b"\n"])
    assert got == [Event("message", "a\nb", "")]


def test_lone_cr_then_lf_in_next_read_is_two_ends_only_once() -> None:
    # "\r" then "\n" is one end; the blank line that follows needs its own end.
    assert decode_all([b"data: a\r", b"\n"]) == [Event("message", "a", "")]
    assert decode_all([b"data: a\r", b"\n"], dispatch_at_eof=False) == []


def test_eof_dispatches_pending_event_by_default_and_discards_on_request() -> None:
    assert decode_all([b"data: tail"]) == [Event("message", "tail", "")]
    assert decode_all([b"data: tail"], dispatch_at_eof=False) == []


def test_invalid_utf8_is_replaced_not_fatal() -> None:
    assert decode_all([b"data: a\xffb\n\n"]) == [Event("message", "a\ufffdb", "")]


def test_comments_are_reported_only_when_asked() -> None:
    stream = [b": status 200\ndata: x\n\n"]
    assert decode_all(stream) == [Event("message", "x", "")]
    assert decode_all(stream, comments=True) == [Comment(" status 200"), Event("message", "x", "")]


def test_event_size_bound_on_data_lines() -> None:
    decoder = Decoder(max_event_bytes=100)
    decoder.feed(b"data: " + b"x" * 60 + b"\n")
    with pytest.raises(EventTooLargeError):
        decoder.feed(b"data: " + b"x" * 60 + b"\n")


def test_event_size_bound_on_a_line_without_end() -> None:
    decoder = Decoder(max_event_bytes=1000)
    with pytest.raises(EventTooLargeError):
        for _ in range(100):
            decoder.feed(b"x" * 100)


def test_long_line_in_small_reads_is_assembled() -> None:
    payload = b"y" * 200_000
    chunks = [b"data: "] + [payload[i : i + 7] for i in range(0, len(payload), 7)] + [b"\n\n"]
    assert decode_all(chunks) == [Event("message", payload.decode(), "")]


def test_looks_like_sse() -> None:
    html = Decoder()
    html.feed(b"<html>\n<body>Bad gateway</body>\n</html>\n")
    assert not html.looks_like_sse
    sse = Decoder()
    sse.feed(b"data: x\n\n")
    assert sse.looks_like_sse


# -- property: the chunking of the input never changes the events -------------

sse_lines = st.lists(
    st.one_of(
        st.sampled_from(
            ["", "data", "data:", "data: ", ":comment", "event: e", "id: 1", "retry: 5"]
        ),
        st.builds(
            lambda f, v: f"{f}:{v}",
            st.sampled_from(["data", "event", "id", "retry", "x"]),
            st.text(
                alphabet=st.characters(blacklist_characters="\r\n", blacklist_categories=("Cs",)),
                max_size=12,
            ),
        ),
    ),
    max_size=25,
)


@st.composite
def streams_and_cuts(draw: st.DrawFn) -> tuple[bytes, list[int]]:
    lines = draw(sse_lines)
    ends = draw(
        st.lists(st.sampled_from(["\n", "\r", "\r\n"]), min_size=len(lines), max_size=len(lines))
    )
    text = "".join(line + end for line, end in zip(lines, ends, strict=False))
    prefix = draw(st.sampled_from(["", "\ufeff"]))
    data = (prefix + text).encode("utf-8") + draw(st.binary(max_size=4))
    cuts = sorted(draw(st.lists(st.integers(0, len(data)), max_size=12)))
    return data, cuts


@settings(max_examples=400, deadline=None)
@given(streams_and_cuts(), st.booleans())
def test_any_chunking_gives_the_same_events(sample: tuple[bytes, list[int]], at_eof: bool) -> None:
    data, cuts = sample
    whole = decode_all([data], dispatch_at_eof=at_eof, comments=True)
    bounds = [0, *cuts, len(data)]
    pieces = [data[a:b] for a, b in itertools.pairwise(bounds)]
    assert decode_all(pieces, dispatch_at_eof=at_eof, comments=True) == whole
    bytewise = [data[i : i + 1] for i in range(len(data))]
    assert decode_all(bytewise, dispatch_at_eof=at_eof, comments=True) == whole


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=30), st.integers(1, 8))
def test_multibyte_characters_split_anywhere(text: str, step: int) -> None:
    clean = text.replace("\r", "").replace("\n", "")
    data = f"data: {clean}\n\n".encode()
    pieces = [data[i : i + step] for i in range(0, len(data), step)]
    got = decode_all(pieces)
    assert got == [Event("message", clean, "")]


# -- the `--events` encoding of what the decoder yields ------------------------
# (events.raw_event_lines has a batch fast path; it must equal the one-by-one lines)

_values = st.text(max_size=8) | st.sampled_from(
    ["", 'a"},{"event":"x', "\\", "\u2028", "\x00", "\ud800"]
)
decoder_items = st.lists(
    st.one_of(
        st.builds(Event, st.sampled_from(["message", "ping"]) | _values, _values, _values),
        st.builds(Retry, st.integers(0, 10**6)),
        st.builds(Comment, _values),
    ),
    max_size=20,
)


@settings(max_examples=300, deadline=None)
@given(decoder_items, st.booleans())
def test_batch_lines_equal_one_by_one_lines(items: list[Any], uniform: bool) -> None:
    from ssechat.normalized import raw_event_line, raw_event_lines

    if uniform:  # the commonest read: Events of one type and one id
        items = [Event("message", item.data, "7") for item in items if isinstance(item, Event)]
    expected = b"".join(raw_event_line(i) for i in items if not isinstance(i, Comment))
    assert b"".join(raw_event_lines(items)) == expected


# -- reads of uniform events: `_event_run` and the EventRun encoding ------------
# Streams made mostly of one event shape, so that whole reads take the run
# path, with the odd event that must push a read off it. A bytewise feed is
# the reference: a one-byte read never holds a blank line, so it takes only
# the line-by-line algorithm.

_run_values = st.text(
    alphabet=st.sampled_from(["a", "n", '"', "\\", " ", ":", "\t", "\x00", "\x7f", "é", "😀"]),
    max_size=6,
) | st.sampled_from(["data: x", "\\n", "event: t", '"}\n{"event":"'.replace("\n", "")])
_odd_events = st.sampled_from(
    [
        b"id: 5\ndata: x",
        b": comment",
        b"data: a\ndata: b",
        b"data:nospace",
        b"event: \ndata: empty type",
        b"event: other\ndata: y",
        b"retry: 10\ndata: z",
        b"data: \xff\xfe invalid",
        b"data: a\\n\ndata: b",
        b"event: t",
        b"",
    ]
)


@st.composite
def uniform_streams(draw: st.DrawFn) -> bytes:
    head = draw(st.sampled_from([b"data: ", b"event: t\ndata: ", 'event: "ü"\ndata: '.encode()]))
    uniform = _run_values.map(lambda value: head + value.encode())
    odd = draw(st.booleans())  # half the streams have an event that is off the run path
    events = draw(st.lists(st.one_of(uniform, _odd_events) if odd else uniform, max_size=30))
    blank = draw(st.sampled_from([b"\n\n", b"\n\n", b"\r\n\r\n", b"\n\n\n"]))
    tail = draw(st.sampled_from([b"", b"\n", b"\n\n", b"data: cut"]))
    return draw(st.sampled_from([b"", b"\xef\xbb\xbf"])) + blank.join(events) + blank + tail


@settings(max_examples=400, deadline=None)
@given(uniform_streams(), st.lists(st.integers(0, 2000), max_size=4))
def test_runs_equal_the_line_path(data: bytes, cuts: list[int]) -> None:
    from ssechat.normalized import raw_event_line, raw_event_lines

    bounds = [0, *sorted(cut for cut in cuts if cut < len(data)), len(data)]
    pieces = [data[a:b] for a, b in itertools.pairwise(bounds)]
    expected = decode_all([data[i : i + 1] for i in range(len(data))])
    assert decode_all(pieces) == expected

    decoder = Decoder()
    lines: list[bytes] = []
    expanded: list[Any] = []
    for piece in pieces:
        items = decoder.feed_runs(piece)
        lines += raw_event_lines(items)
        for item in items:
            expanded += item.events() if isinstance(item, EventRun) else [item]
    closing = decoder.close()
    lines += raw_event_lines(closing)
    assert expanded + closing == expected
    assert b"".join(lines) == b"".join(raw_event_line(item) for item in expected)


def test_a_read_of_one_shape_is_one_run() -> None:
    decoder = Decoder()
    items = decoder.feed_runs(b'event: t\ndata: {"a": "\\u00e9"}\n\nevent: t\ndata: \n\ndata: n')
    assert items == [EventRun("t", "", [b'{"a": "\\u00e9"}', b""])]
    assert decoder.events_dispatched == 2
    assert decoder.close() == [Event("message", "n", "")]


@pytest.mark.parametrize(
    "read",
    [
        b"data: a\\n\ndata: b\nid: 1\n\ndata: c\n\n",  # a 2-line event whose text ends in `\n`
        b"event: \ndata: x\n\nevent: \ndata: y\n\n",  # empty type: "message"
        b"data: x\n\n\ndata: y\n\n",  # a blank line more
        b"id: 9\ndata: x\n\ndata: y\n\n",  # the id persists
        b"data: \xff\n\ndata: \xc3\n\n",  # invalid UTF-8, replaced value by value
    ],
)
def test_reads_off_the_run_path_give_the_line_path_events(read: bytes) -> None:
    from ssechat.normalized import raw_event_line, raw_event_lines

    expected = decode_all([read[i : i + 1] for i in range(len(read))])
    items = Decoder().feed_runs(read)
    got = [e for item in items for e in (item.events() if isinstance(item, EventRun) else [item])]
    assert got == expected
    assert b"".join(raw_event_lines(items)) == b"".join(map(raw_event_line, expected))


def test_an_event_of_another_type_splits_a_read_into_runs() -> None:
    delta, ping = b"event: delta\ndata: ", b"event: ping\ndata: "
    read = b"\n\n".join([delta + b"1", delta + b"2", ping + b"{}", delta + b"3", b""])
    items = Decoder().feed_runs(read)
    assert [(run.event, len(run.values)) for run in items if isinstance(run, EventRun)] == [
        ("delta", 2),
        ("ping", 1),
        ("delta", 1),
    ]
    assert [e for run in items if isinstance(run, EventRun) for e in run.events()] == decode_all(
        [read[i : i + 1] for i in range(len(read))]
    )


@pytest.mark.parametrize(
    "kinds",
    [
        ["a", "b"] * 20,  # a new type at every event: two one-event runs, then the general path
        ["a"] * 30 + ["b"] + ["a"] * 30 + ["b"] * 2 + ["a"] * 5,  # long runs, short ones between
        ["a"] * 12 + ["b"] + ["a"] * 3,  # the middle and the end sampled alike, one odd event
    ],
)
def test_reads_whose_type_changes_give_the_line_path_events(kinds: list[str]) -> None:
    from ssechat.normalized import raw_event_line, raw_event_lines

    read = b"".join(
        b'event: %s\ndata: {"n": %d}\n\n' % (k.encode(), i) for i, k in enumerate(kinds)
    )
    expected = decode_all([read[i : i + 1] for i in range(len(read))])
    for decoder_feed in (Decoder().feed_runs, Decoder().feed):
        items = decoder_feed(read)
        got = [e for it in items for e in (it.events() if isinstance(it, EventRun) else [it])]
        assert got == expected
        assert b"".join(raw_event_lines(items)) == b"".join(map(raw_event_line, expected))
