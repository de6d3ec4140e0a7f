"""Benchmark: docs/scale.md's recipes over a folder of captures (issue 17).

Two folders: `scale-logs/`, N small responses as a gateway logs them
(openai text, anthropic text and openai tool-call streams of 20 to 2,000
events, seeded), and `scale-big/`, the bench's four 200k captures. On each,
three contenders write one summary row per response:

- `parse-sse --summary`, one process over every file (the one-core floor);
- the `xargs -P` recipe of docs/scale.md, `-P` = the cores;
- the Dask recipe of docs/scale.md (`ssechat.summarize` on a local cluster
  of `--workers` processes; cluster start-up included, as a user pays it).

The recipes are taken from docs/scale.md's text, so what is timed is what
the doc says. Before the table, every contender's rows are checked to be the
same multiset (the Dask rows less their `file` key). Needs `ssechat[dask]`.

Usage: python bench/run_scale.py [--files 2000] [--repeat 3] [--workers N] [--only logs|big]
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import random
import re
import subprocess
import time
from collections import Counter
from pathlib import Path
from typing import Any

import _bench
import gen_captures

DOC = _bench.ROOT / "docs" / "scale.md"
SHAPES = (gen_captures.openai_text, gen_captures.anthropic_text, gen_captures.openai_tools)
BIG = ("openai-200k.sse", "anthropic-200k.sse", "tools-200k.sse", "openai-1m.sse")


def recipe(language: str, word: str) -> str:
    blocks = re.findall(rf"^ *```{language}\n(.*?)^ *```", DOC.read_text(), re.DOTALL | re.M)
    (block,) = [b for b in blocks if word in b]
    return str(block)


def make_logs(count: int) -> Path:
    """N small captures in day folders, deterministic; kept between runs."""
    folder = _bench.DATA / f"scale-logs-{count}" / "captures"
    if folder.exists():
        return folder
    rng = random.Random(gen_captures.SEED)
    tmp = folder.with_name("captures.tmp")
    for i in range(count):
        shape = SHAPES[i % len(SHAPES)]
        # Eight parallel calls need a few fragments each (gen_captures.openai_tools).
        events = rng.randint(40 if shape is gen_captures.openai_tools else 20, 2000)
        day = tmp / f"day-{i % 30:02d}"
        day.mkdir(parents=True, exist_ok=True)
        (day / f"{i:06d}.sse").write_text("".join(shape(events)), encoding="utf-8")
    tmp.rename(folder)
    return folder


def link_big() -> Path:
    """The big captures, hard-linked (find -type f skips symbolic links)."""
    folder = _bench.DATA / "scale-big" / "captures"
    folder.mkdir(parents=True, exist_ok=True)
    for path in gen_captures.ensure(*BIG):
        link = folder / path.name
        if not link.exists():
            os.link(path, link)
    return folder


def rows_of(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def timed(command: list[str], cwd: Path, env: dict[str, str]) -> tuple[float, int]:
    started = time.perf_counter()
    proc = subprocess.run(command, cwd=cwd, env=env, capture_output=True)
    seconds = time.perf_counter() - started
    if proc.returncode not in (0, 123):  # 123: xargs, a batch exited 3 (rows still written)
        raise SystemExit(f"{command[:3]} failed: {proc.stderr.decode()[-500:]}")
    return seconds, proc.returncode


def contenders(folder: Path, work: Path, workers: int) -> dict[str, tuple[list[str], Path]]:
    """The three commands, run in `work`, beside the `captures` folder the doc names."""
    files = sorted(str(p.relative_to(work)) for p in folder.rglob("*.sse"))
    serial = [*_bench.ssechat_command(), "parse-sse", "--summary", *files]
    xargs = recipe("sh", "xargs").replace('"$(nproc)"', str(workers))
    script = work / "summarize_captures.py"
    script.write_text(recipe("python", "dask"))
    dask = [_bench.PYTHON, str(script), "captures", "out", "--workers", str(workers)]
    return {
        "parse-sse --summary, 1 process": (
            ["sh", "-c", 'exec "$@" > serial.jsonl', "sh", *serial],
            work / "serial.jsonl",
        ),
        f"xargs -P {workers} recipe": (["bash", "-c", xargs], work / "summary.jsonl"),
        f"Dask recipe, {workers} workers": (dask, work / "out"),
    }


def measure(folder: Path, workers: int, repeat: int) -> list[list[object]]:
    work = folder.parent
    env = {**os.environ, "PATH": f"{Path(_bench.ssechat_command()[0]).parent}:{os.environ['PATH']}"}
    cases = contenders(folder, work, workers)
    size = sum(p.stat().st_size for p in folder.rglob("*.sse"))
    best: dict[str, float] = {}
    reference: Counter[str] | None = None
    for _, name in itertools.product(range(repeat), cases):
        command, output = cases[name]
        for old in list(output.glob("*")) if output.is_dir() else [output]:
            old.unlink(missing_ok=True)
        seconds, _ = timed(command, work, env)
        best[name] = min(seconds, best.get(name, seconds))
        parts = sorted(output.glob("part-*.jsonl")) if output.is_dir() else [output]
        rows = [{k: v for k, v in r.items() if k != "file"} for p in parts for r in rows_of(p)]
        got = Counter(json.dumps(r, sort_keys=True) for r in rows)
        if reference is None:
            reference = got
        elif got != reference:
            raise SystemExit(f"{name}: its rows differ from the first contender's")
    responses = sum(reference.values()) if reference else 0
    return [
        [folder.parent.name, name, f"{seconds:.2f}", responses, f"{responses / seconds:,.0f}",
         f"{size / seconds / 1e6:.1f}"]
        for name, seconds in best.items()
    ]  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=2000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 2)
    parser.add_argument("--only", choices=["logs", "big"], help="one folder only")
    args = parser.parse_args()
    _bench.compile_package()
    rows: list[list[object]] = []
    folders = []
    if args.only != "big":
        folders.append(make_logs(args.files))
    if args.only != "logs":
        folders.append(link_big())
    for folder in folders:
        rows += measure(folder, args.workers, args.repeat)
    headers = ["folder", "contender", "best wall s", "responses", "responses/s", "MB/s"]
    print(_bench.table(headers, rows))
    _bench.save("scale", {"machine": _bench.machine(), "args": vars(args), "rows": rows})


if __name__ == "__main__":
    main()
