"""The binary AWS event stream (`application/vnd.amazon.eventstream`): frames in, events out.

Bedrock's ConverseStream (and every AWS streaming API) sends frames, not SSE:
a 12-byte prelude (total length, headers length, CRC32 of those 8 bytes),
typed headers, a payload, and a CRC32 of everything before it. Each frame
becomes one `sse.Event`: the `:event-type` header is its type and the
payload its data; an exception frame is typed by its `:exception-type`
(e.g. `throttlingException`), an error frame is `error` with a JSON data of
its `:error-code` and `:error-message`. InvokeModelWithResponseStream wraps
the model's own events in `chunk` frames (`{"bytes": base64}`): the decoded
event comes out instead, typed by its JSON `type` (Anthropic's message_start...),
so that the model's own dialect reads it.

This small decoder stands in for botocore's `EventStreamBuffer`: botocore is
about 80 MB of AWS SDK with its own dependencies, where the format takes 100
lines of the standard library (`struct`, `zlib.crc32`). Every CRC is checked:
a frame that fails its check stops the input (`FrameError`, exit 3), since
its lengths, and so every frame after it, cannot be trusted. A frame cut off
by the end of the input is the cut itself and is dropped: the dialect then
reports the response as truncated.
"""

from __future__ import annotations

import base64
import json
import struct
import zlib
from typing import Final

from ssechat import jsonload
from ssechat.errors import EventTooLargeError, InputError
from ssechat.sse import DEFAULT_MAX_EVENT_BYTES, Event, Item

PRELUDE: Final = 12
_MIN_FRAME: Final = PRELUDE + 4
_PRELUDE_STRUCT: Final = struct.Struct(">III")
_UINT32: Final = struct.Struct(">I")
# Header value types: their fixed sizes (None: a 2-byte length, then the bytes).
_FIXED: Final = {0: 0, 1: 0, 2: 1, 3: 2, 4: 4, 5: 8, 8: 8, 9: 16}


class FrameError(InputError):
    """An event-stream frame that fails its CRC or has impossible lengths."""


def is_prelude(head: bytes) -> bool:
    """Whether the first 12 bytes of an input are a valid event-stream prelude."""
    if len(head) < PRELUDE:
        return False
    total: int
    headers: int
    crc: int
    total, headers, crc = _PRELUDE_STRUCT.unpack_from(head)
    return zlib.crc32(head[:8]) == crc and total >= _MIN_FRAME and headers <= total - _MIN_FRAME


def _headers(raw: bytes) -> dict[str, object]:
    """The frame's headers; string and bytes values decoded, others kept as numbers."""
    headers: dict[str, object] = {}
    at = 0
    while at < len(raw):
        size = raw[at]
        name = raw[at + 1 : at + 1 + size].decode("utf-8", "replace")
        at += 1 + size
        kind = raw[at]
        at += 1
        if kind in _FIXED:
            width = _FIXED[kind]
            value: object = kind == 0 if kind <= 1 else int.from_bytes(raw[at : at + width], "big")
            at += width
        elif kind in (6, 7):
            (length,) = struct.unpack_from(">H", raw, at)
            value = raw[at + 2 : at + 2 + length].decode("utf-8", "replace")
            at += 2 + length
        else:
            raise FrameError(f"an event-stream header has an unknown value type {kind}")
        headers[name] = value
    return headers


def frame_event(headers: dict[str, object], payload: bytes) -> Event:
    """The Event a frame stands for (see the module docstring)."""
    kind = headers.get(":message-type", "event")
    data = payload.decode("utf-8", "replace")
    if kind == "exception":
        return Event(str(headers.get(":exception-type", "exception")), data, "")
    if kind == "error":
        error = {"code": headers.get(":error-code"), "message": headers.get(":error-message")}
        return Event("error", json.dumps(error), "")
    event_type = str(headers.get(":event-type", "message"))
    if event_type == "chunk":
        return _unwrapped(data) or Event(event_type, data, "")
    return Event(event_type, data, "")


def _unwrapped(data: str) -> Event | None:
    """The model event inside an InvokeModelWithResponseStream `chunk` frame."""
    try:
        inner = base64.b64decode(jsonload.loads(data)["bytes"], validate=True).decode("utf-8")
        kind = jsonload.loads(inner).get("type")
    except (ValueError, TypeError, KeyError, AttributeError):
        return None
    return Event(kind if isinstance(kind, str) and kind else "message", inner, "")


class EventStreamDecoder:
    """Feed bytes with `feed()`, finish with `close()`: the interface of `sse.Decoder`."""

    looks_like_sse = True  # the input was recognised as this format: never "not SSE"
    last_event_id = ""
    ended_inside_event = False  # a cut frame is dropped: the dialect reports the cut

    def __init__(
        self,
        *,
        max_event_bytes: int = DEFAULT_MAX_EVENT_BYTES,
        dispatch_at_eof: bool = True,
        comments: bool = False,
    ) -> None:
        self.max_event_bytes = max_event_bytes
        self.dispatch_at_eof = dispatch_at_eof
        self.comments = comments
        self.events_dispatched = 0
        self._buffer = bytearray()
        self._offset = 0  # of the buffer's start in the input, for messages
        self._pending_error: InputError | None = None

    def feed(self, chunk: bytes) -> list[Item]:
        """The frames that `chunk` completes; a bad frame raises after the good ones."""
        if self._pending_error is not None:
            raise self._pending_error
        self._buffer += chunk
        items: list[Item] = []
        try:
            self._frames(items)
        except InputError as exc:
            if not items:
                raise
            self._pending_error = exc
        self.events_dispatched += len(items)
        return items

    def close(self) -> list[Item]:
        """End of input: a partial frame is the cut, dropped (the dialect says truncated).

        Cut inside the first frame, there is no dialect to say it: an error.
        """
        if self._pending_error is not None:
            raise self._pending_error
        if self._buffer and not self.events_dispatched:
            raise FrameError("the event stream ends inside its first frame (truncated)")
        self._buffer.clear()
        return []

    def _frames(self, items: list[Item]) -> None:
        buffer = self._buffer
        while len(buffer) >= PRELUDE:
            total, headers_length, crc = _PRELUDE_STRUCT.unpack_from(buffer)
            where = f"the event-stream frame at byte {self._offset}"
            if zlib.crc32(buffer[:8]) != crc:
                raise FrameError(f"{where} fails its prelude CRC (corrupt input)")
            if total < _MIN_FRAME or headers_length > total - _MIN_FRAME:
                raise FrameError(f"{where} has impossible lengths ({total}, {headers_length})")
            if total > self.max_event_bytes:
                raise EventTooLargeError(self.max_event_bytes)
            if len(buffer) < total:
                return
            frame = bytes(buffer[:total])
            if zlib.crc32(frame[:-4]) != _UINT32.unpack_from(frame, total - 4)[0]:
                raise FrameError(f"{where} fails its message CRC (corrupt input)")
            try:
                headers = _headers(frame[PRELUDE : PRELUDE + headers_length])
            except (IndexError, struct.error) as exc:
                raise FrameError(f"{where} has malformed headers") from exc
            items.append(frame_event(headers, frame[PRELUDE + headers_length : -4]))
            del buffer[:total]
            self._offset += total
