"""Benchmark: how soon an event from a slow producer reaches ssechat's stdout.

`ssechat parse-sse --events --flush auto` reads a pipe and writes to a pipe,
with PYTHONUNBUFFERED removed from its environment (a missing flush would
otherwise hide). This process is both ends: it writes one event into
ssechat's stdin, takes the time, reads ssechat's stdout until the event's
JSON line is complete, and takes the time again; then it waits (--gap) so
each event arrives alone, as from a model. Target: median under 1 ms.

Usage: python bench/run_latency.py [--events 200] [--gap 0.005]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import time

import _bench

EVENT = (
    b'data: {"id":"chatcmpl-1","object":"chat.completion.chunk","choices":'
    b'[{"index":0,"delta":{"content":" word"},"finish_reason":null}]}\n\n'
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=200)
    parser.add_argument("--gap", type=float, default=0.005, help="seconds between events")
    args = parser.parse_args()
    env = {k: v for k, v in os.environ.items() if k != "PYTHONUNBUFFERED"}
    command = [*_bench.ssechat_command(), "parse-sse", "--events", "--flush", "auto"]
    proc = subprocess.Popen(
        command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env, bufsize=0
    )
    assert proc.stdin is not None and proc.stdout is not None
    out = proc.stdout.fileno()
    latencies: list[float] = []
    try:
        for _ in range(args.events + 5):  # the first 5 warm up, and are not counted
            os.write(proc.stdin.fileno(), EVENT)
            sent = time.perf_counter()
            line = b""
            while not line.endswith(b"\n"):
                part = os.read(out, 65536)
                if not part:
                    raise SystemExit("ssechat closed its stdout early")
                line += part
            latencies.append(time.perf_counter() - sent)
            time.sleep(args.gap)
    finally:
        proc.stdin.close()
        proc.wait()
    latencies = latencies[5:]
    ms = sorted(x * 1000 for x in latencies)
    p95 = ms[int(0.95 * (len(ms) - 1))]
    print(_bench.machine())
    print()
    print(
        _bench.table(
            ["events", "median ms", "p95 ms", "max ms"],
            [[len(ms), f"{statistics.median(ms):.3f}", f"{p95:.3f}", f"{ms[-1]:.3f}"]],
        )
    )
    path = _bench.save("latency", {"machine": _bench.machine(), "latencies_s": latencies})
    print(f"\nraw figures: {path}")


if __name__ == "__main__":
    main()
