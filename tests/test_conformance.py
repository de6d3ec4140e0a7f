"""The project's copy of the conformance corpora, tests/conformance/.

The copy is whole (every file listed in SHA256SUMS, as `make conformance`
wrote it, unchanged since) and, where the reference corpora are present
(../shared/conformance, or $SSECHAT_SHARED/conformance), the same as them.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from tests.conftest import CONFORMANCE, ROOT

CORPORA = ("sse/cases.jsonl", "providers/streams.jsonl", "longtail/streams.jsonl",
           "repair/cases.jsonl")  # fmt: skip
REFERENCE = Path(os.environ.get("SSECHAT_SHARED", ROOT.parent / "shared")) / "conformance"


def _sums() -> dict[str, str]:
    """SHA256SUMS (`sha256sum` output): relative path -> digest."""
    sums = {}
    for line in (CONFORMANCE / "SHA256SUMS").read_text(encoding="ascii").splitlines():
        digest, name = line.split(maxsplit=1)
        sums[name.lstrip("*")] = digest
    return sums


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_the_copy_is_whole_unchanged_and_not_stale() -> None:
    sums = _sums()
    assert sorted(sums) == sorted(CORPORA)
    for name, digest in sums.items():
        assert _digest(CONFORMANCE / name) == digest, f"tests/conformance/{name} was edited"
    if not REFERENCE.is_dir():
        return  # a clone on its own: the copy is the reference
    stale = [
        name
        for name in CORPORA
        if not (REFERENCE / name).is_file() or _digest(REFERENCE / name) != sums[name]
    ]
    assert stale == [], f"tests/conformance is stale ({stale}): run `make conformance`"
    new = sorted(
        str(path.relative_to(REFERENCE))
        for folder in {name.split("/")[0] for name in CORPORA}
        for path in (REFERENCE / folder).iterdir()
        if str(path.relative_to(REFERENCE)) not in CORPORA
    )
    assert new == [], f"reference files not in the copy: {new}: add them to `make conformance`"
