"""Benchmark: start-up of `ssechat --version`, `parse-sse` in every mode, `replay` and `send`.

Each on a tiny input, against `python -c "import click"` (ssechat cannot
start faster than click imports), same interpreter, in the same run; `send`
(to a loopback `replay --serve` of tiny.sse) against `python -c "import
click, requests"`. Target (issue 15): within 1.1x.
The commands run interleaved (so a busy moment hurts each alike), --runs
times each, straight from this process (no shell); the table shows the
median and the best. The console script is called directly, not through a
version manager's shim (see _bench.ssechat_command). With --hyperfine (when
it is installed) the same commands also go through hyperfine, via sh. With
--instructions (when valgrind is installed) each command also runs once
under callgrind, which counts the instructions it executes: a figure that a
busy machine does not change (to about 0.3%), for comparing two versions
on a shared machine. It counts user-space work only (not system calls).

With --base SSECHAT (another install's console script, e.g. the code
before a change) its ssechat commands run too, interleaved, as "base: ..." rows.

Usage: python bench/run_startup.py [--runs 30] [--hyperfine] [--instructions] [--base SSECHAT]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shlex
import shutil
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

import _bench
import gen_captures
import run_send

# send's own yardstick: it cannot start before click and requests are imported.
CLICK_REQUESTS = 'python -c "import click, requests"'


def commands(tiny: Path, base: str | None, url: str) -> dict[str, tuple[list[str], Path | None]]:
    """Each command; with `base` (another ssechat's console script) each ssechat one again."""
    cases = _commands(tiny, _bench.ssechat_command(), url)
    if base is None:
        return cases
    others = _commands(tiny, [base], url)
    return {
        **cases,
        **{f"base: {name}": case for name, case in others.items() if name.startswith("ssechat")},
    }


def _commands(tiny: Path, ssechat: list[str], url: str) -> dict[str, tuple[list[str], Path | None]]:
    send = [*ssechat, "send", "--provider", "openai", "--base-url", f"{url}/v1", "hi"]
    return {
        'python -c "import click"': ([_bench.PYTHON, "-c", "import click"], None),
        CLICK_REQUESTS: ([_bench.PYTHON, "-c", "import click, requests"], None),
        "ssechat send (tiny.sse, loopback)": (send, None),
        "ssechat --version": ([*ssechat, "--version"], None),
        "ssechat parse-sse < tiny.sse": ([*ssechat, "parse-sse"], tiny),
        "ssechat parse-sse --events < tiny.sse": ([*ssechat, "parse-sse", "--events"], tiny),
        "ssechat parse-sse --text < tiny.sse": ([*ssechat, "parse-sse", "--text"], tiny),
        "ssechat parse-sse --summary < tiny.sse": ([*ssechat, "parse-sse", "--summary"], tiny),
        "ssechat replay --no-delay tiny.sse": ([*ssechat, "replay", "--no-delay", str(tiny)], None),
    }


def time_once(command: list[str], stdin_path: Path | None) -> tuple[float, float]:
    """(wall seconds, CPU seconds: user + system) of one run.

    CPU time is the steadier figure on a shared machine: waiting for a core
    adds to wall time, not to CPU time.
    """
    with open(stdin_path or os.devnull, "rb") as stdin:
        started = time.perf_counter()
        proc = subprocess.Popen(command, stdin=stdin, stdout=subprocess.DEVNULL)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - started
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{command} failed")
    return wall, usage.ru_utime + usage.ru_stime


def instructions(command: list[str], stdin_path: Path | None) -> int:
    """The instructions one run executes, counted by valgrind's callgrind."""
    with open(stdin_path or os.devnull, "rb") as stdin:
        proc = subprocess.run(
            ["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null", *command],
            stdin=stdin,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            check=True,
        )
    found = re.search(r"Collected : (\d+)", proc.stderr)
    if found is None:
        raise SystemExit(f"no instruction count from valgrind for {command}")
    return int(found.group(1))


def hyperfine(cases: dict[str, tuple[list[str], Path | None]], runs: int) -> str:
    lines = []
    for command, stdin in cases.values():
        text = shlex.join(command) + (f" < {shlex.quote(str(stdin))}" if stdin else "")
        lines.append(text)
    with tempfile.NamedTemporaryFile(suffix=".md") as report:
        subprocess.run(
            [
                "hyperfine",
                "--warmup",
                "3",
                "--runs",
                str(runs),
                "--export-markdown",
                report.name,
                *lines,
            ],
            check=True,
            stdout=subprocess.DEVNULL,
        )
        return Path(report.name).read_text()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--hyperfine", action="store_true")
    parser.add_argument("--instructions", action="store_true")
    parser.add_argument(
        "--base", metavar="SSECHAT", help="also time this ssechat (e.g. another version's)"
    )
    args = parser.parse_args()
    (tiny,) = gen_captures.ensure("tiny.sse")
    server, url = run_send.start_server(tiny)  # send's loopback provider
    try:
        _measure(args, tiny, url)
    finally:
        server.terminate()
        server.wait(10)


def _measure(args: argparse.Namespace, tiny: Path, url: str) -> None:
    cases = commands(tiny, args.base, url)
    wall: dict[str, list[float]] = {name: [] for name in cases}
    cpu: dict[str, list[float]] = {name: [] for name in cases}
    for command, stdin in cases.values():  # warm the page cache and .pyc files
        time_once(command, stdin)
    for _ in range(args.runs):
        for name, (command, stdin) in cases.items():
            seconds, cpu_seconds = time_once(command, stdin)
            wall[name].append(seconds)
            cpu[name].append(cpu_seconds)
    rows = []
    for name in cases:
        # send is held to `import click, requests`; every other command to `import click`
        yardstick = CLICK_REQUESTS if " send " in name else 'python -c "import click"'
        base = statistics.median(wall[yardstick])
        base_cpu = statistics.median(cpu[yardstick])
        median, median_cpu = statistics.median(wall[name]), statistics.median(cpu[name])
        rows.append(
            [
                f"`{name}`",
                f"{median * 1000:.1f}",
                f"{min(wall[name]) * 1000:.1f}",
                f"{median / base:.2f}x",
                f"{median_cpu * 1000:.1f}",
                f"{median_cpu / base_cpu:.2f}x",
            ]
        )
    print(json.dumps(_bench.machine()))
    print()
    # send's ratios are to `import click, requests`, the others' to `import click`
    headers = ["command", "median ms", "best ms", "÷ yardstick", "median CPU ms", "÷ (CPU)"]
    print(_bench.table(headers, rows))
    payload: dict[str, object] = {"machine": _bench.machine(), "wall": wall, "cpu": cpu}
    if args.instructions and shutil.which("valgrind"):
        counts = {name: instructions(*case) for name, case in cases.items()}
        base_count = counts['python -c "import click"']
        rows = [
            [f"`{name}`", f"{count / 1e6:.1f}", f"{count / base_count:.3f}x"]
            for name, count in counts.items()
        ]
        print("\n" + _bench.table(["command", "million instructions", "÷ click"], rows))
        payload["instructions"] = counts
    if args.hyperfine and shutil.which("hyperfine"):
        report = hyperfine(cases, args.runs)
        print("\nhyperfine:\n\n" + report)
        payload["hyperfine"] = report
    print(f"\nraw figures: {_bench.save('startup', payload)}")


if __name__ == "__main__":
    main()
