"""Benchmark: `ssechat repair-json` per call, against json_repair's own CLI.

In one run, interleaved (a busy moment hurts each alike), --runs times each:
`python -c "import click"` (the start-up reference), `ssechat repair-json`
on a tiny document (start-up; target within 1.1x of click), and both
`ssechat repair-json` and json_repair's console script on three 1 KB inputs
that look like model output: valid JSON, a document cut off by max_tokens,
and a malformed one (single quotes, True/None, trailing commas: json_repair's
own work in both). Target: ssechat at least as fast per call. Each input is
fed on stdin; before timing, the runner checks that both commands give the
same value. The table shows the median and best wall time and the median
CPU time (user + system: the steadier figure on a shared machine).

With --base PATH (another install's `ssechat` script, e.g. today's main
before a change) its `repair-json` runs on the same inputs in the same
rounds: before and after.

Usage: python bench/run_repair_cli.py [--runs 30] [--base /path/to/bin/ssechat]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import _bench

sys.path.insert(0, str(_bench.BENCH / "repair"))
from bench_repair import document  # the repair benchmark's model-like document

CLICK = 'python -c "import click"'


def inputs(folder: Path) -> dict[str, Path]:
    """The documents, written into `folder`: a tiny one and three of about 1 KB."""
    full = document(1200)
    value = json.loads(full)
    items = value["items"][:3]
    valid = json.dumps({"items": items, "count": len(items)}, ensure_ascii=False)
    malformed = repr({"items": items[:4], "count": len(items)}).replace("}", ", }")
    texts = {
        "tiny": '{"city": "Paris", "temp": 21}',
        "valid 1 KB": valid,
        "cut 1 KB": full[:1000],
        "malformed 1 KB": malformed,
    }
    paths = {}
    for name, text in texts.items():
        path = folder / (name.replace(" ", "-") + ".json")
        path.write_text(text, encoding="utf-8")
        paths[name] = path
    return paths


def json_repair_command() -> list[str]:
    """json_repair's console script next to this interpreter, else `python -m json_repair`."""
    script = Path(_bench.PYTHON).parent / "json_repair"
    return [str(script)] if script.exists() else [_bench.PYTHON, "-m", "json_repair"]


def cases(paths: dict[str, Path], base: str | None) -> dict[str, tuple[list[str], Path | None]]:
    ssechat = [*_bench.ssechat_command(), "repair-json", "--allow-truncated"]
    peer = json_repair_command()
    table: dict[str, tuple[list[str], Path | None]] = {
        CLICK: ([_bench.PYTHON, "-c", "import click"], None),
        "ssechat repair-json < tiny": (ssechat, paths["tiny"]),
    }
    if base:
        table["base repair-json < tiny"] = (
            [base, "repair-json", "--allow-truncated"],
            paths["tiny"],
        )
    for name in ("valid 1 KB", "cut 1 KB", "malformed 1 KB"):
        table[f"ssechat repair-json < {name}"] = (ssechat, paths[name])
        table[f"json_repair < {name}"] = (peer, paths[name])
        if base:
            table[f"base repair-json < {name}"] = (
                [base, "repair-json", "--allow-truncated"],
                paths[name],
            )
    return table


def time_once(command: list[str], stdin_path: Path | None) -> tuple[float, float]:
    """(wall seconds, CPU seconds) of one run; exit statuses 0 and 3 are both answers."""
    with open(stdin_path or os.devnull, "rb") as stdin:
        started = time.perf_counter()
        proc = subprocess.Popen(
            command, stdin=stdin, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - started
    if os.waitstatus_to_exitcode(status) not in (0, 3):
        raise SystemExit(f"{command} failed")
    return wall, usage.ru_utime + usage.ru_stime


def check_same(paths: dict[str, Path]) -> list[str]:
    """Both commands give the same value on each 1 KB input (a line per input)."""
    lines = []
    ssechat = [*_bench.ssechat_command(), "repair-json", "--allow-truncated"]
    for name in ("valid 1 KB", "cut 1 KB", "malformed 1 KB"):
        values = []
        for command in (ssechat, json_repair_command()):
            with open(paths[name], "rb") as stdin:
                out = subprocess.run(command, stdin=stdin, capture_output=True, check=False)
            values.append(json.loads(out.stdout))
        same = "same value" if values[0] == values[1] else "DIFFERENT values"
        lines.append(f"- {name} ({paths[name].stat().st_size} bytes): {same}")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--base", help="another install's ssechat script, timed alongside")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        paths = inputs(Path(tmp))
        checks = check_same(paths)
        table = cases(paths, args.base)
        wall: dict[str, list[float]] = {name: [] for name in table}
        cpu: dict[str, list[float]] = {name: [] for name in table}
        for command, stdin in table.values():  # warm the page cache and .pyc files
            time_once(command, stdin)
        for _ in range(args.runs):
            for name, (command, stdin) in table.items():
                seconds, cpu_seconds = time_once(command, stdin)
                wall[name].append(seconds)
                cpu[name].append(cpu_seconds)
    click_wall, click_cpu = statistics.median(wall[CLICK]), statistics.median(cpu[CLICK])
    rows = []
    for name in table:
        peer = name.replace("ssechat repair-json", "json_repair")
        head = name.replace("base repair-json", "ssechat repair-json")
        if name.startswith("ssechat") and peer in table:
            ref = f"÷ json_repair: {_ratio(wall, cpu, name, peer)}"
        elif name.startswith("base"):
            ref = f"head ÷ base: {_ratio(wall, cpu, head, name)}"
        elif name != CLICK:
            ref = f"÷ click: {_ratio(wall, cpu, name, CLICK)}"
        else:
            ref = ""
        median, median_cpu = statistics.median(wall[name]), statistics.median(cpu[name])
        rows.append(
            [
                f"`{name}`",
                f"{median * 1000:.1f}",
                f"{min(wall[name]) * 1000:.1f}",
                f"{median_cpu * 1000:.1f}",
                ref,
            ]
        )
    print(json.dumps({**_bench.machine(), "load": os.getloadavg()}))
    print()
    print("\n".join(checks))
    print()
    headers = ["command", "median ms", "best ms", "median CPU ms", "ratio (wall, CPU medians)"]
    print(_bench.table(headers, rows))
    print(f"\n`import click`: {click_wall * 1000:.1f} ms wall, {click_cpu * 1000:.1f} ms CPU")
    payload = {"machine": _bench.machine(), "wall": wall, "cpu": cpu, "checks": checks}
    print(f"\nraw figures: {_bench.save('repair-cli', payload)}")


def _ratio(wall: dict[str, list[float]], cpu: dict[str, list[float]], a: str, b: str) -> str:
    by_wall = statistics.median(wall[a]) / statistics.median(wall[b])
    by_cpu = statistics.median(cpu[a]) / statistics.median(cpu[b])
    return f"{by_wall:.2f}x, {by_cpu:.2f}x"


if __name__ == "__main__":
    main()
