"""The template fast path: a common event's string parsed alone, never the event.

Long answers come as thousands of events identical but for one string.
`learn_template` learns such an event's text around its string; `Template`
then matches the next events by `startswith`/`endswith` and parses only
their string literal (`match`, or `match_all` for a whole read, in C).
`EventBatch` is the batch of events of one type and id the pipeline hands a
dialect: a `Sequence[Event]` whose data the templates read (`datas_of`)
without making an Event for each. The dialects' property tests prove this
path equal to their plain path (`Dialect.read`). See docs/dialects.md.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from itertools import repeat
from operator import itemgetter
from typing import Any, Final, overload

import orjson

from ssechat.sse import Event

_fast_loads = orjson.loads
_JSONDecodeError = orjson.JSONDecodeError
_PROBE: Final = "\x00probe"
_data: Final = itemgetter(1)  # an Event's data


class EventBatch(Sequence[Event]):
    """Events of one type and one id, by their data: the Events are made when first read.

    A read of common events that a template matches whole (`datas_of`) never
    becomes Event tuples; any other use of the batch reads real Events.
    """

    __slots__ = ("_events", "datas", "event", "id")

    def __init__(self, event: str, datas: list[str], event_id: str) -> None:
        self.event = event
        self.datas = datas
        self.id = event_id
        self._events: list[Event] | None = None

    def events(self) -> list[Event]:
        """The Events, made once."""
        if self._events is None:
            fields = zip(repeat(self.event), self.datas, repeat(self.id))
            self._events = list(map(tuple.__new__, repeat(Event), fields))
        return self._events

    def __len__(self) -> int:
        return len(self.datas)

    @overload
    def __getitem__(self, index: int) -> Event: ...

    @overload
    def __getitem__(self, index: slice) -> Sequence[Event]: ...

    def __getitem__(self, index: int | slice) -> Event | Sequence[Event]:
        return self.events()[index]

    def __iter__(self) -> Iterator[Event]:
        return iter(self.events())


def datas_of(events: Sequence[Event]) -> list[str]:
    """The data strings of `events` (an EventBatch's without making its Events)."""
    if type(events) is EventBatch:
        return events.datas
    return list(map(_data, events))


class Template:
    """A common event's text around its one varying string (see `learn_template`).

    `prefix` + a JSON string literal + `suffix` is that event with another
    string in place: the literal alone is parsed, not the event. The empty
    template (`NO_TEMPLATE`) matches nothing. (A plain class: a NamedTuple
    costs start-up time.)
    """

    __slots__ = ("end", "prefix", "start", "suffix")

    def __init__(self, prefix: str, suffix: str, start: int, end: int) -> None:
        self.prefix = prefix
        self.suffix = suffix
        self.start = start  # len(prefix)
        self.end = end  # -len(suffix)

    def match(self, data: str) -> Any:
        """The string in `data` if it is this template's event, else None.

        None also when the middle is not one JSON string (`"a","b":"c"`,
        `null`, a lone surrogate escape orjson refuses): the caller then
        parses the whole event, which decides.
        """
        if data.startswith(self.prefix) and data.endswith(self.suffix) and self.prefix:
            try:
                value = _fast_loads(data[self.start : self.end])
            except _JSONDecodeError:
                return None
            if type(value) is str:
                return value
        return None

    def match_all(self, datas: list[str]) -> list[str] | None:
        """`match` for every one of `datas`, or None if any one is not a match.

        For a read whose events are all the common one: the checks, slices
        and parses run over the list in C (map), with no Python code per event.
        """
        prefix = self.prefix
        if not (
            prefix
            and all(map(str.startswith, datas, repeat(prefix)))
            and all(map(str.endswith, datas, repeat(self.suffix)))
        ):
            return None
        try:
            values = list(map(_fast_loads, map(itemgetter(slice(self.start, self.end)), datas)))
        except _JSONDecodeError:
            return None
        if not all(map(isinstance, values, repeat(str))):
            return None
        return values


NO_TEMPLATE: Final = Template("", "", 0, 0)


def learn_template(data: str, key: str, value: str, path: tuple[Any, ...]) -> Template | None:
    """The template of the event `data` whose field `key` (at `path`) holds `value`.

    Long answers come as thousands of events identical but for one string
    (ids, model, block index, types, `"finish_reason":null` repeated). With
    the text before and after that string known, the next event is checked
    with `startswith`/`endswith` and only its string literal is parsed:
    a third of the cost of parsing the event. The split is proven on this
    event: its literal must decode to `value`, and the event with a probe
    string in its place must parse to `document` with only that field
    changed. A literal in that place then always means the same: the text
    before it is tokenized alike whatever string follows, and so is the text
    after.
    """
    marker = f'"{key}"'
    at = data.find(marker)
    while at >= 0:
        start = at + len(marker)
        while data[start : start + 1] in (" ", "\t", "\n", "\r", ":"):
            start += 1
        if data[start : start + 1] == '"':
            end = _literal_end(data, start)
            if 0 < end < len(data) and _proven(data, start, end, value, path):
                return Template(data[:start], data[end:], start, end - len(data))
        at = data.find(marker, at + 1)
    return None


def _literal_end(data: str, start: int) -> int:
    """The index after the JSON string literal that opens at `data[start]` (a quote)."""
    find = data.find
    end = start
    while True:
        end = find('"', end + 1)
        if end < 0:
            return -1
        backslashes = 0
        while data[end - 1 - backslashes] == "\\":
            backslashes += 1
        if not backslashes % 2:
            return end + 1


def _proven(data: str, start: int, end: int, value: str, path: tuple[Any, ...]) -> bool:
    try:
        if _fast_loads(data[start:end]) != value:
            return False
        probed = _fast_loads(data[:start] + orjson.dumps(_PROBE).decode() + data[end:])
        expected = _fast_loads(data)  # a fresh copy to change
        place = expected
        for step in path[:-1]:
            place = place[step]
        place[path[-1]] = _PROBE
    except (_JSONDecodeError, LookupError, TypeError):
        return False
    return bool(probed == expected)
