"""Benchmark: one ssechat against another, same captures, same run (a regression check).

The issues' "no speed regression" targets compare a change with the code
before it. Figures from another day on a shared VM are not comparable, so
this runner times two installed ssechat console scripts (for example the
base commit and the head, each installed into its own venv) on the same
captures, interleaved round after round, and reports the ratio of their best
times, by wall time and by CPU time (user + system) separately.

Jobs: normalized `parse-sse` and `parse-sse --events`, output to /dev/null,
plus start-up (`parse-sse` of a three-event capture), and `send` (openai,
to a loopback `replay --serve --no-delay` of the capture, one server per
capture shared by both sides; with --no-send, not). Before timing, each
pair's outputs are checked to be the same bytes; where they differ on
purpose (a change of the contract), --allow-different says so in the table.

Usage:
    python bench/gen_captures.py --only openai-200k.sse anthropic-200k.sse tools-200k.sse tiny.sse
    python bench/run_regression.py --base BASE/ssechat --head HEAD/ssechat [--repeat 5]
"""

from __future__ import annotations

import argparse
import filecmp
import os
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import _bench
import gen_captures
import run_send

CAPTURES = ["openai-200k.sse", "anthropic-200k.sse", "tools-200k.sse"]
JOBS = {"parse-sse": ["parse-sse"], "parse-sse --events": ["parse-sse", "--events"]}


Command = Callable[[str], list[str]]  # the console script -> the command line to time


def _parse_sse(args: list[str], capture: Path) -> Command:
    return lambda script: [script, *args, str(capture)]


@contextmanager
def _send(capture: Path) -> Iterator[Command]:
    server, url = run_send.start_server(capture)
    try:
        yield lambda script: [
            script,
            "send",
            "--provider",
            "openai",
            "--base-url",
            f"{url}/v1",
            "hi",
        ]
    finally:
        server.terminate()
        server.wait(10)


def _same_output(command: Command, base: str, head: str) -> bool:
    with tempfile.TemporaryDirectory() as tmp:
        outputs = [Path(tmp, "base"), Path(tmp, "head")]
        for script, out in zip((base, head), outputs, strict=True):
            _bench.run(command(script), stdout_path=out, env=run_send.env())
        return filecmp.cmp(*outputs, shallow=False)


def _once(command: list[str]) -> tuple[float, float]:
    run = _bench.run(command, env=run_send.env())
    if run.returncode not in (0, 3):
        raise SystemExit(f"{' '.join(command)}: {run.stderr}")
    return run.seconds, run.cpu_seconds


def _row(
    job: str, capture: Path, command: Command, base: str, head: str, repeat: int
) -> list[object]:
    same = _same_output(command, base, head)
    best: dict[str, tuple[float, float]] = {"base": (1e9, 1e9), "head": (1e9, 1e9)}
    for _ in range(repeat):  # interleaved: both see the same load
        for side, script in (("base", base), ("head", head)):
            wall, cpu = _once(command(script))
            best[side] = (min(best[side][0], wall), min(best[side][1], cpu))
    (bw, bc), (hw, hc) = best["base"], best["head"]
    return [
        job,
        capture.name,
        f"{bw:.3f}",
        f"{hw:.3f}",
        f"{hw / bw:.2f}x",
        f"{bc:.3f}",
        f"{hc:.3f}",
        f"{hc / bc:.2f}x",
        "yes" if same else "no",
    ]


def measure(base: str, head: str, repeat: int, *, send: bool = True) -> list[list[object]]:
    rows: list[list[object]] = []
    for name in CAPTURES:
        capture = gen_captures.write(name)
        for job, args in JOBS.items():
            rows.append(_row(job, capture, _parse_sse(args, capture), base, head, repeat))
        if send:
            with _send(capture) as command:
                rows.append(_row("send", capture, command, base, head, repeat))
    tiny = gen_captures.write("tiny.sse")
    rows.append(_row("start-up", tiny, _parse_sse(["parse-sse"], tiny), base, head, repeat))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base", required=True, help="the ssechat console script before")
    parser.add_argument("--head", required=True, help="the ssechat console script after")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--no-send", action="store_true", help="time parse-sse only")
    opts = parser.parse_args()
    rows = measure(opts.base, opts.head, opts.repeat, send=not opts.no_send)
    headers = [
        "job",
        "capture",
        "base wall s",
        "head wall s",
        "head/base wall",
        "base CPU s",
        "head CPU s",
        "head/base CPU",
        "same output",
    ]
    print(f"{_bench.machine()} · load {os.getloadavg()[0]:.2f} at the end")
    print(_bench.table(headers, rows))
    _bench.save("regression", {"machine": _bench.machine(), "headers": headers, "rows": rows})


if __name__ == "__main__":
    main()
