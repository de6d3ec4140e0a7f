"""Benchmark: `ssechat parse-sse --events` against the Python SSE decoders.

Every contender does the same full job: decode every event of a capture and
write it as the `--events` JSON line (to /dev/null unless --output-dir).
ssechat is timed from outside, wall clock, start-up included; a peer reports
the time of its job alone (imports excluded: the openai SDK takes over a
second to import), so every ratio is the conservative one for ssechat.
Each contender runs --repeat times, and the best run counts (the machine is
shared; the best run is the one least disturbed). Rates are given by wall
time and by CPU time (user + system): on a busy machine waiting for a core
adds to wall time only, so the CPU figures are the steadier comparison. Peak memory is the
process's own max RSS (wait4), the worst over the repeats.

Before timing, --check (on by default) runs every contender once on each
capture under 100 MB and compares the outputs byte for byte: the peers must
be doing exactly ssechat's job.

Usage:
    python bench/gen_captures.py
    python bench/run_sse_events.py [--repeat 3] [--captures NAME ...] [--orientation]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path

import _bench
import gen_captures

DEFAULT_CAPTURES = ["openai-1m.sse", "openai-200k.sse", "anthropic-200k.sse", "tools-200k.sse"]
PEERS = {
    "httpx-sse": "httpx_sse_events.py",
    "sseclient-py": "sseclient_events.py",
    "openai SSEDecoder": "openai_events.py",
}
CHECK_LIMIT = 100_000_000


@dataclass
class Result:
    name: str
    seconds: list[float] = field(default_factory=list)
    cpu: list[float] = field(default_factory=list)
    max_rss_kb: int = 0
    events: int = 0

    @property
    def best(self) -> float:
        return min(self.seconds)

    @property
    def best_cpu(self) -> float:
        return min(self.cpu)


def ssechat_job(capture: Path, output: Path | str) -> tuple[float, float, int, int]:
    """(seconds, CPU seconds, max RSS KB, events) of one `ssechat parse-sse --events` run."""
    command = [*_bench.ssechat_command(), "parse-sse", "--events", str(capture)]
    run = _bench.run(command, stdout_path=output)
    if run.returncode != 0:
        sys.exit(f"ssechat failed ({run.returncode}): {run.stderr.strip()}")
    events = _count_lines(output) if output != os.devnull else -1
    return run.seconds, run.cpu_seconds, run.max_rss_kb, events


def peer_job(
    script: str, capture: Path, output: Path | str, *extra: str
) -> tuple[float, float, int, int]:
    """(seconds, CPU seconds, max RSS KB, events) of one peer run; times are the job's own."""
    command = [_bench.PYTHON, str(_bench.PEERS / script), str(capture), str(output), *extra]
    run = _bench.run(command)
    if run.returncode != 0:
        sys.exit(f"{script} failed ({run.returncode}): {run.stderr.strip()}")
    report = json.loads(run.stderr.strip().splitlines()[-1])
    return report["seconds"], report["cpu"], run.max_rss_kb, report["events"]


def _count_lines(path: Path | str) -> int:
    with open(path, "rb") as stream:
        return sum(chunk.count(b"\n") for chunk in iter(lambda: stream.read(1 << 20), b""))


def _digest(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as stream:
        for chunk in iter(lambda: stream.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def check(capture: Path) -> None:
    """Every peer's output equals ssechat's, byte for byte."""
    _bench.OUT.mkdir(exist_ok=True)
    reference = _bench.OUT / "check-ssechat.jsonl"
    ssechat_job(capture, reference)
    want = _digest(reference)
    for name, script in PEERS.items():
        got_path = _bench.OUT / f"check-{script}.jsonl"
        peer_job(script, capture, got_path)
        got = _digest(got_path)
        got_path.unlink()
        status = "same output" if got == want else "DIFFERENT OUTPUT"
        print(f"  check {capture.name}: {name}: {status}", file=sys.stderr)
        if got != want:
            sys.exit(f"{name} does not do ssechat's job on {capture.name}; see {reference}")
    reference.unlink()


def measure(capture: Path, repeat: int) -> list[Result]:
    events = _count_lines_events(capture)
    results = [Result("ssechat parse-sse --events", events=events)]
    results += [Result(name) for name in PEERS]
    for _ in range(repeat):  # interleaved, so a busy moment hurts everyone alike
        seconds, cpu, rss, _ = ssechat_job(capture, os.devnull)
        results[0].seconds.append(seconds)
        results[0].cpu.append(cpu)
        results[0].max_rss_kb = max(results[0].max_rss_kb, rss)
        for result, script in zip(results[1:], PEERS.values(), strict=True):
            seconds, cpu, rss, result.events = peer_job(script, capture, os.devnull)
            result.seconds.append(seconds)
            result.cpu.append(cpu)
            result.max_rss_kb = max(result.max_rss_kb, rss)
    return results


def _count_lines_events(capture: Path) -> int:
    """Events in a generated capture: each ends with one blank line, LF only."""
    with open(capture, "rb") as stream:
        return sum(chunk.count(b"\n\n") for chunk in iter(lambda: stream.read(1 << 24), b""))


def orientation(capture: Path) -> list[tuple[str, float]]:
    """Decode-and-count only (no output), the issue's orientation figures, in MB/s (wall)."""
    size = capture.stat().st_size
    figures = [("cat", size / _bench.run(["cat", str(capture)]).seconds)]  # wall time
    split = peer_job("split_baseline.py", capture, os.devnull, "--no-output")[0]
    figures.append(("plain Python split of the whole file", size / split))
    for name, script in PEERS.items():
        figures.append((name, size / peer_job(script, capture, os.devnull, "--no-output")[0]))
    return [(name, mb / 1e6) for name, mb in figures]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--captures", nargs="+", default=DEFAULT_CAPTURES)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--no-check", action="store_true")
    parser.add_argument("--orientation", action="store_true", help="also decode-and-count only")
    args = parser.parse_args()

    captures = gen_captures.ensure(*args.captures)
    if not args.no_check:
        for capture in captures:
            if capture.stat().st_size < CHECK_LIMIT:
                check(capture)
    payload: dict[str, object] = {"machine": _bench.machine(), "captures": {}}
    print(json.dumps(payload["machine"]))
    for capture in captures:
        size = capture.stat().st_size
        results = measure(capture, args.repeat)
        events = results[0].events
        ours, ours_cpu = events / results[0].best, events / results[0].best_cpu
        rows = []
        for result in results:
            rate, rate_cpu = events / result.best, events / result.best_cpu
            rows.append(
                [
                    result.name,
                    f"{rate:,.0f}",
                    f"{size / result.best / 1e6:.0f}",
                    f"{rate_cpu:,.0f}",
                    f"{size / result.best_cpu / 1e6:.0f}",
                    f"{result.max_rss_kb / 1024:.1f}",
                    "—" if result is results[0] else f"{ours / rate:.2f}x",
                    "—" if result is results[0] else f"{ours_cpu / rate_cpu:.2f}x",
                ]
            )
        print(f"\n### {capture.name}: {events:,} events, {size / 1e6:.1f} MB\n")
        headers = [
            "full job",
            "events/s (wall)",
            "MB/s (wall)",
            "events/s (CPU)",
            "MB/s (CPU)",
            "peak RSS MB",
            "ssechat ÷ this (wall)",
            "ssechat ÷ this (CPU)",
        ]
        print(_bench.table(headers, rows))
        payload["captures"][capture.name] = {  # type: ignore[index]
            "bytes": size,
            "events": events,
            "results": [vars(result) for result in results],
        }
        if args.orientation and capture == captures[0]:
            print("\nDecode and count only (no output), MB/s:")
            for name, mb in orientation(capture):
                print(f"- {name}: {mb:,.0f}")
    print(f"\nraw figures: {_bench.save('sse-events', payload)}")


if __name__ == "__main__":
    main()
