"""ssechat: stream LLM responses over Server-Sent Events, Unix-pipe style.

The command line is `ssechat`; the same core is a small Python API:

    >>> import ssechat
    >>> for event in ssechat.parse(open("capture.sse", "rb")): ...
    >>> ssechat.repair_json('{"city": "Paris"').value

`parse` (normalized events), `summarize` (one row per response), `events`
(plain SSE events) and `repair_json` behave as `parse-sse`, `parse-sse
--summary`, `parse-sse --events` and `repair-json`; errors are exceptions
whose `exit_status` is the command's. Everything not in `__all__` is
private. The implementation (`ssechat._api`) is imported on first use, so
`import ssechat` stays fast.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

if TYPE_CHECKING:
    from ssechat._api import (
        Source,
        SsechatWarning,
        TruncatedJSONError,
        events,
        parse,
        repair_json,
        summarize,
    )
    from ssechat.errors import (
        EventTooLargeError,
        ExitStatus,
        InputError,
        SsechatError,
        UsageError,
    )
    from ssechat.repair import Repair, RepairError
    from ssechat.verdict import TruncatedStreamError

__all__ = [
    "EventTooLargeError",
    "ExitStatus",
    "InputError",
    "Repair",
    "RepairError",
    "Source",
    "SsechatError",
    "SsechatWarning",
    "TruncatedJSONError",
    "TruncatedStreamError",
    "UsageError",
    "__version__",
    "events",
    "parse",
    "repair_json",
    "summarize",
]

_HOMES = {
    "EventTooLargeError": "ssechat.errors",
    "ExitStatus": "ssechat.errors",
    "InputError": "ssechat.errors",
    "SsechatError": "ssechat.errors",
    "UsageError": "ssechat.errors",
    "Repair": "ssechat.repair",
    "RepairError": "ssechat.repair",
    "TruncatedStreamError": "ssechat.verdict",
}


if not TYPE_CHECKING:  # type checkers see the imports above, and no catch-all attribute

    def __getattr__(name: str) -> Any:
        """Import a public name on first use (PEP 562)."""
        if name not in __all__:
            raise AttributeError(f"module 'ssechat' has no attribute {name!r}")
        value = getattr(importlib.import_module(_HOMES.get(name, "ssechat._api")), name)
        globals()[name] = value
        return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
