"""`ssechat parse-sse`: raw SSE from files or stdin to JSON lines."""

from __future__ import annotations

import click

from ssechat import sources
from ssechat.cli.common import EXAMPLES_HEADING, ByteSize, debug_option, flush_option
from ssechat.errors import ExitStatus
from ssechat.events import FlushPolicy, LineWriter, raw_event_line
from ssechat.sse import DEFAULT_MAX_EVENT_BYTES, Comment, Decoder

EXAMPLES = """\
  ssechat parse-sse examples/openai-tool-call.sse
  ssechat parse-sse --events capture.sse | jq -r .data
  curl -sN "$URL" -H "Authorization: Bearer $KEY" -d @body.json | ssechat parse-sse
"""


@click.command(
    "parse-sse",
    epilog=EXAMPLES_HEADING + EXAMPLES,
    short_help="Turn raw SSE into JSON lines.",
)
@click.argument("files", nargs=-1, type=click.Path(exists=True, dir_okay=False, allow_dash=True))
@click.option(
    "--events",
    "raw_events",
    is_flag=True,
    help='Write the plain SSE events: {"event", "data", "id"} per line, and {"retry"}.',
)
@click.option(
    "--eof",
    type=click.Choice(["dispatch", "discard"]),
    default="dispatch",
    show_default=True,
    help="At end of input inside an event: dispatch it (saved logs often lack the final "
    "blank line), or discard it as the WHATWG spec does.",
)
@click.option(
    "--max-event-bytes",
    type=ByteSize(),
    default=DEFAULT_MAX_EVENT_BYTES,
    show_default="16M",
    help="Refuse (exit 3) any single event larger than this.",
)
@flush_option
@debug_option
def parse_sse_cmd(
    files: tuple[str, ...], raw_events: bool, eof: str, max_event_bytes: int, flush: str
) -> int:
    """Turn raw SSE captured from any provider into JSON lines.

    Reads each FILE in turn as a separate stream (stdin when there is none,
    or for `-`). With --events, writes one JSON object per SSE event.
    """
    writer = LineWriter(
        click.get_binary_stream("stdout"),
        flush_each=FlushPolicy(flush).flushes_each_event(
            input_is_regular_file=sources.all_regular_files(files)
        ),
    )
    for source in sources.open_sources(files):
        decoder = Decoder(max_event_bytes=max_event_bytes, dispatch_at_eof=eof == "dispatch")
        for chunk in source.chunks():
            writer.write(
                [
                    raw_event_line(item)
                    for item in decoder.feed(chunk)
                    if not isinstance(item, Comment)
                ]
            )
        writer.write(
            [raw_event_line(item) for item in decoder.close() if not isinstance(item, Comment)]
        )
        if not decoder.looks_like_sse:
            click.echo(
                f"ssechat: warning: {source.display_name} does not look like SSE "
                "(no field or comment lines)",
                err=True,
            )
    writer.flush()
    return ExitStatus.OK
