"""What every peer script shares: arguments, the input chunks and the output line.

A peer does the same full job as `ssechat parse-sse --events`: decode every
event of INPUT and write it as the same JSON line to OUTPUT (`/dev/null` or a
file). The line is encoded with orjson, as ssechat encodes it, so the peers
are timed on their decoding, not handicapped by a slower encoder.
`--no-output` only decodes and counts (the issue's orientation figures).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable, Iterator
from typing import BinaryIO

import orjson

CHUNK_SIZE = 64 * 1024
_OPT = orjson.OPT_APPEND_NEWLINE


def line(event: str, data: str, id_: str) -> bytes:
    """The `--events` line: {"event", "data"} plus "id" when it is not empty."""
    if id_:
        return orjson.dumps({"event": event, "data": data, "id": id_}, option=_OPT)
    return orjson.dumps({"event": event, "data": data}, option=_OPT)


def chunks(stream: BinaryIO) -> Iterator[bytes]:
    """The file in reads of CHUNK_SIZE, as a network body would come."""
    read = stream.read
    while chunk := read(CHUNK_SIZE):
        yield chunk


def main(job: Callable[[BinaryIO, Callable[[bytes], object] | None], int]) -> None:
    """Run `job(input, write)` (write is None with --no-output).

    Prints {"events": N, "seconds": S, "cpu": C} on stderr, S (wall) and C
    (user + system CPU) being the job's alone: the
    runner uses it, so a peer's interpreter start-up and imports (over a
    second for the openai SDK) are not held against it.
    """
    parser = argparse.ArgumentParser()
    parser.add_argument("input")
    parser.add_argument("output", nargs="?", default="/dev/null")
    parser.add_argument("--no-output", action="store_true")
    args = parser.parse_args()
    started, started_cpu = time.perf_counter(), time.process_time()
    with open(args.input, "rb") as source, open(args.output, "wb") as out:
        count = job(source, None if args.no_output else out.write)
    seconds, cpu = time.perf_counter() - started, time.process_time() - started_cpu
    print(json.dumps({"events": count, "seconds": seconds, "cpu": cpu}), file=sys.stderr)
