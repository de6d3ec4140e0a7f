"""Peer: httpx-sse's SSELineDecoder + SSEDecoder over the file's bytes.

This is what `httpx_sse.EventSource.iter_sse()` does with a response body:
incremental UTF-8 decoding (as httpx's iter_text), lines, then events.
"""

from __future__ import annotations

import codecs
from collections.abc import Callable
from typing import BinaryIO

from _peer import chunks, line, main
from httpx_sse._decoders import SSEDecoder, SSELineDecoder


def job(source: BinaryIO, write: Callable[[bytes], object] | None) -> int:
    text = codecs.getincrementaldecoder("utf-8")("replace")
    lines = SSELineDecoder()
    decoder = SSEDecoder()
    count = 0
    for chunk in chunks(source):
        for raw in lines.decode(text.decode(chunk)):
            sse = decoder.decode(raw.rstrip("\n"))
            if sse is not None:
                count += 1
                if write is not None:
                    write(line(sse.event, sse.data, sse.id))
    for raw in lines.flush():
        sse = decoder.decode(raw)
        if sse is not None:
            count += 1
            if write is not None:
                write(line(sse.event, sse.data, sse.id))
    return count


if __name__ == "__main__":
    main(job)
