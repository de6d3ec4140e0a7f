"""Fault figures: `ssechat send` against `ssechat replay --serve` with each fault injected.

Run by hand (loopback only, about a minute):

    python bench/faults.py [--capture examples/openai-text.sse]

For each fault the script starts a replay server (or none: refused, DNS),
runs `ssechat send --save CAPTURE` with fast backoff, and prints one
Markdown row: the fault, what the user sees (retry lines, exit status, the
stderr message, the output), and the proof that nothing was lost or doubled:
the answer folded from send's JSON lines (a `retry` with `resume: restart`
discards what came before it) equals the answer `parse-sse` finds in the
original capture, and so does the answer in the capture `--save` wrote.
For Ctrl-C, the folded output must be a prefix of the answer (nothing
doubled, what was shown is kept). Keeps the rows as JSON in bench/out/.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from _bench import OUT, ROOT, machine, ssechat_command

KEY = "sk-faults-0123456789abcdef"
PATIENT = ["--retries", "20", "--backoff-max", "0.5"]
IDLE_1S = ["--idle-timeout", "1"]
FAST = ["--backoff-base", "0.05", "--backoff-max", "0.2", "--retries", "3"]


def json_lines(data: bytes) -> list[dict[str, Any]]:
    out = []
    for line in data.decode("utf-8", "replace").splitlines():
        try:
            out.append(json.loads(line))
        except ValueError:
            out.append({"type": "not-json", "line": line})
    return out


def fold(lines: list[dict[str, Any]]) -> str:
    """The answer a consumer folds from send's JSON lines."""
    text: list[str] = []
    for line in lines:
        if line.get("type") == "retry" and line.get("resume") == "restart":
            text = []
        elif line.get("type") == "delta" and "index" not in line:
            text.append(str(line.get("text", "")))
    return "".join(text)


def answer_of(capture: Path) -> str:
    done = subprocess.run(
        [*ssechat_command(), "parse-sse", "--allow-truncated", str(capture)],
        capture_output=True,
        check=False,
    )
    return fold(json_lines(done.stdout))


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class Case:
    name: str
    faults: list[str] = field(default_factory=list)
    k: int = 1
    send_args: list[str] = field(default_factory=list)
    captures: list[str] = field(default_factory=list)  # default: the capture
    url: str | None = None  # no server: this URL (refused, DNS)
    server_later: bool = False  # refused, then the server comes up after the first retry
    interrupt: bool = False  # Ctrl-C once three deltas are out
    serve_options: list[str] = field(default_factory=list)


def cases(truncated: Path) -> list[Case]:
    return [
        Case("none"),
        Case("drop (TCP reset after 3 events)", ["drop-after=3"]),
        Case("drop (EOF inside the chunked body)", ["drop-after=3,how=eof"]),
        Case("drop, `--text` after output began", ["drop-after=3"], send_args=["--text"]),
        Case("stall 5 s after 3 events", ["stall-after=3,for=5"], send_args=IDLE_1S),
        Case("429 with Retry-After: 1", ["status=429,retry-after=1"]),
        Case("500 twice", ["status=500"], k=2),
        Case("503", ["status=503"]),
        Case("529 (overloaded)", ["status=529"]),
        Case("429 on every request", ["status=429"], k=100),
        Case("400 (not retryable)", ["status=400"]),
        Case("refused, server up a moment later", server_later=True, send_args=PATIENT),
        Case("refused, no server", url="REFUSED", send_args=["--retries", "2"]),
        Case("DNS failure (`.invalid`)", url="http://ssechat-fault.invalid/v1"),
        Case("garbage mid-stream (after 3 events)", ["garbage-after=3"]),
        Case("truncated stream (clean end, no [DONE])", captures=[str(truncated), "CAPTURE"]),
        Case("Ctrl-C after 3 deltas", interrupt=True, serve_options=["--delay", "0.3"]),
    ]


def run_case(case: Case, capture: Path, expected: str, folder: Path) -> dict[str, Any]:  # noqa: C901
    save = folder / "saved.sse"
    save.unlink(missing_ok=True)
    server: subprocess.Popen[bytes] | None = None
    url = case.url
    port = free_port()
    captures = [str(capture) if c == "CAPTURE" else c for c in case.captures] or [str(capture)]
    server_args = [*ssechat_command(), "replay", *captures, *case.serve_options]
    for spec in case.faults:
        server_args += ["--fault", spec]
    if case.faults:
        server_args += ["--fault-requests", str(case.k)]

    def start_server(listen: str) -> tuple[subprocess.Popen[bytes], str]:
        proc = subprocess.Popen(
            [*server_args, "--serve", listen], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL
        )
        assert proc.stdout is not None
        return proc, proc.stdout.readline().decode().strip() + "/v1"

    if url == "REFUSED":
        url = f"http://127.0.0.1:{port}/v1"
    elif url is None and not case.server_later:
        server, url = start_server("127.0.0.1:0")
    elif url is None:
        url = f"http://127.0.0.1:{port}/v1"
    args = [*ssechat_command(), "send", "--base-url", url, *FAST, "--save", str(save)]
    args += [*case.send_args, "hi"]
    started = time.monotonic()
    env = {**os.environ, "OPENAI_API_KEY": KEY}
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    early_out, early_err = b"", b""
    assert proc.stdout is not None and proc.stderr is not None
    if case.server_later:
        early_err = proc.stderr.readline()  # the first retry notice: refused once at least
        server, _ = start_server(f"127.0.0.1:{port}")
    if case.interrupt:
        while early_out.count(b'"delta"') < 3:  # Ctrl-C once some answer is on screen
            line = proc.stdout.readline()
            if not line:
                break
            early_out += line
        proc.send_signal(signal.SIGINT)
    stdout, stderr = proc.communicate(timeout=120)
    stdout, stderr = early_out + stdout, early_err + stderr
    seconds = time.monotonic() - started
    if server is not None:
        server.terminate()
        server.wait(10)
        if server.stdout is not None:
            server.stdout.close()
    text_mode = "--text" in case.send_args
    lines = [] if text_mode else json_lines(stdout)
    folded = stdout.decode("utf-8", "replace").rstrip("\n") if text_mode else fold(lines)
    retries = stderr.decode("utf-8", "replace").count(" retry ")
    retry_lines = [line for line in lines if line.get("type") == "retry"]
    saved = answer_of(save) if save.exists() and save.stat().st_size else ""
    message = [
        line
        for line in stderr.decode("utf-8", "replace").splitlines()
        if not line.startswith("ssechat: retry ")
    ]
    if proc.returncode == 0:
        verdict = "equal" if folded == expected and saved == expected else "DIFFERENT"
    elif folded == "":
        verdict = "nothing shown"
    elif expected.startswith(folded):
        verdict = "prefix kept, nothing doubled"
    else:
        verdict = "DIFFERENT"
    leaked = KEY.encode() in stdout + stderr + (save.read_bytes() if save.exists() else b"")
    return {
        "fault": case.name,
        "exit": proc.returncode,
        "retries": max(retries, len(retry_lines)),
        "resume": sorted({str(line.get("resume")) for line in retry_lines}),
        "message": message[-1] if message else "",
        "output": _describe(lines, stdout, text_mode),
        "folded_equals_answer": verdict,
        "seconds": round(seconds, 1),
        "key_leaked": leaked,
    }


def _describe(lines: list[dict[str, Any]], stdout: bytes, text_mode: bool) -> str:
    if text_mode:
        return f"{len(stdout)} bytes of text"
    kinds: dict[str, int] = {}
    for line in lines:
        kinds[str(line.get("type"))] = kinds.get(str(line.get("type")), 0) + 1
    return ", ".join(f"{n} {k}" for k, n in kinds.items()) or "nothing"


def table(rows: list[dict[str, Any]]) -> str:
    out = [
        "| fault | retries (resume) | exit | stderr (last line) | output | folded output vs "
        "capture's answer | time |",
        "|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        resume = f" ({', '.join(row['resume'])})" if row["resume"] else ""
        message = row["message"].replace("|", "\\|")
        out.append(
            f"| {row['fault']} | {row['retries']}{resume} | {row['exit']} | {message or '-'} "
            f"| {row['output']} | {row['folded_equals_answer']} | {row['seconds']} s |"
        )
    return "\n".join(out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--capture", type=Path, default=ROOT / "examples" / "openai-text.sse")
    parser.add_argument("--only", nargs="*", help="run only the faults whose name has this word")
    args = parser.parse_args()
    capture: Path = args.capture
    expected = answer_of(capture)
    rows = []
    with tempfile.TemporaryDirectory() as name:
        folder = Path(name)
        truncated = folder / "truncated.sse"
        events = capture.read_bytes().split(b"\n\n")
        truncated.write_bytes(b"\n\n".join(events[:4]) + b"\n\n")  # no end marker
        for case in cases(truncated):
            if args.only and not any(word in case.name for word in args.only):
                continue
            row = run_case(case, capture, expected, folder)
            print(json.dumps(row))
            rows.append(row)
    print()
    print(table(rows))
    OUT.mkdir(exist_ok=True)
    stamp = time.strftime("%Y-%m-%d-%H%M%S")
    (OUT / f"faults-{stamp}.json").write_text(
        json.dumps({"machine": machine(), "capture": str(capture), "rows": rows}, indent=1)
    )
    if any(row["key_leaked"] or row["folded_equals_answer"] == "DIFFERENT" for row in rows):
        raise SystemExit(1)


if __name__ == "__main__":
    main()
