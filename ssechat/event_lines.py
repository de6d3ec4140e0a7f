"""The `--events` lines: SSE events and retries as the JSON lines of docs/design.md section 2.

`raw_event_line` writes one item; `raw_event_lines` writes one read's items
(EventRuns of `ssechat.sse_runs` included) with a few orjson calls, which is
most of `parse-sse --events` speed. The two are held equal by
tests/test_event_lines.py.
"""

from __future__ import annotations

from collections.abc import Sequence
from operator import itemgetter
from typing import cast

import orjson

from ssechat.lines import json_line
from ssechat.sse import Comment, Event, Item, Retry
from ssechat.sse_runs import EventRun, segments

_dumps = orjson.dumps


def raw_event_line(item: Event | Retry) -> bytes:
    """The `parse-sse --events` line of one event or retry."""
    if isinstance(item, Retry):
        return json_line({"retry": item.milliseconds})
    if item.id:
        return json_line({"event": item.event, "data": item.data, "id": item.id})
    return json_line({"event": item.event, "data": item.data})


_JOINT = b'},{"event":'
_JOINT_AS_LINE_END = b'}\n{"event":'
_event_type, _event_data, _event_id = itemgetter(0), itemgetter(1), itemgetter(2)


def raw_event_lines(items: Sequence[Item | EventRun]) -> list[bytes]:
    """The `--events` lines of one read's decoder items (comments are skipped).

    Joined, the result equals joining `raw_event_line` of each Event and
    Retry (and of each Event of an EventRun), only faster, which is most of
    `--events` speed. It is a few pieces, left for the writer's one join.
    """
    lines: list[bytes] = []
    for segment in segments(items):
        if isinstance(segment, EventRun):
            lines.append(_run_lines(segment))
        else:
            lines += _item_lines(segment)
    return lines


def _run_lines(run: EventRun) -> bytes:
    """The lines of an EventRun, its data values escaped by one orjson call.

    The values are dumped as one indented JSON array, whose joints (quote,
    comma, line end, indent, quote) occur nowhere else: an encoded string
    holds no raw line end. Split there, they are the values as orjson writes
    each, joined here with the line text between them. (One orjson call for
    the whole run as one string would be faster still, but one emoji makes
    that string 4 bytes a character, and those large, varying allocations
    grew the heap by 20 MB over a long stream.)
    """
    values = _dumps(run.texts(), option=orjson.OPT_INDENT_2).split(_ARRAY_JOINT)
    head = b'{"event":' + _dumps(run.event) + b',"data":"'
    tail = b'","id":' + _dumps(run.id) + b"}\n" if run.id else b'"}\n'
    # The line text goes into the first and last values, so that the run's
    # lines are built by one join, with no copy of the whole made after it.
    values[0] = head + values[0][len(_ARRAY_START) :]
    values[-1] = values[-1][: -len(_ARRAY_END)] + tail
    return (tail + head).join(values)


_ARRAY_START, _ARRAY_JOINT, _ARRAY_END = b'[\n  "', b'",\n  "', b'"\n]'


def _item_lines(items: list[Item]) -> list[bytes]:
    """The `--events` lines of decoder items, joined (comments are skipped).

    Returns [] or [bytes]; the result equals joining `raw_event_line` of each
    Event and Retry, only faster. When all
    items are Events of one type and one id (a read of an LLM stream nearly
    always is), only the data strings are encoded, by C calls, and joined
    with the line text between them; otherwise the records are dumped as one
    JSON array whose `},{"event":` joints become line ends (that text occurs
    nowhere else: inside an encoded string every `"` is escaped).
    """
    if not items:
        return []
    try:
        if set(map(type, items)) == {Event}:
            kinds, ids = set(map(_event_type, items)), set(map(_event_id, items))
            if len(kinds) == 1 and len(ids) == 1:
                (kind,), (last_id,) = kinds, ids
                head = b'{"event":' + _dumps(kind) + b',"data":'
                tail = b',"id":' + _dumps(last_id) + b"}\n" if last_id else b"}\n"
                return [head + (tail + head).join(map(_dumps, map(_event_data, items))) + tail]
            records = [
                {"event": item.event, "data": item.data, "id": item.id}
                if item.id
                else {"event": item.event, "data": item.data}
                for item in cast("list[Event]", items)
            ]
            return [_dumps(records)[1:-1].replace(_JOINT, _JOINT_AS_LINE_END) + b"\n"]
    except TypeError:  # what orjson refuses: json_line below handles it
        pass
    lines = [raw_event_line(item) for item in items if not isinstance(item, Comment)]
    return [b"".join(lines)] if lines else []
