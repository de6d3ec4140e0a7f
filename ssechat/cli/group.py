"""The click group `ssechat`: its options, and its four commands loaded on first use."""

from __future__ import annotations

import click

from ssechat import __version__
from ssechat.cli.common import (
    EXAMPLES_HEADING,
    SsechatGroup,
    debug_option,
    get_env,
    quiet_option,
)

ROOT_EXAMPLES = """\
  ssechat parse-sse examples/openai-tool-call.sse
  curl -sN "$URL" -d @body.json | ssechat parse-sse --text
  ssechat parse-sse --events capture.sse | jq -r .data
"""


@click.group(
    cls=SsechatGroup,
    lazy_commands={
        "parse-sse": "ssechat.cli.parse_sse_click:parse_sse_cmd",
        "repair-json": "ssechat.cli.repair_json:repair_json_cmd",
        "replay": "ssechat.cli.replay:replay_cmd",
        "send": "ssechat.cli.send:send_cmd",
    },
    context_settings={"help_option_names": ["-h", "--help"]},
    epilog=EXAMPLES_HEADING + ROOT_EXAMPLES,
)
@click.version_option(__version__, "-V", "--version", prog_name="ssechat")
@quiet_option
@debug_option
@click.pass_context
def cli(ctx: click.Context) -> None:
    """Stream LLM responses over Server-Sent Events, Unix-pipe style.

    Every command writes data to stdout and messages to stderr, and exits
    with a documented status (see `man ssechat`).
    """
    get_env(ctx)  # main() gave one; click's test runner gets one made here
