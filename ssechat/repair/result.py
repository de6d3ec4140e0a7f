"""What a repair returns or raises: `Repair`, the errors, the words for each change.

The change names are the vocabulary of repair-json's stderr notes and of
`--report`; `Repair.changes` holds them in the order the stages ran.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Final

from ssechat.errors import InputError

FENCE: Final = "fence stripped"
PROSE: Final = "prose stripped"
TRAILING: Final = "trailing text dropped"
JSONP: Final = "JSONP wrapper stripped"
TRUNCATED: Final = "input truncated and closed"
QUOTES: Final = "quotes fixed"
COMMENTS: Final = "comments removed"
LITERALS: Final = "Python/JS literals fixed"
KEYS: Final = "unquoted keys or words quoted"
COMMAS: Final = "commas fixed"
SYNTAX: Final = "syntax fixed"


class RepairError(InputError):
    """The input holds no JSON that can be recovered."""


class RepairTimeout(RepairError):
    """The json_repair fallback ran past its time bound."""


@dataclass(frozen=True)
class Repair:
    """The outcome of a repair: the value and what it took to get it."""

    value: Any
    valid: bool
    """The input was valid JSON as given (no repair at all)."""
    truncated: bool = False
    """The input looked cut off (open brackets or string) and was closed."""
    changes: tuple[str, ...] = field(default=())

    @property
    def repaired(self) -> bool:
        return not self.valid


def preview(text: str) -> str:
    """The start of `text` on one line, quoted, for an error message."""
    line = " ".join(text.split())
    return repr(line[:60] + ("..." if len(line) > 60 else ""))


def checked(result: Repair, text: str) -> Repair:
    """`result`, unless the repair came out as an empty string (RepairError)."""
    if result.value == "" and text.strip() != '""':
        raise RepairError(f"the repair comes out as an empty string: {preview(text)}")
    return result
