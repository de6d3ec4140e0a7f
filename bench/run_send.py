"""Benchmark: `ssechat send` throughput against `curl -sN URL | ssechat parse-sse` (issue 6).

Both read the same capture from `ssechat replay --serve 127.0.0.1:0 --no-delay`
(one server per capture, started here, stopped at the end) and write the
normalized JSON lines to /dev/null:

- `ssechat send --provider openai --base-url URL/v1 hi` (a fake key in
  OPENAI_API_KEY: the replay server does not check it);
- `curl -sN URL/v1/chat/completions -d '{}' | ssechat parse-sse` (bash -c;
  its CPU time is bash's, curl's and parse-sse's together);
- for orientation, `curl -sN ... -o /dev/null`: the server's own pace, the
  floor under both wall times. The server is a Python process on the same
  2 cores; its CPU time during each run is read from /proc and shown.

Contenders run interleaved, round after round; best of --repeat, by wall
time and by CPU time separately; peak RSS is the worst over the rounds.
Before timing, the two normalized outputs are compared on the first capture
under 100 MB (they must be byte for byte the same).

tiny.sse (3 events) shows the fixed cost: start-up, imports, connection.

Usage: python bench/run_send.py [--repeat 3] [--captures openai-1m.sse openai-200k.sse tiny.sse]
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import signal
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import _bench
import gen_captures

DEFAULT_CAPTURES = ["openai-1m.sse", "openai-200k.sse", "tiny.sse"]  # tiny: the fixed cost
CHECK_LIMIT = 100_000_000
FAKE_KEY = "sk-bench-not-a-real-key"
TICKS = os.sysconf("SC_CLK_TCK")


@dataclass
class Contender:
    name: str
    command: Callable[[str], list[str]]  # base URL -> argv
    seconds: list[float] = field(default_factory=list)
    cpu: list[float] = field(default_factory=list)
    server_cpu: list[float] = field(default_factory=list)
    max_rss_kb: int = 0


def send_command(url: str) -> list[str]:
    return [*_bench.ssechat_command(), "send", "--provider", "openai", "--base-url", f"{url}/v1"]


def curl(url: str) -> str:
    return f"curl -sN {shlex.quote(url + '/v1/chat/completions')} -d '{{}}'"


def pipeline_command(url: str) -> list[str]:
    parse = " ".join(shlex.quote(part) for part in _bench.ssechat_command())
    return ["bash", "-c", f"{curl(url)} | {parse} parse-sse"]


CONTENDERS = {
    "ssechat send": lambda url: [*send_command(url), "hi"],
    "curl -sN | ssechat parse-sse": pipeline_command,
    "curl -sN > /dev/null (the server's pace)": lambda url: ["bash", "-c", curl(url)],
}


def start_server(capture: Path) -> tuple[subprocess.Popen[bytes], str]:
    command = [*_bench.ssechat_command(), "replay", "--serve", "127.0.0.1:0", "--no-delay"]
    proc = subprocess.Popen(
        [*command, str(capture)], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL
    )
    assert proc.stdout is not None
    url = proc.stdout.readline().decode().strip()
    if not url.startswith("http://"):
        proc.kill()
        sys.exit(f"replay --serve did not start on {capture.name}")
    return proc, url


def cpu_of(pid: int) -> float:
    """User + system CPU seconds of a running process, from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def env() -> dict[str, str]:
    return {**os.environ, "OPENAI_API_KEY": FAKE_KEY}


def check(url: str) -> None:
    _bench.OUT.mkdir(exist_ok=True)
    outputs = []
    for name in ("ssechat send", "curl -sN | ssechat parse-sse"):
        path = _bench.OUT / f"check-{len(outputs)}.jsonl"
        run = _bench.run(CONTENDERS[name](url), stdout_path=path, env=env())
        if run.returncode != 0:
            sys.exit(f"{name} failed ({run.returncode}): {run.stderr.strip()}")
        outputs.append(path)
    same = outputs[0].read_bytes() == outputs[1].read_bytes()
    print(
        f"  check: send and the curl pipeline: {'same' if same else 'DIFFERENT'} output",
        file=sys.stderr,
    )
    if not same:
        sys.exit(f"send and the curl pipeline differ; see {outputs}")
    for path in outputs:
        path.unlink()


def measure(capture: Path, repeat: int) -> list[Contender]:
    server, url = start_server(capture)
    try:
        if capture.stat().st_size < CHECK_LIMIT:
            check(url)
        contenders = [Contender(name, command) for name, command in CONTENDERS.items()]
        for round_ in range(repeat):  # interleaved, so a busy moment hurts everyone alike
            for contender in contenders:
                before = cpu_of(server.pid)
                run = _bench.run(contender.command(url), env=env())
                if run.returncode != 0:
                    sys.exit(f"{contender.name} failed ({run.returncode}): {run.stderr.strip()}")
                contender.server_cpu.append(cpu_of(server.pid) - before)
                contender.seconds.append(run.seconds)
                contender.cpu.append(run.cpu_seconds)
                contender.max_rss_kb = max(contender.max_rss_kb, run.max_rss_kb)
                print(
                    f"  {capture.name} round {round_ + 1}: {contender.name}: "
                    f"{run.seconds:.2f} s wall, {run.cpu_seconds:.2f} s CPU, "
                    f"server {contender.server_cpu[-1]:.2f} s CPU",
                    file=sys.stderr,
                )
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(10)
    return contenders


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--captures", nargs="+", default=DEFAULT_CAPTURES)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    captures = gen_captures.ensure(*args.captures)
    payload: dict[str, Any] = {"machine": _bench.machine(), "captures": {}}
    payload["machine"]["loadavg_at_start"] = os.getloadavg()
    print(json.dumps(payload["machine"]))
    for capture in captures:
        size = capture.stat().st_size
        contenders = measure(capture, args.repeat)
        send, pipeline = contenders[0], contenders[1]
        rows = []
        for contender in contenders:
            wall, cpu = min(contender.seconds), min(contender.cpu)
            rows.append(
                [
                    contender.name,
                    f"{wall:.2f}",
                    f"{cpu:.2f}",
                    f"{size / wall / 1e6:.0f}",
                    f"{min(contender.server_cpu):.2f}",
                    f"{contender.max_rss_kb / 1024:.1f}",
                    f"{wall / min(pipeline.seconds):.2f}x",
                    f"{cpu / min(pipeline.cpu):.2f}x",
                ]
            )
        print(f"\n### {capture.name}: {size / 1e6:.1f} MB\n")
        headers = [
            "contender",
            "best wall s",
            "best CPU s",
            "MB/s (wall)",
            "server CPU s",
            "peak RSS MB",
            "÷ pipeline (wall)",
            "÷ pipeline (CPU)",
        ]
        print(_bench.table(headers, rows))
        print(
            f"\nsend ÷ pipeline: {min(send.seconds) / min(pipeline.seconds):.2f}x wall, "
            f"{min(send.cpu) / min(pipeline.cpu):.2f}x CPU "
            + ("(target: within 1.5x)" if size > 1e6 else "(the fixed cost alone)")
        )
        payload["captures"][capture.name] = {
            "bytes": size,
            "results": [
                {
                    "name": c.name,
                    "seconds": c.seconds,
                    "cpu": c.cpu,
                    "server_cpu": c.server_cpu,
                    "max_rss_kb": c.max_rss_kb,
                }
                for c in contenders
            ],
        }
    print(f"\nraw figures: {_bench.save('send', payload)}")


if __name__ == "__main__":
    main()
