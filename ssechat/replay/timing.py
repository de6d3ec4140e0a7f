"""Replay's clock: when each segment of a capture is written, and where a resumed request starts.

`Timing.schedule` gives the write times (recorded, or `--delay` apart,
scaled by `--speed`); `replay_to_stream` plays captures to a binary stream
with them; `ids_after` and `resume_point` find where a `Last-Event-ID`
resumes a capture. See docs/replay.md.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sequence
from typing import IO, Final, NamedTuple

from ssechat.capture import Capture
from ssechat.errors import UsageError

MAX_WAIT: Final = 1e7  # seconds; a longer wait overflows the clocks (and is a typo)


class Timing(NamedTuple):
    """When segments are written, in seconds after the start of a response.

    `delay=None` uses the recorded times of an annotated capture (0 between
    events of a plain one); a number puts that many seconds between events,
    whatever was recorded. `speed` divides every wait; `no_delay` removes them.
    (A NamedTuple, not a dataclass: made at import, a dataclass costs start-up.)
    """

    speed: float = 1.0
    delay: float | None = None
    no_delay: bool = False

    def checked(self, capture: Capture, name: str) -> Capture:
        """`capture`, or UsageError when a recorded time or the delay puts a write too late."""
        last = self.schedule(capture)[-1] if capture.segments else 0.0
        if last > MAX_WAIT:
            raise UsageError(
                f"{name}: replaying it would wait {last:g} s (a `: t=` annotation or "
                f"--delay too large; at most {MAX_WAIT:g} s)"
            )
        return capture

    def schedule(self, capture: Capture) -> list[float]:
        """The write time of each segment of `capture`, non-decreasing."""
        offsets: list[float] = []
        at = 0.0
        seen_event = False
        recorded = self.delay is None and capture.timed
        for segment in capture.segments:
            if self.no_delay:
                pass
            elif recorded:
                if segment.time is not None:
                    at = max(at, segment.time / self.speed)
            elif segment.is_event and seen_event:
                at += (self.delay or 0.0) / self.speed
            seen_event = seen_event or segment.is_event
            offsets.append(at)
        return offsets


def replay_to_stream(
    captures: Iterable[Capture],
    out: IO[bytes],
    timing: Timing,
    *,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> None:
    """Write each capture in turn to `out`, timed, flushing after every segment."""
    for capture in captures:
        start = clock()
        for segment, at in zip(capture.segments, timing.schedule(capture), strict=True):
            wait = start + at - clock()
            if wait > 0:
                sleep(wait)
            out.write(segment.data)
            out.flush()


def ids_after(capture: Capture) -> list[str]:
    """The last event id after each segment (what a client would send to resume)."""
    from ssechat.sse import Decoder  # only the server resumes: start-up of `replay FILE`

    decoder = Decoder()
    ids = []
    for segment in capture.segments:
        decoder.feed(segment.data)
        ids.append(decoder.last_event_id)
    return ids


def resume_point(capture: Capture, ids: Sequence[str], last_event_id: str) -> int:
    """The index of the segment to start from for a request with `Last-Event-ID`.

    0 (the whole capture) when the header is empty or no event carries that id;
    otherwise the segment after the last event that set it.
    """
    if not last_event_id:
        return 0
    for index in range(len(ids) - 1, -1, -1):
        if capture.segments[index].is_event and ids[index] == last_event_id:
            before = ids[index - 1] if index else ""
            if before != last_event_id:  # this event set the id (not merely kept it)
                return index + 1
    return 0
