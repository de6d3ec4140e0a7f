"""The batching layer (`ssechat.sse_runs`) gives exactly the plain decoder's items.

The reference is `ssechat.sse.Decoder`, the plain WHATWG decoder, fed the
whole stream at once; the layer is fed the same bytes cut anywhere.
"""

from __future__ import annotations

import itertools
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ssechat.errors import EventTooLargeError
from ssechat.event_lines import raw_event_line, raw_event_lines
from ssechat.sse import Decoder, Event, Item, decode
from ssechat.sse_runs import EventRun, RunDecoder, expand_runs
from tests.conftest import case_input, corpus_params
from tests.test_sse import as_records, streams_and_cuts


def plain(data: bytes, **options: Any) -> list[Item]:
    """The reference: the plain decoder, the whole input in one read."""
    return list(decode([data], **options))


def batched(pieces: list[bytes], **options: Any) -> tuple[list[Item], RunDecoder]:
    decoder = RunDecoder(**options)
    items: list[Item] = []
    for piece in pieces:
        items += expand_runs(decoder.feed_runs(piece))
    return items + decoder.close(), decoder


def cut(data: bytes, cuts: list[int]) -> list[bytes]:
    bounds = [0, *sorted(c for c in cuts if c < len(data)), len(data)]
    return [data[a:b] for a, b in itertools.pairwise(bounds)]


# -- the layer against the plain decoder, on any SSE -----------------------------


@pytest.mark.parametrize("case", corpus_params("sse/cases.jsonl"))
def test_conformance_through_the_layer(case: dict[str, Any]) -> None:
    data = case_input(case)
    items, _ = batched([data], dispatch_at_eof=False)
    assert as_records(items) == case["expected"]
    if case.get("chunks"):
        chunks = [chunk.encode("utf-8") for chunk in case["chunks"]]
        assert as_records(batched(chunks, dispatch_at_eof=False)[0]) == case["expected"]


@settings(max_examples=400, deadline=None)
@given(streams_and_cuts(), st.booleans(), st.booleans())
def test_any_stream_any_chunking_equals_the_plain_decoder(
    sample: tuple[bytes, list[int]], at_eof: bool, comments: bool
) -> None:
    data, cuts = sample
    options = {"dispatch_at_eof": at_eof, "comments": comments}
    reference = Decoder(**options)
    expected = reference.feed(data) + reference.close()
    got, decoder = batched(cut(data, cuts), **options)
    assert got == expected
    assert decoder.events_dispatched == reference.events_dispatched
    assert decoder.looks_like_sse == reference.looks_like_sse
    assert decoder.last_event_id == reference.last_event_id
    assert decoder.ended_inside_event == reference.ended_inside_event


def test_an_event_over_the_bound_raises_after_the_run_before_it() -> None:
    decoder = RunDecoder(max_event_bytes=100)
    read = b"data: a\n\ndata: b\n\ndata: " + b"x" * 200 + b"\n\n"
    assert expand_runs(decoder.feed_runs(read)) == [
        Event("message", "a", ""),
        Event("message", "b", ""),
    ]
    with pytest.raises(EventTooLargeError):
        decoder.feed_runs(b"data: c\n\n")


# -- reads of uniform events: `_event_run` and the EventRun encoding ------------
# Streams made mostly of one event shape, so that whole reads take the run
# path, with the odd event that must push a read off it.

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
    pieces = cut(data, cuts)
    expected = plain(data)
    assert list(decode(pieces)) == expected  # the plain decoder, cut alike

    decoder = RunDecoder()
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
    decoder = RunDecoder()
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
    expected = plain(read)
    items = RunDecoder().feed_runs(read)
    got = [e for item in items for e in (item.events() if isinstance(item, EventRun) else [item])]
    assert got == expected
    assert b"".join(raw_event_lines(items)) == b"".join(map(raw_event_line, expected))


def test_an_event_of_another_type_splits_a_read_into_runs() -> None:
    delta, ping = b"event: delta\ndata: ", b"event: ping\ndata: "
    read = b"\n\n".join([delta + b"1", delta + b"2", ping + b"{}", delta + b"3", b""])
    items = RunDecoder().feed_runs(read)
    assert [(run.event, len(run.values)) for run in items if isinstance(run, EventRun)] == [
        ("delta", 2),
        ("ping", 1),
        ("delta", 1),
    ]
    assert [e for run in items if isinstance(run, EventRun) for e in run.events()] == plain(read)


@pytest.mark.parametrize(
    "kinds",
    [
        ["a", "b"] * 20,  # a new type at every event: two one-event runs, then the general path
        ["a"] * 30 + ["b"] + ["a"] * 30 + ["b"] * 2 + ["a"] * 5,  # long runs, short ones between
        ["a"] * 12 + ["b"] + ["a"] * 3,  # the middle and the end sampled alike, one odd event
    ],
)
def test_reads_whose_type_changes_give_the_line_path_events(kinds: list[str]) -> None:
    read = b"".join(
        b'event: %s\ndata: {"n": %d}\n\n' % (k.encode(), i) for i, k in enumerate(kinds)
    )
    expected = plain(read)
    for decoder_feed in (RunDecoder().feed_runs, RunDecoder().feed):
        items = decoder_feed(read)
        got = [e for it in items for e in (it.events() if isinstance(it, EventRun) else [it])]
        assert got == expected
        assert b"".join(raw_event_lines(items)) == b"".join(map(raw_event_line, expected))
