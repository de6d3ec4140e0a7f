"""Soak: `replay --serve` under concurrent clients, and `send` on a very long stream.

Run by hand (never by the test suite), loopback only, bounded:

    python bench/soak.py serve   [--clients 50] [--requests 2000] [--faults none,drop,...]
    python bench/soak.py stream  [--mb 256]    (send against a long stream: memory flat?)

`serve` starts `ssechat replay --serve 127.0.0.1:0` on a 200-event capture
and has N client threads make the requests, a fresh connection each, until
the total is reached. Each run checks: zero server errors (no 5xx that was
not injected, no "error while serving" or traceback on the server's stderr),
every request outside the faulted ones got the full stream byte for byte,
exactly the faulted ones got the fault; and records the server's RSS after
the first request and after the last (VmRSS and VmHWM from /proc).

`stream` writes an OpenAI-shaped capture of the given size into bench/data/
(git-ignored; deleted afterwards unless --keep), serves it with
`replay --serve --no-delay`, runs `ssechat send` against it with stdout to
/dev/null, and samples send's RSS every 0.2 s: flat memory means the peak is
close to the RSS seen once the stream is under way.

Prints Markdown tables (for the README's reliability section) and
keeps the figures as JSON in bench/out/ (git-ignored).
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from _bench import DATA, OUT, machine, ssechat_command

FAULTS = {
    "none": [],
    "drop": ["drop-after=3"],
    "status503": ["status=503"],
    "garbage": ["garbage-after=2"],
    "stall": ["stall-after=2,for=0.3"],
}


def chunk(delta: dict[str, Any], finish: str | None = None, n: int = 0) -> bytes:
    body = {
        "id": "chatcmpl-soak",
        "object": "chat.completion.chunk",
        "model": "soak",
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
    }
    return b"data: " + json.dumps(body, separators=(",", ":")).encode() + b"\n\n"


def capture_bytes(events: int) -> bytes:
    parts = [chunk({"role": "assistant", "content": ""})]
    parts += [chunk({"content": f"token{i} "}) for i in range(events)]
    return b"".join([*parts, chunk({}, "stop"), b"data: [DONE]\n\n"])


def rss_kb(pid: int) -> dict[str, int]:
    """VmRSS and VmHWM (peak) of a process, in kB."""
    fields: dict[str, int] = {}
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            name, _, value = line.partition(":")
            if name in ("VmRSS", "VmHWM"):
                fields[name] = int(value.split()[0])
    except (OSError, ValueError):
        pass
    return fields


def start_server(capture: Path, *options: str) -> tuple[subprocess.Popen[bytes], str, Path]:
    log = Path(tempfile.mkstemp(prefix="soak-server-", suffix=".log")[1])
    proc = subprocess.Popen(
        [*ssechat_command(), "replay", str(capture), "--serve", "127.0.0.1:0", *options],
        stdout=subprocess.PIPE,
        stderr=log.open("wb"),
    )
    assert proc.stdout is not None
    url = proc.stdout.readline().decode().strip()
    if not url.startswith("http://127.0.0.1:"):
        proc.kill()
        raise SystemExit(f"the server did not start: {log.read_text()}")
    return proc, url, log


# -- serve: concurrent clients --------------------------------------------------------


@dataclass
class Tally:
    outcomes: Counter[str] = field(default_factory=Counter)
    issued: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def take(self, total: int) -> bool:
        with self.lock:
            if self.issued >= total:
                return False
            self.issued += 1
            return True

    def add(self, outcome: str) -> None:
        with self.lock:
            self.outcomes[outcome] += 1


def one_request(port: int, expected: bytes) -> str:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.request(
            "POST",
            "/v1/chat/completions",
            body=b'{"model":"soak","stream":true,"messages":[]}',
            headers={"Content-Type": "application/json", "Authorization": "Bearer sk-soak"},
        )
        response = conn.getresponse()
        body = response.read()
    except (http.client.HTTPException, OSError) as exc:
        return f"broken ({type(exc).__name__})"
    finally:
        conn.close()
    if response.status != 200:
        return f"status {response.status}"
    return "full" if body == expected else "other body"


def soak_serve(clients: int, requests: int, fault: str, faulted: int) -> dict[str, Any]:
    expected = capture_bytes(200)
    with tempfile.TemporaryDirectory() as folder:
        capture = Path(folder) / "soak.sse"
        capture.write_bytes(expected)
        options = ["--no-delay"]
        for spec in FAULTS[fault]:
            options += ["--fault", spec]
        options += ["--fault-requests", str(faulted if fault != "none" else 0)]
        proc, url, log = start_server(capture, *options)
        port = int(url.rsplit(":", 1)[1])
        before = rss_kb(proc.pid)  # listening, everything imported, no request yet
        tally = Tally()

        def work() -> None:
            while tally.take(requests):
                tally.add(one_request(port, expected))

        started = time.monotonic()
        threads = [threading.Thread(target=work) for _ in range(clients)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        seconds = time.monotonic() - started
        time.sleep(0.5)
        after = rss_kb(proc.pid)
        proc.terminate()
        proc.wait(30)
        server_log = log.read_text(errors="replace")
        log.unlink()
    server_errors = sum(
        1
        for line in server_log.splitlines()
        if "error while serving" in line or "Traceback" in line or "internal error" in line
    )
    outcomes = dict(tally.outcomes)
    not_full = requests - outcomes.get("full", 0)
    expected_faulted = 0 if fault == "none" else faulted
    return {
        "fault": fault,
        "spec": ",".join(FAULTS[fault]) or "-",
        "clients": clients,
        "requests": requests,
        "faulted": expected_faulted,
        "seconds": round(seconds, 1),
        "outcomes": outcomes,
        "server_errors": server_errors,
        "server_exit": proc.returncode,
        "rss_before_kb": before.get("VmRSS"),
        "rss_after_kb": after.get("VmRSS"),
        "hwm_after_kb": after.get("VmHWM"),
        "ok": server_errors == 0 and not_full == expected_faulted and proc.returncode == 0,
    }


def serve_table(rows: list[dict[str, Any]]) -> str:
    lines = [
        "| fault (first K requests) | clients | requests | K | full streams | faulted as injected "
        "| server errors | server RSS before → after (peak) | time | ok |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        outcomes = row["outcomes"]
        full = outcomes.get("full", 0)
        other = ", ".join(f"{v} {k}" for k, v in sorted(outcomes.items()) if k != "full") or "-"
        lines.append(
            f"| {row['spec']} | {row['clients']} | {row['requests']} | {row['faulted']} "
            f"| {full} | {other} | {row['server_errors']} "
            f"| {_mb(row['rss_before_kb'])} → {_mb(row['rss_after_kb'])} "
            f"({_mb(row['hwm_after_kb'])}) MB | {row['seconds']} s "
            f"| {'yes' if row['ok'] else 'NO'} |"
        )
    return "\n".join(lines)


def _mb(kb: int | None) -> str:
    return "?" if kb is None else f"{kb / 1024:.1f}"


# -- stream: send on a very long stream ---------------------------------------------------


def write_stream(path: Path, megabytes: int) -> tuple[int, int]:
    """An OpenAI chat stream of about `megabytes` MB; returns (bytes, text deltas)."""
    target = megabytes * 1024 * 1024
    written = 0
    deltas = 0
    with path.open("wb") as out:
        head = chunk({"role": "assistant", "content": ""})
        out.write(head)
        written += len(head)
        block_size = 1000
        while written < target:
            block = b"".join(chunk({"content": f"token{deltas + i} "}) for i in range(block_size))
            out.write(block)
            written += len(block)
            deltas += block_size
        tail = chunk({}, "stop") + b"data: [DONE]\n\n"
        out.write(tail)
        written += len(tail)
    return written, deltas


def soak_stream(megabytes: int, keep: bool) -> dict[str, Any]:
    DATA.mkdir(exist_ok=True)
    path = DATA / f"soak-{megabytes}m.sse"
    size, deltas = write_stream(path, megabytes)
    server, url, log = start_server(path, "--no-delay")
    try:
        samples: list[tuple[float, int]] = []
        started = time.monotonic()
        send = subprocess.Popen(
            [*ssechat_command(), "send", "--base-url", url + "/v1", "--idle-timeout", "600", "go"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            env={**os.environ, "OPENAI_API_KEY": "sk-soak"},
        )
        while send.poll() is None:
            rss = rss_kb(send.pid).get("VmRSS")
            if rss:
                samples.append((time.monotonic() - started, rss))
            time.sleep(0.2)
        seconds = time.monotonic() - started
        assert send.stderr is not None
        stderr = send.stderr.read().decode(errors="replace")
    finally:
        server.terminate()
        server.wait(30)
        log.unlink()
        if not keep:
            path.unlink()
    values = [rss for _, rss in samples]
    early = values[min(len(values) - 1, max(1, len(values) // 10))] if values else None
    return {
        "megabytes": megabytes,
        "bytes": size,
        "deltas": deltas,
        "exit": send.returncode,
        "stderr": stderr.strip(),
        "seconds": round(seconds, 1),
        "rss_at_10pct_kb": early,
        "rss_peak_kb": max(values) if values else None,
        "rss_last_kb": values[-1] if values else None,
        "samples": len(values),
        "ok": send.returncode == 0,
    }


def stream_table(rows: list[dict[str, Any]]) -> str:
    lines = [
        "| stream | events | send exit | time | send RSS at 10% | peak | at the end |",
        "|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        lines.append(
            f"| {row['bytes'] / 1024 / 1024:.0f} MB | {row['deltas']:,} | {row['exit']} "
            f"| {row['seconds']} s | {_mb(row['rss_at_10pct_kb'])} MB "
            f"| {_mb(row['rss_peak_kb'])} MB | {_mb(row['rss_last_kb'])} MB |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="what", required=True)
    serve = sub.add_parser("serve")
    serve.add_argument("--clients", type=int, default=50)
    serve.add_argument("--requests", type=int, default=2000)
    serve.add_argument("--faults", default="none,drop,status503,garbage")
    serve.add_argument("--faulted", type=int, default=500, help="K: requests that get the fault")
    stream = sub.add_parser("stream")
    stream.add_argument("--mb", type=int, nargs="+", default=[256])
    stream.add_argument("--keep", action="store_true")
    args = parser.parse_args()
    OUT.mkdir(exist_ok=True)
    if args.what == "serve":
        rows = []
        for fault in args.faults.split(","):
            row = soak_serve(args.clients, args.requests, fault, args.faulted)
            print(json.dumps(row), file=sys.stderr)
            rows.append(row)
        print(serve_table(rows))
    else:
        rows = []
        for megabytes in args.mb:
            row = soak_stream(megabytes, args.keep)
            print(json.dumps(row), file=sys.stderr)
            rows.append(row)
        print(stream_table(rows))
    stamp = time.strftime("%Y-%m-%d-%H%M%S")
    (OUT / f"soak-{args.what}-{stamp}.json").write_text(
        json.dumps({"machine": machine(), "rows": rows}, indent=1)
    )
    if not all(row["ok"] for row in rows):
        raise SystemExit(1)


if __name__ == "__main__":
    main()
