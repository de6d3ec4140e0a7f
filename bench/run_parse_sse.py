"""Benchmark: normalized `ssechat parse-sse` against the minimal loop a user would write.

ssechat does its FULL job: every event normalized and written as a JSON line
(default output, to /dev/null). Each peer does only the minimal loop issue 3
names, which is much less: decode the SSE, parse each payload as JSON,
concatenate the answer text (for tools-200k: join each call's argument
fragments and parse them once). Peers:

- httpx-sse + json.loads, httpx-sse + orjson.loads (the same loop with the
  faster parser, for orientation), the openai SDK's SSEDecoder + json.loads
  (bench/peers/minimal_*.py, loops in bench/peers/_minimal.py);
- a shell pipeline, `grep '^data: {' | cut -c7- | jq -j FILTER` (SHELL below:
  the exact commands);
- the JS reference, eventsource-parser + JSON.parse on node
  (bench/node/minimal.mjs; `npm ci --prefix bench/node` first).

ssechat and the shell pipeline are timed from outside, start-up included;
the Python and node peers report their job's own time (imports and start-up
excluded). Both choices favour the peers; for a like-for-like figure, each
table also gives ssechat's time less its start-up (`parse-sse tiny.sse`, a
3-event capture, timed in the same rounds). Contenders run interleaved, round
after round, and the best of --repeat counts, by wall time and by CPU time
(user + system) separately. Peak RSS is the worst over the rounds.

Before timing, --check (on by default) runs every contender once on each
capture under 100 MB and compares its answer (text; tool-call arguments)
with the one in ssechat's normalized output.

Usage:
    python bench/gen_captures.py
    npm ci --prefix bench/node
    python bench/run_parse_sse.py [--repeat 3] [--captures NAME ...] [--only NAME ...]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import _bench
import gen_captures

DEFAULT_CAPTURES = ["openai-1m.sse", "openai-200k.sse", "anthropic-200k.sse", "tools-200k.sse"]
CHECK_LIMIT = 100_000_000
NODE = _bench.BENCH / "node"

# The shell pipeline per shape. `^data: {` keeps JSON payloads only (`[DONE]`
# would stop jq); `cut -c7-` drops "data: "; jq prints the text raw with no
# newline (-j), which is the concatenation. LC_ALL=C speeds grep up. For
# tools, jq joins each call's fragments and parses them (`fromjson`).
JQ_FILTER = {
    "openai": "jq -j '.choices[0].delta.content // empty'",
    "anthropic": "jq -j 'select(.type == \"content_block_delta\") | .delta.text // empty'",
    "tools": (
        "jq -cn 'reduce (inputs | .choices[0].delta.tool_calls[]?) as $f ({}; "
        '.[$f.index | tostring] += ($f.function.arguments // "")) | map_values(fromjson)\''
    ),
}


def shell_command(capture: Path, shape: str) -> str:
    return f"LC_ALL=C grep '^data: {{' {capture} | cut -c7- | {JQ_FILTER[shape]}"


def shape_of(capture: Path) -> str:
    return capture.name.split("-", 1)[0]


@dataclass
class Contender:
    name: str
    job: Callable[[Path, Path | str], tuple[float, float, int, int]]
    answer: Callable[[Path, str], dict[str, Any]]  # its output file -> {"text", "tool_calls"}
    seconds: list[float] = field(default_factory=list)
    cpu: list[float] = field(default_factory=list)
    max_rss_kb: int = 0


def _ssechat(capture: Path, output: Path | str) -> tuple[float, float, int, int]:
    command = [*_bench.ssechat_command(), "parse-sse", str(capture)]
    run = _bench.run(command, stdout_path=output)
    if run.returncode != 0:
        sys.exit(f"ssechat failed ({run.returncode}): {run.stderr.strip()}")
    return run.seconds, run.cpu_seconds, run.max_rss_kb, -1


def _ssechat_answer(output: Path, shape: str) -> dict[str, Any]:
    """The answer in ssechat's normalized lines: delta texts joined, tool calls' arguments."""
    text: list[str] = []
    calls: list[list[Any]] = []
    with open(output, "rb") as lines:
        for line in lines:
            event = json.loads(line)
            if event["type"] == "delta" and not event.get("index"):
                text.append(event["text"])
            elif event["type"] == "tool_call":
                calls.append([event["index"], event["arguments"]])
    return {"text": "".join(text), "tool_calls": calls}


def _python_peer(script: str, *extra: str) -> Callable[..., tuple[float, float, int, int]]:
    def job(capture: Path, output: Path | str) -> tuple[float, float, int, int]:
        command = [_bench.PYTHON, str(_bench.PEERS / script), str(capture), str(output)]
        run = _bench.run([*command, shape_of(capture), *extra])
        if run.returncode != 0:
            sys.exit(f"{script} failed ({run.returncode}): {run.stderr.strip()}")
        report = json.loads(run.stderr.strip().splitlines()[-1])
        return report["seconds"], report["cpu"], run.max_rss_kb, report["events"]

    return job


def _node(capture: Path, output: Path | str) -> tuple[float, float, int, int]:
    command = ["node", str(NODE / "minimal.mjs"), str(capture), str(output), shape_of(capture)]
    run = _bench.run(command)
    if run.returncode != 0:
        sys.exit(f"node peer failed ({run.returncode}): {run.stderr.strip()}")
    report = json.loads(run.stderr.strip().splitlines()[-1])
    return report["seconds"], report["cpu"], run.max_rss_kb, report["events"]


def _shell(capture: Path, output: Path | str) -> tuple[float, float, int, int]:
    run = _bench.run(["bash", "-c", shell_command(capture, shape_of(capture))], stdout_path=output)
    if run.returncode != 0:
        sys.exit(f"shell pipeline failed ({run.returncode}): {run.stderr.strip()}")
    return run.seconds, run.cpu_seconds, run.max_rss_kb, -1


def _json_answer(output: Path, shape: str) -> dict[str, Any]:
    answer: dict[str, Any] = json.loads(output.read_bytes())
    return answer


def _shell_answer(output: Path, shape: str) -> dict[str, Any]:
    if shape == "tools":
        calls = json.loads(output.read_bytes())
        return {"text": "", "tool_calls": [[int(k), v] for k, v in calls.items()]}
    return {"text": output.read_text(encoding="utf-8"), "tool_calls": []}


def contenders(only: list[str] | None) -> list[Contender]:
    every = [
        Contender("ssechat parse-sse (full job)", _ssechat, _ssechat_answer),
        Contender("httpx-sse + json", _python_peer("minimal_httpx_sse.py"), _json_answer),
        Contender(
            "httpx-sse + orjson", _python_peer("minimal_httpx_sse.py", "--orjson"), _json_answer
        ),
        Contender("openai SSEDecoder + json", _python_peer("minimal_openai.py"), _json_answer),
        Contender("grep | cut | jq", _shell, _shell_answer),
        Contender("node eventsource-parser + JSON.parse", _node, _json_answer),
    ]
    if not (NODE / "node_modules" / "eventsource-parser").exists() or not shutil.which("node"):
        print("node peer skipped: run `npm ci --prefix bench/node`", file=sys.stderr)
        every = [c for c in every if not c.name.startswith("node")]
    if only:
        every = [c for c in every if c is every[0] or any(o in c.name for o in only)]
    return every


def check(capture: Path, runners: list[Contender]) -> None:
    """Every peer's answer equals the one in ssechat's normalized output."""
    _bench.OUT.mkdir(exist_ok=True)
    shape = shape_of(capture)
    reference = _bench.OUT / "check-parse-sse.jsonl"
    runners[0].job(capture, reference)
    want = _ssechat_answer(reference, shape)
    reference.unlink()
    for contender in runners[1:]:
        path = _bench.OUT / "check-peer.out"
        contender.job(capture, path)
        got = contender.answer(path, shape)
        path.unlink()
        status = "same answer" if got == want else "DIFFERENT ANSWER"
        print(f"  check {capture.name}: {contender.name}: {status}", file=sys.stderr)
        if got != want:
            sys.exit(f"{contender.name} does not give ssechat's answer on {capture.name}")


def measure(capture: Path, runners: list[Contender], repeat: int, startup: Contender) -> None:
    """Every contender --repeat times, interleaved; `startup` is ssechat on tiny.sse."""
    for contender in [*runners, startup]:
        contender.seconds, contender.cpu, contender.max_rss_kb = [], [], 0
    tiny = gen_captures.ensure("tiny.sse")[0]
    for round_ in range(repeat):  # interleaved, so a busy moment hurts everyone alike
        seconds, cpu, _, _ = startup.job(tiny, os.devnull)
        startup.seconds.append(seconds)
        startup.cpu.append(cpu)
        for contender in runners:
            output = _bench.OUT / "bench-peer.out" if contender.name != runners[0].name else None
            seconds, cpu, rss, _ = contender.job(capture, output or os.devnull)
            contender.seconds.append(seconds)
            contender.cpu.append(cpu)
            contender.max_rss_kb = max(contender.max_rss_kb, rss)
            print(
                f"  {capture.name} round {round_ + 1}: {contender.name}: "
                f"{seconds:.2f} s wall, {cpu:.2f} s CPU",
                file=sys.stderr,
            )


def events_in(capture: Path) -> int:
    """Events in a generated capture: each ends with one blank line, LF only."""
    with open(capture, "rb") as stream:
        return sum(chunk.count(b"\n\n") for chunk in iter(lambda: stream.read(1 << 24), b""))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--captures", nargs="+", default=DEFAULT_CAPTURES)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--only", nargs="*", help="peers whose name contains one of these")
    parser.add_argument("--no-check", action="store_true")
    args = parser.parse_args()

    runners = contenders(args.only)
    captures = gen_captures.ensure(*args.captures)
    _bench.OUT.mkdir(exist_ok=True)
    if not args.no_check:
        for capture in captures:
            if capture.stat().st_size < CHECK_LIMIT:
                check(capture, runners)
    payload: dict[str, Any] = {"machine": _bench.machine(), "captures": {}}
    payload["machine"]["loadavg_at_start"] = os.getloadavg()
    print(json.dumps(payload["machine"]))
    for capture in captures:
        size, events = capture.stat().st_size, events_in(capture)
        startup = Contender("ssechat parse-sse tiny.sse (start-up)", _ssechat, _ssechat_answer)
        measure(capture, runners, args.repeat, startup)
        ours = runners[0]
        rows = []
        # ssechat's job alone, as the Python and node peers report theirs:
        # its best time less its best start-up (tiny.sse, 3 events) in this run.
        job_wall = min(ours.seconds) - min(startup.seconds)
        job_cpu = min(ours.cpu) - min(startup.cpu)
        rows.append(
            [
                "ssechat, start-up subtracted",
                f"{job_wall:.2f}",
                f"{job_cpu:.2f}",
                f"{size / job_wall / 1e6:.0f}",
                f"{size / job_cpu / 1e6:.0f}",
                f"{events / job_cpu:,.0f}",
                "",
                "",
                "",
            ]
        )
        for contender in runners:
            wall, cpu = min(contender.seconds), min(contender.cpu)
            rows.append(
                [
                    contender.name,
                    f"{wall:.2f}",
                    f"{cpu:.2f}",
                    f"{size / wall / 1e6:.0f}",
                    f"{size / cpu / 1e6:.0f}",
                    f"{events / cpu:,.0f}",
                    f"{contender.max_rss_kb / 1024:.1f}",
                    "—" if contender is ours else f"{wall / min(ours.seconds):.2f}x",
                    "—" if contender is ours else f"{cpu / min(ours.cpu):.2f}x",
                ]
            )
        rows.insert(0, rows.pop(1))  # ssechat first, then its job alone
        rows.append(
            [
                startup.name,
                f"{min(startup.seconds):.2f}",
                f"{min(startup.cpu):.2f}",
                "",
                "",
                "",
                "",
                "",
                "",
            ]
        )
        print(f"\n### {capture.name}: {events:,} events, {size / 1e6:.1f} MB\n")
        headers = [
            "contender",
            "best wall s",
            "best CPU s",
            "MB/s (wall)",
            "MB/s (CPU)",
            "events/s (CPU)",
            "peak RSS MB",
            "ssechat speed-up (wall)",
            "ssechat speed-up (CPU)",
        ]
        print(_bench.table(headers, rows))
        payload["captures"][capture.name] = {
            "bytes": size,
            "events": events,
            "results": [
                {"name": c.name, "seconds": c.seconds, "cpu": c.cpu, "max_rss_kb": c.max_rss_kb}
                for c in [*runners, startup]
            ],
        }
    leftover = _bench.OUT / "bench-peer.out"
    if leftover.exists():
        leftover.unlink()
    print(f"\nraw figures: {_bench.save('parse-sse', payload)}")


if __name__ == "__main__":
    main()
