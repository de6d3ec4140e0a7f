"""Peer: sseclient-py's SSEClient over the file's bytes."""

from __future__ import annotations

from collections.abc import Callable
from typing import BinaryIO

from _peer import chunks, line, main
from sseclient import SSEClient


def job(source: BinaryIO, write: Callable[[bytes], object] | None) -> int:
    count = 0
    for sse in SSEClient(chunks(source)).events():
        count += 1
        if write is not None:
            write(line(sse.event, sse.data, sse.id or ""))
    return count


if __name__ == "__main__":
    main(job)
