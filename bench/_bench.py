"""What the benchmark runners share: paths, the machine, timed runs, tables.

Runners are scripts (`python bench/run_<name>.py`), run by hand, never by the
test suite. Each one times one job against its peers in the same run, prints
a Markdown table for bench/README.md and keeps the raw figures as JSON in
bench/out/ (git-ignored).
"""

from __future__ import annotations

import datetime
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
DATA = BENCH / "data"
OUT = BENCH / "out"
PEERS = BENCH / "peers"
PYTHON = sys.executable
GNU_TIME = "/usr/bin/time"


def ssechat_command() -> list[str]:
    """The installed console script itself, not a version-manager shim in front of it.

    A pyenv shim is a bash script that runs `pyenv exec`: 50 ms or more of
    start-up that is not ssechat's. The script next to this interpreter is
    what `pip install` put there; fall back to `python -m ssechat`.
    """
    compile_package()
    script = Path(PYTHON).parent / "ssechat"
    if script.exists():
        return [str(script)]
    return [PYTHON, "-m", "ssechat"]


def compile_package() -> None:
    """Byte-compile the imported ssechat, as `pip install` does.

    With an editable install and PYTHONDONTWRITEBYTECODE set (as on some CI
    and sandbox images), a module changed since its .pyc was written is
    compiled again at every start: 10-20 ms of start-up that an installed
    ssechat does not pay.
    """
    import compileall

    import ssechat

    compileall.compile_dir(str(Path(ssechat.__file__).parent), quiet=1)


def machine() -> dict[str, Any]:
    """The facts bench/README.md records next to every table."""
    cpu = "unknown"
    mem_kb = 0
    try:
        for text in Path("/proc/cpuinfo").read_text().splitlines():
            if text.startswith("model name"):
                cpu = text.split(":", 1)[1].strip()
                break
        for text in Path("/proc/meminfo").read_text().splitlines():
            if text.startswith("MemTotal:"):
                mem_kb = int(text.split()[1])
    except OSError:
        pass
    return {
        "date": datetime.date.today().isoformat(),
        "nproc": os.cpu_count(),
        "cpu": cpu,
        "memory_gib": round(mem_kb / 1024 / 1024, 1),
        "python": platform.python_version(),
        "platform": platform.platform(),
    }


@dataclass
class Run:
    """One finished process: wall time, CPU time (user + system), peak memory, status, stderr."""

    seconds: float
    cpu_seconds: float
    max_rss_kb: int
    returncode: int
    stderr: str


def run(
    command: Sequence[str],
    *,
    stdin_path: Path | None = None,
    stdout_path: Path | str = os.devnull,
    env: dict[str, str] | None = None,
) -> Run:
    """Run one command to completion, with its own peak RSS.

    The peak comes from GNU time when it is there: Linux keeps a process's
    max RSS across exec, so a child forked straight from this (larger)
    runner would report the runner's size. Without GNU time, wait4() does.
    """
    report = None
    if os.path.exists(GNU_TIME):
        fd, report = tempfile.mkstemp(prefix="bench-time-")
        os.close(fd)
        command = [GNU_TIME, "-f", "%M", "-o", report, *command]
    with (
        open(stdin_path if stdin_path else os.devnull, "rb") as stdin,
        open(stdout_path, "wb") as stdout,
    ):
        started = time.perf_counter()
        proc = subprocess.Popen(
            list(command), stdin=stdin, stdout=stdout, stderr=subprocess.PIPE, env=env
        )
        assert proc.stderr is not None
        err = proc.stderr.read()
        _, status, usage = os.wait4(proc.pid, 0)
        seconds = time.perf_counter() - started
        proc.returncode = os.waitstatus_to_exitcode(status)
        proc.stderr.close()
    max_rss_kb = usage.ru_maxrss  # GNU time's own CPU time is noise: its child is all of it
    cpu_seconds = usage.ru_utime + usage.ru_stime
    if report is not None:
        lines = Path(report).read_text().split()
        os.unlink(report)
        max_rss_kb = int(lines[-1]) if lines and lines[-1].isdigit() else max_rss_kb
    return Run(seconds, cpu_seconds, max_rss_kb, proc.returncode, err.decode("utf-8", "replace"))


def table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """A Markdown table."""
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    cells = [[str(cell).replace("|", "\\|") for cell in row] for row in rows]  # "a | b" in a cell
    lines += ["| " + " | ".join(row) + " |" for row in cells]
    return "\n".join(lines)


def save(name: str, payload: dict[str, Any]) -> Path:
    """Keep the raw figures of one run in bench/out/NAME-DATE.json."""
    OUT.mkdir(exist_ok=True)
    path = OUT / f"{name}-{datetime.date.today().isoformat()}.json"
    path.write_text(json.dumps(payload, indent=2) + "\n")
    return path
