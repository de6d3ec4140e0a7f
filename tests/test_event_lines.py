"""The `--events` lines: the batch encoding of a read equals the one-by-one lines."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from ssechat.event_lines import raw_event_line, raw_event_lines
from ssechat.sse import Comment, Event, Retry
from ssechat.sse_runs import EventRun

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
    if uniform:  # the commonest read: Events of one type and one id
        items = [Event("message", item.data, "7") for item in items if isinstance(item, Event)]
    expected = b"".join(raw_event_line(i) for i in items if not isinstance(i, Comment))
    assert b"".join(raw_event_lines(items)) == expected


_run_values = st.lists(st.binary(max_size=6) | st.sampled_from([b"\xf0\x9f\x98\x80", b"\\"]))


@settings(max_examples=200, deadline=None)
@given(st.lists(_run_values, max_size=4), st.sampled_from(["message", "t", 'é"']), st.text())
def test_run_lines_equal_the_lines_of_their_events(
    runs: list[list[bytes]], kind: str, last_id: str
) -> None:
    items: list[Any] = [EventRun(kind, last_id, values) for values in runs if values]
    items.insert(len(items) // 2, Retry(5))
    expected = b"".join(
        raw_event_line(event)
        for item in items
        for event in (item.events() if isinstance(item, EventRun) else [item])
    )
    assert b"".join(raw_event_lines(items)) == expected
