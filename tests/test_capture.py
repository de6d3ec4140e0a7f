"""The capture format: annotations, the writer, the reader, and their round trip."""

from __future__ import annotations

import io
import os
import stat
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ssechat.capture import (
    CaptureHeader,
    CaptureWriter,
    create_private,
    is_annotation,
    parse_capture,
    parse_header,
    parse_time,
    read_capture,
    time_line,
)
from ssechat.sse import Decoder, Event
from tests.conftest import EXAMPLES


def capture_of(chunks: list[tuple[bytes, float]], header: CaptureHeader | None = None) -> bytes:
    out = io.BytesIO()
    writer = CaptureWriter(out, header)
    for chunk, seconds in chunks:
        writer.write(chunk, seconds)
    return out.getvalue()


def events_of(data: bytes) -> list[Event]:
    decoder = Decoder()
    items = [*decoder.feed(data), *decoder.close()]
    return [item for item in items if isinstance(item, Event)]


def test_annotation_lines_parse_back() -> None:
    header = CaptureHeader(429, "application/json")
    assert parse_header(header.line().decode()[1:].rstrip("\n")) == header
    assert parse_time(time_line(1.2345).decode()[1:].rstrip("\n")) == pytest.approx(1.234, abs=1e-3)
    assert parse_time(" t=abc") is None
    assert is_annotation(" t=0.5") and not is_annotation(" ping")


def test_writer_puts_a_time_before_each_event_and_reader_gives_it_back() -> None:
    data = capture_of(
        [(b"data: a\n\n: ping\n\n", 0.1), (b"event: x\ndata: b\n", 0.25), (b"\n", 0.3)],
        CaptureHeader(),
    )
    assert data.startswith(b": ssechat-capture status=200 content-type=text/event-stream\n")
    capture = parse_capture(data)
    assert capture.header == CaptureHeader()
    assert [(s.data, s.time, s.is_event) for s in capture.segments] == [
        (b"data: a\n\n", 0.1, True),
        (b": ping\n\n", None, False),
        (b"event: x\ndata: b\n\n", 0.25, True),
    ]
    assert capture.timed and capture.event_count == 2
    assert capture.body() == b"data: a\n\n: ping\n\nevent: x\ndata: b\n\n"


def test_plain_capture_splits_at_event_ends_and_keeps_every_byte() -> None:
    raw = b": hello\r\ndata: 1\r\n\r\nretry: 5\r\rdata: 2"  # CRLF, CR, no final newline
    capture = parse_capture(raw)
    assert capture.header is None and not capture.timed
    assert [s.data for s in capture.segments] == [
        b": hello\r\ndata: 1\r\n\r\n",
        b"retry: 5\r\r",
        b"data: 2",
    ]
    assert capture.body() == raw
    assert capture.status == 200 and capture.content_type == "text/event-stream"


def test_header_counts_only_at_the_top_but_is_always_dropped() -> None:
    raw = b"data: 1\n\n: ssechat-capture status=500 content-type=x\n\n"
    capture = parse_capture(raw)
    assert capture.header is None
    assert b"ssechat-capture" not in capture.body()


def test_error_capture_keeps_status_and_body() -> None:
    body = b'{"error": {"message": "slow down"}}\n'
    data = capture_of([(body, 0.05)], CaptureHeader(429, "application/json"))
    capture = parse_capture(data)
    assert (capture.status, capture.content_type, capture.body()) == (
        429,
        "application/json",
        body,
    )


@pytest.mark.parametrize("path", sorted(EXAMPLES.glob("*.sse")), ids=lambda p: p.name)
def test_examples_read_back_to_the_same_bytes_and_events(path: Path) -> None:
    raw = path.read_bytes()
    capture = read_capture(str(path))
    assert capture.body() == raw
    assert capture.event_count == len(events_of(raw))


def test_create_private_is_0600_even_over_an_open_file(tmp_path: Path) -> None:
    target = tmp_path / "cap.sse"
    target.write_bytes(b"old")
    os.chmod(target, 0o644)
    with create_private(str(target)) as stream:
        stream.write(b"new")
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    assert target.read_bytes() == b"new"


# -- the round trip, for any stream and any chunking ---------------------------------

_line_end = st.sampled_from([b"\n", b"\r\n", b"\r"])
_value = st.text(
    alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\r\n"),
    max_size=12,
).map(lambda s: s.encode())
_line = st.one_of(
    st.tuples(st.sampled_from([b"data: ", b"data:", b"event: ", b"id: "]), _value),
    st.tuples(st.just(b": "), _value.filter(lambda v: not is_annotation(" " + v.decode()))),
)


@st.composite
def _streams(draw: st.DrawFn) -> tuple[list[bytes], list[float]]:
    blocks: list[bytes] = []
    for _ in range(draw(st.integers(1, 6))):
        lines = draw(st.lists(_line, min_size=1, max_size=3))
        end = draw(_line_end)
        blocks.append(b"".join(field + value + end for field, value in lines) + end)
    times = sorted(draw(st.lists(st.integers(0, 5000), min_size=len(blocks), max_size=len(blocks))))
    return blocks, [t / 1000 for t in times]


@settings(max_examples=100, deadline=None)
@given(stream=_streams(), cuts=st.lists(st.integers(0, 400), max_size=8))
def test_capture_then_read_gives_the_stream_and_each_events_time(
    stream: tuple[list[bytes], list[float]], cuts: list[int]
) -> None:
    blocks, times = stream
    chunks: list[tuple[bytes, float]] = []
    for block, seconds in zip(blocks, times, strict=True):
        points = sorted({c for c in cuts if 0 < c < len(block)})
        pieces = [block[a:b] for a, b in zip([0, *points], [*points, len(block)], strict=True)]
        chunks.extend((piece, seconds) for piece in pieces)
    capture = parse_capture(capture_of(chunks, CaptureHeader()))
    raw = b"".join(blocks)
    assert capture.body() == raw
    assert events_of(capture.body()) == events_of(raw)
    # every block that holds a field line is one timed event segment, at its time
    timed = [(s.time, s.data) for s in capture.segments if s.time is not None]
    expected = [
        (seconds, block)
        for block, seconds in zip(blocks, times, strict=True)
        if any(not line.startswith(b":") for line in block.splitlines() if line)
    ]
    assert [t for t, _ in timed] == pytest.approx([t for t, _ in expected], abs=1e-6)
