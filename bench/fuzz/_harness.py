"""What the fuzz harnesses share: the allowed failures and the atheris entry point.

A harness passes an input when it returns, or raises one of the project's
own error classes (`SsechatError`: what the CLI turns into one stderr line
and a documented exit status). Any other exception is a crash: libFuzzer
saves the input and stops. Hangs are caught by libFuzzer's `-timeout`, and
memory by `-rss_limit_mb` (see README.md for the command lines).
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from itertools import pairwise

import atheris


def cut_points(data: bytes, count: int) -> list[int]:
    """Up to `count` cut offsets taken from the first bytes (chunking is fuzzed too)."""
    cuts = sorted({b for b in data[:count]})
    return [c for c in cuts if c]


def chunks(body: bytes, cuts: list[int]) -> list[bytes]:
    """`body` split at the offsets `cuts` (scaled to its length), never losing a byte."""
    if not body or not cuts:
        return [body]
    points = sorted({len(body) * c // 256 for c in cuts} | {0, len(body)})
    return [body[a:b] for a, b in pairwise(points) if b > a]


def main(test_one: Callable[[bytes], None]) -> None:
    atheris.Setup(sys.argv, test_one)
    atheris.Fuzz()
