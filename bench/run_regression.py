"""Benchmark: one ssechat against another, same captures, same run (a regression check).

The issues' "no speed regression" targets compare a change with the code
before it. Figures from another day on a shared VM are not comparable, so
this runner times two installed ssechat console scripts (for example the
base commit and the head, each installed into its own venv) on the same
captures, interleaved round after round, and reports the ratio of their best
times, by wall time and by CPU time (user + system) separately.

Jobs: normalized `parse-sse` and `parse-sse --events`, output to /dev/null,
plus start-up (`parse-sse` of a three-event capture). Before timing, each
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
from pathlib import Path

import _bench
import gen_captures

CAPTURES = ["openai-200k.sse", "anthropic-200k.sse", "tools-200k.sse"]
JOBS = {"parse-sse": ["parse-sse"], "parse-sse --events": ["parse-sse", "--events"]}


def _same_output(base: str, head: str, args: list[str], capture: Path) -> bool:
    with tempfile.TemporaryDirectory() as tmp:
        outputs = [Path(tmp, "base"), Path(tmp, "head")]
        for script, out in zip((base, head), outputs, strict=True):
            _bench.run([script, *args, str(capture)], stdout_path=out)
        return filecmp.cmp(*outputs, shallow=False)


def _best(script: str, args: list[str], capture: Path, repeat: int) -> tuple[float, float]:
    runs = [_bench.run([script, *args, str(capture)]) for _ in range(repeat)]
    failed = [run for run in runs if run.returncode not in (0, 3)]
    if failed:
        raise SystemExit(f"{script} {' '.join(args)} {capture.name}: {failed[0].stderr}")
    return min(run.seconds for run in runs), min(run.cpu_seconds for run in runs)


def measure(base: str, head: str, repeat: int) -> list[list[object]]:
    rows: list[list[object]] = []
    cases = [
        (job, args, gen_captures.write(name)) for name in CAPTURES for job, args in JOBS.items()
    ]
    cases.append(("start-up", ["parse-sse"], gen_captures.write("tiny.sse")))
    for job, args, capture in cases:
        same = _same_output(base, head, args, capture)
        best: dict[str, tuple[float, float]] = {"base": (1e9, 1e9), "head": (1e9, 1e9)}
        for _ in range(repeat):  # interleaved: both see the same load
            for side, script in (("base", base), ("head", head)):
                wall, cpu = _best(script, args, capture, 1)
                best[side] = (min(best[side][0], wall), min(best[side][1], cpu))
        (bw, bc), (hw, hc) = best["base"], best["head"]
        rows.append(
            [
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
        )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base", required=True, help="the ssechat console script before")
    parser.add_argument("--head", required=True, help="the ssechat console script after")
    parser.add_argument("--repeat", type=int, default=5)
    opts = parser.parse_args()
    rows = measure(opts.base, opts.head, opts.repeat)
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
