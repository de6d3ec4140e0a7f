"""Benchmark `ssechat repair-json`: the valid fast path and truncated documents.

    python bench/repair/bench_repair.py [--max-json-repair-bytes N] [--runs N] > out.md

1. Valid 5 MB JSON through `ssechat repair-json` next to
   `python -c 'import json,sys; json.load(sys.stdin)'` (target: within 1.5x).
2. Truncated documents (a valid document cut off mid-way, as max_tokens does)
   from 1 KB to 5 MB: the installed command, the in-process repair, and
   json_repair alone (`json_repair.loads`), which grows about as size^1.7;
   it is only run up to --max-json-repair-bytes (default 1 MB) so a run stays
   short on a shared machine, and the larger sizes are extrapolated from the
   fitted exponent, marked as such.

Every figure is the best of --runs runs (peers interleaved, so load on the
machine hits both alike); the machine, Python and load average are printed.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import random
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path
from typing import Any

SIZES = [1_000, 10_000, 100_000, 1_000_000, 5_000_000]


def document(size: int, seed: int = 1) -> str:
    """A JSON document of about `size` bytes that looks like model output."""
    rng = random.Random(seed)
    items: list[dict[str, Any]] = []
    total = 0
    while total < size:
        i = len(items)
        item = {
            "id": i,
            "title": f'Item {i}: caf\u00e9 \u4e2d\u6587 "quoted" [x] {{y}}',
            "score": round(rng.random() * 100, 6),
            "ok": i % 3 == 0,
            "tags": ["alpha", "beta\\gamma", None],
            "meta": {"line": "a\nb", "n": rng.randint(0, 10**9)},
        }
        items.append(item)
        total += len(json.dumps(item, ensure_ascii=False).encode()) + 1
    return json.dumps({"items": items, "count": len(items)}, ensure_ascii=False)


def truncated(size: int) -> bytes:
    data = document(size + 200).encode()[:size]
    return data.decode("utf-8", "ignore").encode()


def best_wall(cmd: list[str], data_path: Path) -> float:
    with open(data_path, "rb") as stdin:
        start = time.perf_counter()
        subprocess.run(cmd, stdin=stdin, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        return time.perf_counter() - start


def timed(func: Any, *args: Any) -> float:
    start = time.perf_counter()
    func(*args)
    return time.perf_counter() - start


def machine() -> str:
    model = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    return (
        f"- date: {date.today().isoformat()}\n"
        f"- machine: {os.cpu_count()} CPUs (nproc), {model}\n"
        f"- python: {platform.python_version()} ({sys.executable})\n"
        f"- load average at start (shared machine): {load}\n"
    )


def fmt(seconds: float) -> str:
    return f"{seconds * 1000:.0f} ms" if seconds < 10 else f"{seconds:.1f} s"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--max-json-repair-bytes", type=int, default=1_000_000)
    args = parser.parse_args()

    import json_repair

    from ssechat import repair

    out = ["# repair-json benchmark", "", machine()]
    with tempfile.TemporaryDirectory() as tmp:
        valid = Path(tmp) / "valid.json"
        valid.write_text(document(5_000_000), encoding="utf-8")
        ours_cmd = ["ssechat", "repair-json"]
        peer_cmd = [sys.executable, "-c", "import json,sys; json.load(sys.stdin)"]
        ours, peer = math.inf, math.inf
        for _ in range(args.runs):
            ours = min(ours, best_wall(ours_cmd, valid))
            peer = min(peer, best_wall(peer_cmd, valid))
        size_mb = valid.stat().st_size / 1e6
        out += [
            f"## Valid JSON, {size_mb:.1f} MB (best of {args.runs}, wall time incl. start-up)",
            "",
            "| command | time | ratio |",
            "|---|---|---|",
            f"| `ssechat repair-json < valid.json` | {fmt(ours)} | {ours / peer:.2f}x |",
            f"| `python -c 'import json,sys; json.load(sys.stdin)'` | {fmt(peer)} | 1.00x |",
            "",
        ]

        rows = []
        fitted: list[tuple[float, float]] = []
        for size in SIZES:
            data = truncated(size)
            path = Path(tmp) / f"cut-{size}.json"
            path.write_bytes(data)
            text = data.decode()
            cmd_t = min(best_wall(ours_cmd, path) for _ in range(args.runs))
            lib_t = min(timed(repair.repair_bytes, data) for _ in range(args.runs))
            if size <= args.max_json_repair_bytes:
                runs = args.runs if size < 1_000_000 else 1
                jr_t = min(timed(json_repair.loads, text) for _ in range(runs))
                fitted.append((math.log(size), math.log(jr_t)))
                jr = fmt(jr_t)
            else:
                jr = None
            rows.append((size, cmd_t, lib_t, jr))
        slope = _slope(fitted[-3:]) if len(fitted) >= 2 else float("nan")
        out += [
            f"## Truncated documents (best of {args.runs}; json_repair once at 1 MB and over)",
            "",
            "| size | `ssechat repair-json` (wall) | repair.repair_bytes (in-process) "
            "| json_repair.loads alone |",
            "|---|---|---|---|",
        ]
        last_size, last_log = None, None
        if fitted:
            last_log = fitted[-1][1]
            last_size = math.exp(fitted[-1][0])
        for size, cmd_t, lib_t, jr in rows:
            if jr is None and last_size is not None and last_log is not None:
                guess = math.exp(last_log + slope * math.log(size / last_size))
                jr = f"not run (about {fmt(guess)} by the fitted exponent)"
            out.append(f"| {size / 1000:g} KB | {fmt(cmd_t)} | {fmt(lib_t)} | {jr} |")
        out += [
            "",
            f"json_repair's fitted growth exponent over the largest sizes run: {slope:.2f} "
            "(time ~ size^k).",
            "",
        ]
    print("\n".join(out))
    return 0


def _slope(points: list[tuple[float, float]]) -> float:
    n = len(points)
    mx = sum(x for x, _ in points) / n
    my = sum(y for _, y in points) / n
    num = sum((x - mx) * (y - my) for x, y in points)
    den = sum((x - mx) ** 2 for x, _ in points)
    return num / den if den else float("nan")


if __name__ == "__main__":
    sys.exit(main())
