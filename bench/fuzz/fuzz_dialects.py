"""Fuzz every dialect through the normalizing pipeline (ssechat.pipeline).

Run: python bench/fuzz/fuzz_dialects.py /tmp/fuzz-dialects bench/fuzz/corpus/dialects \
         -max_total_time=600 -timeout=5 -rss_limit_mb=1024 -dict=bench/fuzz/dialects.dict

The first byte picks the dialect (forced by name, or auto-detected) and the
sink (JSON lines, --text, --summary); the second and third the cut points;
the rest is the stream, fed to the same `Pipeline` that parse-sse and send
drive. Checks: no exception but the project's own; every JSON line written
is one valid JSON object whose first key is `type` (or an --events record);
the Outcome's counts are consistent.
"""

from __future__ import annotations

import io
import json

import atheris

with atheris.instrument_imports(include=["ssechat"]):
    from ssechat import dialects
    from ssechat.errors import SsechatError
    from ssechat.normalized import JsonLinesWriter, Sink, TextWriter
    from ssechat.pipeline import Pipeline
    from ssechat.summary import Summary

from _harness import chunks, cut_points, main

CHOICES = (*dialects.NAMES, None)  # None: detect the dialect from the stream


def test_one(data: bytes) -> None:
    if len(data) < 3:
        return
    dialect = CHOICES[data[0] % len(CHOICES)]
    kind = (data[0] // len(CHOICES)) % 3
    out = io.BytesIO()
    sink: Sink
    if kind == 0:
        sink = JsonLinesWriter(out, flush_each=False)
    elif kind == 1:
        sink = TextWriter(out, flush_each=False, reasoning=io.BytesIO())
    else:
        sink = Summary(out, flush_each=False)
    pipeline = Pipeline(sink, dialect=dialect, max_event_bytes=1 << 16)
    try:
        for part in chunks(data[3:], cut_points(data[1:3], 2)):
            pipeline.feed(part)
        outcome = pipeline.close()
    except SsechatError:
        return
    finally:
        sink.close()
    assert outcome.errors >= 0 and outcome.truncated >= 0 and outcome.bad_calls >= 0
    if kind == 1:
        out.getvalue().decode("utf-8")  # text output is valid UTF-8
        return
    for line in out.getvalue().split(b"\n")[:-1]:
        record = json.loads(line)
        assert isinstance(record, dict), line
        if kind == 0 and "event" not in record and "retry" not in record:
            assert next(iter(record)) == "type", line


if __name__ == "__main__":
    main(test_one)
