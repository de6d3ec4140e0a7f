"""The plain SSE decoder: the WHATWG conformance corpus, chunk-boundary invariance, bounds."""

from __future__ import annotations

import itertools
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ssechat.errors import EventTooLargeError
from ssechat.sse import Comment, Decoder, Event, Retry, decode
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
