"""Baseline, not a decoder: the whole file decoded and split on blank lines.

Wrong for real SSE (no CR handling, no fields, no comments); it shows what
plain Python string splitting costs, the floor for any pure-Python decoder.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import BinaryIO

from _peer import line, main


def job(source: BinaryIO, write: Callable[[bytes], object] | None) -> int:
    blocks = source.read().decode("utf-8", "replace").split("\n\n")
    if blocks and not blocks[-1]:
        blocks.pop()
    if write is not None:
        for block in blocks:
            write(line("message", block[6:], ""))
    return len(blocks)


if __name__ == "__main__":
    main(job)
