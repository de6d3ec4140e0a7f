"""The minimal loop a user would otherwise write: decode, parse each payload, concatenate.

What `ssechat parse-sse` replaces, written the short way for each capture's
shape (`openai`, `anthropic`, `tools`): parse every event's data as JSON
(the standard library's `json.loads`, or orjson with `--orjson`), keep the
answer text, and for tools join each call's argument fragments and parse
them once at the end. No normalized events, no checks, no output until the
end: much less than ssechat's full job, on purpose (issue 3's comparison).

A peer script supplies the decoder (`events(source)` yielding the data
strings); `main` runs it, writes {"text", "tool_calls"} to OUTPUT (the
runner compares it with ssechat's answer) and prints {"events", "seconds",
"cpu"} on stderr: the job's own time, imports excluded, as in `_peer`.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any, BinaryIO

import orjson

CHUNK_SIZE = 64 * 1024
Result = dict[str, Any]


def chunks(stream: BinaryIO) -> Iterator[bytes]:
    """The file in reads of CHUNK_SIZE, as a network body would come."""
    read = stream.read
    while chunk := read(CHUNK_SIZE):
        yield chunk


def openai(datas: Iterable[str], loads: Callable[[str], Any]) -> Result:
    text = []
    events = 0
    for events, data in enumerate(datas, 1):  # noqa: B007 (the count, read after the loop)
        if data == "[DONE]":
            continue
        choices = loads(data)["choices"]
        if choices:
            content = choices[0]["delta"].get("content")
            if content:
                text.append(content)
    return {"text": "".join(text), "tool_calls": [], "events": events}


def anthropic(datas: Iterable[str], loads: Callable[[str], Any]) -> Result:
    text = []
    events = 0
    for events, data in enumerate(datas, 1):  # noqa: B007 (the count, read after the loop)
        payload = loads(data)
        if payload["type"] == "content_block_delta" and payload["delta"]["type"] == "text_delta":
            text.append(payload["delta"]["text"])
    return {"text": "".join(text), "tool_calls": [], "events": events}


def tools(datas: Iterable[str], loads: Callable[[str], Any]) -> Result:
    text = []
    arguments: dict[int, list[str]] = {}
    events = 0
    for events, data in enumerate(datas, 1):  # noqa: B007 (the count, read after the loop)
        if data == "[DONE]":
            continue
        choices = loads(data)["choices"]
        if not choices:
            continue
        delta = choices[0]["delta"]
        if delta.get("content"):
            text.append(delta["content"])
        for call in delta.get("tool_calls") or ():
            arguments.setdefault(call["index"], []).append(call["function"].get("arguments") or "")
    calls = [[index, loads("".join(parts))] for index, parts in arguments.items()]
    return {"text": "".join(text), "tool_calls": calls, "events": events}


SHAPES = {"openai": openai, "anthropic": anthropic, "tools": tools}


def main(events: Callable[[BinaryIO], Iterable[str]]) -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("input")
    parser.add_argument("output")
    parser.add_argument("shape", choices=sorted(SHAPES))
    parser.add_argument("--orjson", action="store_true", help="orjson.loads, not json.loads")
    args = parser.parse_args()
    loads = orjson.loads if args.orjson else json.loads
    started, started_cpu = time.perf_counter(), time.process_time()
    with open(args.input, "rb") as source:
        result = SHAPES[args.shape](events(source), loads)
    count = result.pop("events")
    with open(args.output, "wb") as out:
        out.write(orjson.dumps(result))
    seconds, cpu = time.perf_counter() - started, time.process_time() - started_cpu
    report = {"events": count, "seconds": seconds, "cpu": cpu}
    print(json.dumps(report), file=sys.stderr)
