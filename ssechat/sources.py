"""Input sources: files and stdin read as byte chunks, as soon as bytes arrive.

Reads use `read1`, which returns whatever is available instead of waiting
for a full buffer, so an event from a slow producer on a pipe is decoded the
moment it arrives.
"""

from __future__ import annotations

import os
import stat
import sys
from collections.abc import Iterator
from typing import IO, Final

CHUNK_SIZE: Final = 64 * 1024
STDIN_NAME: Final = "-"


class Source:
    """One input stream: a file, or stdin (`-`)."""

    __slots__ = ("name", "stream")

    def __init__(self, name: str, stream: IO[bytes]) -> None:
        self.name = name
        self.stream = stream

    @property
    def display_name(self) -> str:
        return "<stdin>" if self.name == STDIN_NAME else self.name

    @property
    def is_regular_file(self) -> bool:
        try:
            return stat.S_ISREG(os.fstat(self.stream.fileno()).st_mode)
        except (OSError, ValueError, AttributeError):
            return False

    def chunks(self, size: int = CHUNK_SIZE) -> Iterator[bytes]:
        read = getattr(self.stream, "read1", self.stream.read)
        while True:
            chunk = read(size)
            if not chunk:
                return
            yield chunk


def open_sources(
    names: tuple[str, ...] | list[str], *, stdin: IO[bytes] | None = None
) -> Iterator[Source]:
    """Open each name in turn (`stdin`, else the process's, for `-` or when there are none)."""
    for name in names or [STDIN_NAME]:
        if name == STDIN_NAME:
            yield Source(name, sys.stdin.buffer if stdin is None else stdin)
            continue
        with open(name, "rb") as stream:
            yield Source(name, stream)


def all_regular_files(
    names: tuple[str, ...] | list[str], *, stdin: IO[bytes] | None = None
) -> bool:
    """True when every input is a regular file (so `--flush auto` may buffer)."""
    for name in names or [STDIN_NAME]:
        try:
            if name == STDIN_NAME:
                mode = os.fstat((sys.stdin if stdin is None else stdin).fileno()).st_mode
            else:
                mode = os.stat(name).st_mode
        except (OSError, ValueError):
            return False
        if not stat.S_ISREG(mode):
            return False
    return True
