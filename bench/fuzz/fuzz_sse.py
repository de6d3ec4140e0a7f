"""Fuzz the SSE decoder (ssechat.sse): any bytes, any chunking.

Run: python bench/fuzz/fuzz_sse.py /tmp/fuzz-sse bench/fuzz/corpus/sse \
         -max_total_time=600 -timeout=5 -rss_limit_mb=1024 -dict=bench/fuzz/sse.dict

The first byte picks the options (size bound, EOF rule, comments), the next
four the cut points; the rest is the stream. Checks, besides "no exception
but the project's own": the events do not depend on the chunking (whenever
neither run hit the size bound), no event's data is over the bound, and
the batching layer (`sse_runs.RunDecoder.feed_runs`: whole reads as
EventRuns, as `parse-sse --events` reads) gives the plain decoder's events
and the same `--events` bytes.
"""

from __future__ import annotations

import atheris

with atheris.instrument_imports(include=["ssechat"]):
    from ssechat.errors import SsechatError
    from ssechat.event_lines import raw_event_line, raw_event_lines
    from ssechat.sse import Comment, Decoder, Item
    from ssechat.sse_runs import EventRun, RunDecoder, expand_runs

from _harness import chunks, cut_points, main

LIMITS = (64, 1024, 1 << 20)


def _decode(options: int, parts: list[bytes], *, runs: bool = False) -> tuple[list[Item], bool]:
    decoder = (RunDecoder if runs else Decoder)(
        max_event_bytes=LIMITS[options % 3],
        dispatch_at_eof=bool(options & 4),
        comments=bool(options & 8),
    )
    items: list[Item] = []
    try:
        for part in parts:
            if isinstance(decoder, RunDecoder):
                read = decoder.feed_runs(part)
                lines = b"".join(raw_event_lines(read))
                expanded = expand_runs(read)
                expected = b"".join(
                    raw_event_line(item) for item in expanded if not isinstance(item, Comment)
                )
                assert lines == expected, "an EventRun's --events lines differ"
                assert all(not isinstance(item, EventRun) for item in expanded)
                items += expanded
            else:
                items += decoder.feed(part)
        items += decoder.close()
    except SsechatError:
        return items, True
    assert isinstance(decoder.looks_like_sse, bool)
    return items, False


def test_one(data: bytes) -> None:
    if not data:
        return
    options = data[0]
    body = data[5:]
    whole, whole_failed = _decode(options, [body])
    cut, cut_failed = _decode(options, chunks(body, cut_points(data[1:5], 4)))
    if not whole_failed and not cut_failed:
        assert whole == cut, "the events depend on how the input was cut"
    runs, runs_failed = _decode(options, chunks(body, cut_points(data[1:5], 4)), runs=True)
    if not runs_failed and not cut_failed:
        assert runs == cut, "EventRuns give other events than the plain decoder"
    limit = LIMITS[options % 3]
    for item in whole:
        if hasattr(item, "data"):
            assert len(item.data.encode("utf-8", "surrogatepass")) <= 3 * limit + 3


if __name__ == "__main__":
    main(test_one)
