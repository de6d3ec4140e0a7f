"""Peer: the openai SDK's SSEDecoder (openai._streaming.SSEDecoder.iter_bytes)."""

from __future__ import annotations

from collections.abc import Callable
from typing import BinaryIO

from _peer import chunks, line, main
from openai._streaming import SSEDecoder


def job(source: BinaryIO, write: Callable[[bytes], object] | None) -> int:
    count = 0
    for sse in SSEDecoder().iter_bytes(chunks(source)):
        count += 1
        if write is not None:
            write(line(sse.event or "message", sse.data, sse.id or ""))
    return count


if __name__ == "__main__":
    main(job)
