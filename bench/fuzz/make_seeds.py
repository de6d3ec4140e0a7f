"""Write the short seed corpus (bench/fuzz/corpus/) from examples/ and the conformance cases.

Run once by hand (python bench/fuzz/make_seeds.py); the result is committed,
so a fuzz run starts from the same seeds on every machine. Seeds are kept
small (a few KB): libFuzzer's default -max_len is the largest seed, and
small inputs mean more executions per second.
"""

from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
CONFORMANCE = ROOT / "tests" / "conformance"  # the project's copy
CORPUS = HERE / "corpus"
MAX_SEED = 4096
DIALECTS = ("openai-chat", "openai-responses", "anthropic", "coze", "gemini", "cohere", "generic")
AUTO = len(DIALECTS)  # the harness's index for "detect the dialect"


def _cases(relative: str) -> list[dict[str, object]]:
    path = CONFORMANCE / relative
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]


def _input(case: dict[str, object]) -> bytes:
    if "input_b64" in case:
        return base64.b64decode(str(case["input_b64"]))
    return str(case["input"]).encode("utf-8", "surrogatepass")


def _write(folder: str, data: bytes) -> None:
    target = CORPUS / folder
    target.mkdir(parents=True, exist_ok=True)
    (target / hashlib.sha1(data).hexdigest()[:16]).write_bytes(data[:MAX_SEED])


def main() -> None:
    for case in _cases("sse/cases.jsonl")[:40]:
        _write("sse", b"\x05\x10\x40\x80\xc0" + _input(case))
    for example in sorted((ROOT / "examples").glob("*.sse")):
        _write("sse", b"\x06\x20\x60\xa0\xe0" + example.read_bytes())
        _write("dialects", bytes([AUTO, 0x40, 0xC0]) + example.read_bytes())
    for case in _cases("providers/streams.jsonl"):
        name = str(case["dialect"])
        index = DIALECTS.index(name) if name in DIALECTS else AUTO
        _write("dialects", bytes([index, 0x30, 0x90]) + _input(case))
        _write("dialects", bytes([AUTO + 8, 0x55, 0xAA]) + _input(case))  # detected, --text
    for case in _cases("repair/cases.jsonl")[::8]:
        data = _input(case)
        if len(data) <= MAX_SEED:
            _write("repair", data)


if __name__ == "__main__":
    main()
