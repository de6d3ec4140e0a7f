"""Minimal loop on the openai SDK's SSEDecoder (openai._streaming.SSEDecoder.iter_bytes).

Usage: python minimal_openai.py INPUT OUTPUT openai|anthropic|tools [--orjson]
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import BinaryIO

from _minimal import chunks, main
from openai._streaming import SSEDecoder


def events(source: BinaryIO) -> Iterator[str]:
    for sse in SSEDecoder().iter_bytes(chunks(source)):
        yield sse.data


if __name__ == "__main__":
    main(events)
