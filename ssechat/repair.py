"""JSON repair: the one place that turns broken model JSON into valid JSON.

Built on the json-repair package. `parse_tool_arguments` is what the dialects
call to finish a tool call's arguments; `repair-json` is built on the same
functions. json_repair is imported lazily: it costs start-up time that only
the commands that repair should pay.
"""

from __future__ import annotations

import json
from typing import Any

from ssechat.errors import InputError


class RepairError(InputError):
    """The input holds no JSON that can be recovered."""


def parse_tool_arguments(raw: str) -> tuple[Any, bool]:
    """Parse a complete tool call's argument string: (value, repaired).

    An empty string is `{}` (a call with no arguments). Valid JSON is parsed
    as given; anything else goes through json_repair, and a result that is not
    an object or array (prose, a bare string) is refused with RepairError.
    """
    if not raw.strip():
        return {}, False
    try:
        return json.loads(raw), False
    except ValueError:
        pass
    import json_repair

    value = json_repair.loads(raw)
    if not isinstance(value, (dict, list)) or (
        value in ({}, []) and raw.strip() not in ("{}", "[]")
    ):
        raise RepairError(f"cannot repair tool-call arguments: {raw[:60]!r}")
    return value, True
