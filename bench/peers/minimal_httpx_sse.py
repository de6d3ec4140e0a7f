"""Minimal loop on httpx-sse: its SSELineDecoder + SSEDecoder, then `_minimal`'s loop.

The decoding is what `httpx_sse.EventSource.iter_sse()` does with a response
body (incremental UTF-8 as httpx's iter_text, lines, events), fed from the
file so no HTTP is timed.

Usage: python minimal_httpx_sse.py INPUT OUTPUT openai|anthropic|tools [--orjson]
"""

from __future__ import annotations

import codecs
from collections.abc import Iterator
from typing import BinaryIO

from _minimal import chunks, main
from httpx_sse._decoders import SSEDecoder, SSELineDecoder


def events(source: BinaryIO) -> Iterator[str]:
    text = codecs.getincrementaldecoder("utf-8")("replace")
    lines = SSELineDecoder()
    decoder = SSEDecoder()
    for chunk in chunks(source):
        for raw in lines.decode(text.decode(chunk)):
            sse = decoder.decode(raw.rstrip("\n"))
            if sse is not None:
                yield sse.data
    for raw in lines.flush():
        sse = decoder.decode(raw)
        if sse is not None:
            yield sse.data


if __name__ == "__main__":
    main(events)
