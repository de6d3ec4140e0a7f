"""The process's streams and settings (`Environment`), without click.

`main()` builds one per run and every command reads and writes through it;
repair-json's fast path (docs/repair.md, "Start-up") runs with it alone.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from typing import IO, Any, Final, TextIO

# Messages carry text from the input (a provider's error message, a stream's
# error code, a request path): its control characters must neither drive the
# terminal (escape sequences) nor break the one-line rule, so every stderr
# line is shown escaped (line ends as spaces).
ONE_LINE: Final = {
    code: " " if code in (9, 10, 13) else f"\\x{code:02x}"
    for code in (*range(0x20), *range(0x7F, 0xA0))
}


def _isatty(stream: IO[Any]) -> bool:
    try:
        return stream.isatty()
    except (OSError, ValueError, AttributeError):
        return False


class Environment:
    """The process's streams and settings, built once per run and passed down.

    As httpie's `Environment`: `main()` builds one and hands it to click as
    `ctx.obj`; every command reads and writes through it (`get_env`), never
    through `sys.std*` or click's stream getters, so a test can give its own
    streams (`Environment(stdout=io.BytesIO())`). `debug` is set by --debug or
    SSECHAT_DEBUG=1; `quiet` (-q) silences notes and warnings, never errors.
    """

    def __init__(
        self,
        *,
        stdin: IO[bytes] | None = None,
        stdout: IO[bytes] | None = None,
        stderr: IO[bytes] | None = None,
        stdin_text: TextIO | None = None,
        stdout_text: TextIO | None = None,
        stderr_text: TextIO | None = None,
        environ: Mapping[str, str] | None = None,
        debug: bool | None = None,
        quiet: bool = False,
    ) -> None:
        environ = os.environ if environ is None else environ
        self.environ: Mapping[str, str] = environ
        self.stdin_text: TextIO = sys.stdin if stdin_text is None else stdin_text
        self.stdout_text: TextIO = sys.stdout if stdout_text is None else stdout_text
        self.stderr_text: TextIO = sys.stderr if stderr_text is None else stderr_text
        self.stdin: IO[bytes] = self.stdin_text.buffer if stdin is None else stdin
        self.stdout: IO[bytes] = self.stdout_text.buffer if stdout is None else stdout
        self.stderr: IO[bytes] = self.stderr_text.buffer if stderr is None else stderr
        self.stdin_isatty = _isatty(self.stdin)
        self.stdout_isatty = _isatty(self.stdout)
        self.stderr_isatty = _isatty(self.stderr)
        if debug is None:
            debug = environ.get("SSECHAT_DEBUG", "") not in ("", "0")
        self.debug = debug
        self.quiet = quiet

    def error(self, message: str) -> None:
        """One line on stderr, whatever --quiet says."""
        self._line(message)

    def warn(self, message: str) -> None:
        """A note or warning on stderr, unless --quiet."""
        if not self.quiet:
            self._line(message)

    def _line(self, message: str) -> None:
        # click.echo's behaviour for a str on a text stream (ESC is escaped above)
        self.stderr_text.write(message.translate(ONE_LINE) + "\n")
        self.stderr_text.flush()


class ReaderGone(Exception):
    """stdout's reader closed the pipe; raised past click, which would exit 1."""
