"""Proof that a server resumed a stream from `Last-Event-ID` instead of starting it again.

A server may send `id:` lines and still ignore `Last-Event-ID`, starting the
answer over on reconnect; continuing then writes it twice ("HelloHello
world!"). `IdLog` keeps the ids a response has carried (found in its bytes,
cheaply: only reads with `id:` in them are searched). `Proof` holds back a
continuation's first bytes until its first event is whole: the stream was
resumed when that event carries an id never seen before; anything else (an
id seen before, no id) is `NotResumed`, and the send session restarts.
"""

from __future__ import annotations

import re
from typing import Final

_ID_RE: Final = re.compile(rb"^id(?::[ ]?([^\r\n]*))?\r?$", re.M)
_LINE_RE: Final = re.compile(rb"[^\r\n]*(?:\r\n|\r|\n)")
PROOF_LIMIT: Final = 1 << 20  # bytes held back at most while waiting for the first event


class NotResumed(Exception):
    """The continuation did not prove that it resumed the stream."""


class IdLog:
    """The ids one response's events have carried."""

    def __init__(self) -> None:
        self.ids: set[bytes] = set()

    def add(self, data: bytes, last_id: str = "") -> None:
        if b"id:" in data:
            self.ids.update(m.group(1) or b"" for m in _ID_RE.finditer(data))
        if last_id:
            self.ids.add(last_id.encode("utf-8", "surrogateescape"))


class Proof:
    """A continuation's bytes, held until its first event shows whether it resumed."""

    def __init__(self, seen: IdLog) -> None:
        self.seen = seen.ids
        self.held = b""

    def feed(self, data: bytes) -> bytes | None:
        """All the bytes so far once proved, None while the first event is incomplete.

        Raises NotResumed when the first event's id was seen before or it has none.
        """
        self.held += data
        in_event = False
        event_id: bytes | None = None
        for match in _LINE_RE.finditer(self.held):
            line = match.group().rstrip(b"\r\n")
            if not line:
                if in_event:
                    if event_id is None or event_id in self.seen:
                        raise NotResumed(_why(event_id))
                    return self.held
                continue
            if line.startswith(b":"):
                continue
            in_event = True
            name, _, value = line.partition(b":")
            if name == b"id":
                event_id = value[1:] if value.startswith(b" ") else value
        if len(self.held) > PROOF_LIMIT:
            raise NotResumed("its first event is over 1 MB")
        return None

    def end(self) -> None:
        """The body ended before its first event was whole: not resumed."""
        raise NotResumed("it ended before its first event")


def _why(event_id: bytes | None) -> str:
    if event_id is None:
        return "its first event carries no id"
    return f"its first event repeats id {event_id[:40].decode('utf-8', 'replace')!r}"
