"""The public Python API behind `ssechat/__init__.py` (docs/design.md, "The Python library").

Thin functions over the same core the commands run: `parse` drives the
`parse-sse` Pipeline and ends with its verdict (`ssechat.verdict`),
`summarize` its `--summary` sink, `events` the decoder of `--events`, and
`repair_json` the stages of `repair-json`. Input is taken incrementally, so
memory stays bounded by the largest event, never by the stream.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Iterable, Iterator
from typing import Any, Final, Protocol, Union, cast

import orjson

from ssechat.errors import InputError, UsageError
from ssechat.inputs import InputDecoder
from ssechat.normalized import NormalizedEvent, Sink
from ssechat.repair import Repair
from ssechat.sse import DEFAULT_MAX_EVENT_BYTES, Event, Item, Retry

CHUNK_SIZE: Final = 64 * 1024
_EOF_CHOICES: Final = ("dispatch", "discard")


class SsechatWarning(UserWarning):
    """What `parse-sse` says as a warning on stderr (e.g. no dialect recognises a stream)."""


class TruncatedJSONError(InputError):
    """`repair_json`: the document was cut off; it was closed, but may be incomplete.

    `result` holds the closed document (a `Repair` with `truncated=True`),
    as `repair-json` writes it before exiting 3.
    """

    def __init__(self, result: Repair) -> None:
        super().__init__(
            "the JSON document was cut off: it was closed, but may be incomplete "
            "(allow_truncated=True accepts it)"
        )
        self.result = result


class Readable(Protocol):
    """A binary file: anything with `read(size) -> bytes`."""

    def read(self, size: int = ..., /) -> bytes: ...


Source = Union[bytes, bytearray, memoryview, "os.PathLike[str]", Readable, Iterable[bytes]]
"""What the parsing functions read: bytes, a path, a binary file, or byte chunks."""


def parse(
    source: Source,
    dialect: str | None = None,
    *,
    allow_truncated: bool = False,
    max_event_bytes: int = DEFAULT_MAX_EVENT_BYTES,
    eof: str = "dispatch",
) -> Iterator[dict[str, Any]]:
    """Yield the normalized events (docs/design.md, "Normalized events") of a raw SSE stream.

    `source` is bytes, a `pathlib.Path`, a binary file, or an iterable of
    byte chunks (a live `requests`/`httpx` body: `r.iter_content(None)`,
    `r.iter_bytes()`). Events are yielded as each chunk completes them, and
    memory stays bounded by the largest event. The dialect is detected from
    the stream unless `dialect` names one (`openai-chat`, `anthropic`, ...).

    After the last event, the verdict of `ssechat parse-sse` on the same
    bytes: `InputError` (`exit_status` 3) when the stream reported an error,
    holds a tool call cut off or unrepairable, or ended before its end marker
    (`TruncatedStreamError`, after the `{"type": "error", "code":
    "truncated"}` event; `allow_truncated=True` accepts such a stream). An
    event larger than `max_event_bytes` raises `EventTooLargeError`. A
    stream no dialect recognises yields its plain events (as `events()`)
    after one `SsechatWarning`.
    """
    _check_options(dialect, eof)
    chunks = _chunks(source)
    return _parse(chunks, dialect, allow_truncated, max_event_bytes, eof == "dispatch")


def _parse(
    chunks: Iterator[bytes],
    dialect: str | None,
    allow_truncated: bool,
    max_event_bytes: int,
    dispatch_at_eof: bool,
) -> Iterator[dict[str, Any]]:
    from ssechat import verdict
    from ssechat.pipeline import Pipeline

    sink = _Collector()
    pipeline = Pipeline(
        sink,
        dialect=dialect,
        max_event_bytes=max_event_bytes,
        dispatch_at_eof=dispatch_at_eof,
        warn=_warn,
        name="the input",
    )
    for chunk in chunks:
        pipeline.feed(chunk)
        if sink.events:
            yield from sink.take()
    outcome = pipeline.close()
    yield from sink.take()
    verdict.check([outcome], allow_truncated=allow_truncated)


def summarize(
    source: Source,
    dialect: str | None = None,
    *,
    max_event_bytes: int = DEFAULT_MAX_EVENT_BYTES,
    eof: str = "dispatch",
) -> Iterator[dict[str, Any]]:
    """Yield one summary per response, exactly the rows of `ssechat parse-sse --summary`.

    Each row has dialect, model, id, events, answer_chars, reasoning_chars,
    tool_calls, finish_reason, usage, truncated, errors, http_status and the
    timing fields (null unless the input is a capture with timing). The
    rows carry the verdict (`truncated`, `errors`), so no InputError is
    raised for a cut or failed response; an event over `max_event_bytes`
    still raises `EventTooLargeError`.
    """
    _check_options(dialect, eof)
    chunks = _chunks(source)
    return _summarize(chunks, dialect, max_event_bytes, eof == "dispatch")


def _summarize(
    chunks: Iterator[bytes], dialect: str | None, max_event_bytes: int, dispatch_at_eof: bool
) -> Iterator[dict[str, Any]]:
    from ssechat.pipeline import Pipeline
    from ssechat.summary import Summary

    rows = _Rows()
    summary = Summary(rows, flush_each=False)  # type: ignore[arg-type]
    pipeline = Pipeline(
        summary,
        dialect=dialect,
        max_event_bytes=max_event_bytes,
        dispatch_at_eof=dispatch_at_eof,
        warn=_warn,
        name="the input",
    )
    for chunk in chunks:
        pipeline.feed(chunk)
        yield from rows.take()
    pipeline.close()
    summary.close()
    yield from rows.take()


def events(
    source: Source, *, max_event_bytes: int = DEFAULT_MAX_EVENT_BYTES, eof: str = "dispatch"
) -> Iterator[dict[str, Any]]:
    """Yield the plain SSE events of a stream, as `ssechat parse-sse --events` writes them.

    Each is `{"event": TYPE, "data": DATA, "id": LAST_EVENT_ID}` (`event`
    always present, `"message"` by default; `id` omitted while empty), or
    `{"retry": MILLISECONDS}` where a valid `retry` field was read. Decoding
    is the WHATWG algorithm, whatever the chunking of the input; at the end
    of input a pending event is dispatched (`eof="discard"` drops it, as the
    spec does). NDJSON lines and AWS event-stream messages come out as
    events too, as with the command. Input with no SSE field or comment line
    gives one `SsechatWarning`. `source` is read as by `parse`.
    """
    _check_options(None, eof)
    chunks = _chunks(source)
    return _events(chunks, max_event_bytes, eof == "dispatch")


def _events(
    chunks: Iterator[bytes], max_event_bytes: int, dispatch_at_eof: bool
) -> Iterator[dict[str, Any]]:
    decoder = InputDecoder(max_event_bytes=max_event_bytes, dispatch_at_eof=dispatch_at_eof)
    for chunk in chunks:
        yield from _plain(decoder.feed(chunk))
    yield from _plain(decoder.close())
    if not decoder.looks_like_sse:
        _warn("the input does not look like SSE (no field or comment lines)")


def repair_json(
    text: str | bytes, *, allow_truncated: bool = False, timeout: float | None = None
) -> Repair:
    """Repair broken JSON from a model, as `ssechat repair-json` does.

    Returns a `Repair`: `value` (the parsed value), `repaired` (the input was
    not valid JSON as given), `truncated` (it was cut off and closed) and
    `changes` (what was done, in words). A cut-off document raises
    `TruncatedJSONError` (exit status 3, its `result` holding the closed
    value) unless `allow_truncated=True`. Input with no JSON in it raises
    `RepairError` (exit status 3). `timeout` bounds the json_repair fallback
    in seconds (main thread only: it uses SIGALRM; None, the default, does
    not bound it).
    """
    from ssechat import repair

    if isinstance(text, (bytes, bytearray, memoryview)):
        result = repair.repair_bytes(bytes(text), timeout=timeout)
    elif isinstance(text, str):
        result = repair.repair_text(text, timeout=timeout)
    else:
        raise TypeError(f"repair_json() takes str or bytes, not {type(text).__name__}")
    if result.truncated and not allow_truncated:
        raise TruncatedJSONError(result)
    return result


# -- helpers -------------------------------------------------------------------


class _Collector(Sink):
    """A pipeline sink that keeps the events until `take()`."""

    def __init__(self) -> None:
        self.events: list[NormalizedEvent] = []

    def write(self, events: list[NormalizedEvent]) -> None:
        self.events += events

    def raw(self, lines: list[bytes]) -> None:
        # The `--events` lines of a stream no dialect recognises, as dicts.
        self.events += [orjson.loads(line) for line in b"".join(lines).split(b"\n") if line]

    def close(self) -> None:
        pass

    def take(self) -> list[dict[str, Any]]:
        events, self.events = self.events, []
        return cast("list[dict[str, Any]]", events)  # the dialects' dicts, handed on


class _Rows:
    """The binary stream a `Summary` writes its lines to, kept as dicts."""

    def __init__(self) -> None:
        self.rows: list[dict[str, Any]] = []

    def write(self, line: bytes) -> int:
        self.rows.append(orjson.loads(line))
        return len(line)

    def flush(self) -> None:
        pass

    def take(self) -> list[dict[str, Any]]:
        rows, self.rows = self.rows, []
        return rows


def _plain(items: list[Item]) -> Iterator[dict[str, Any]]:
    for item in items:
        if type(item) is Event:
            if item.id:
                yield {"event": item.event, "data": item.data, "id": item.id}
            else:
                yield {"event": item.event, "data": item.data}
        elif type(item) is Retry:
            yield {"retry": item.milliseconds}


def _warn(message: str) -> None:
    warnings.warn(message, SsechatWarning, stacklevel=4)


def _check_options(dialect: str | None, eof: str) -> None:
    if eof not in _EOF_CHOICES:
        raise UsageError(f"eof must be 'dispatch' or 'discard', not {eof!r}")
    if dialect is not None:
        from ssechat import dialects

        try:
            dialects.create(dialect)  # a built-in one, or one a dialect file registered
        except KeyError:
            names = ", ".join(dialects.NAMES)
            raise UsageError(f"unknown dialect {dialect!r}: one of {names}") from None


def _chunks(source: Source) -> Iterator[bytes]:
    """The source as byte chunks (checked now, read lazily)."""
    if isinstance(source, (bytes, bytearray, memoryview)):
        return _slices(memoryview(source).cast("B"))
    if isinstance(source, str):
        raise TypeError(
            "a str is neither bytes nor a path: pass text.encode() to parse it, "
            "or pathlib.Path(name) to read a file"
        )
    if isinstance(source, os.PathLike):
        return _file_chunks(os.fspath(source))
    if hasattr(source, "read"):
        return _reads(source)  # type: ignore[arg-type]
    if isinstance(source, Iterable):
        return _checked_chunks(source)
    raise TypeError(
        f"cannot read a {type(source).__name__}: pass bytes, a path, a binary file "
        "or an iterable of byte chunks"
    )


def _slices(view: memoryview) -> Iterator[bytes]:
    for start in range(0, len(view), CHUNK_SIZE):
        yield bytes(view[start : start + CHUNK_SIZE])


def _file_chunks(path: str | bytes) -> Iterator[bytes]:
    with open(path, "rb") as stream:
        yield from _reads(stream)


def _reads(stream: Readable) -> Iterator[bytes]:
    read = getattr(stream, "read1", stream.read)
    while True:
        chunk = read(CHUNK_SIZE)
        if not chunk:
            return
        if not isinstance(chunk, (bytes, bytearray)):
            raise TypeError("the file gives str, not bytes: open it in binary mode ('rb')")
        yield bytes(chunk)


def _checked_chunks(source: Iterable[bytes]) -> Iterator[bytes]:
    for chunk in source:
        if isinstance(chunk, bytes):
            yield chunk
        elif isinstance(chunk, (bytearray, memoryview)):
            yield bytes(chunk)
        else:
            raise TypeError(f"the chunks must be bytes, not {type(chunk).__name__}")
