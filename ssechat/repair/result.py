"""What a repair returns or raises: `Repair`, the errors, the words for each change.

The change names are the vocabulary of repair-json's stderr notes and of
`--report`; `Repair.changes` holds them in the order the stages ran.
"""

from __future__ import annotations

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


class Repair:
    """The outcome of a repair: the value and what it took to get it.

    Immutable and compared by value, as a frozen dataclass would be; a plain
    class because making a dataclass costs about a millisecond at start-up,
    most of the gap to json_repair's own CLI (bench/run_repair_cli.py).
    """

    __slots__ = ("changes", "truncated", "valid", "value")
    __match_args__ = ("value", "valid", "truncated", "changes")
    value: Any
    valid: bool
    """The input was valid JSON as given (no repair at all)."""
    truncated: bool
    """The input looked cut off (open brackets or string) and was closed."""
    changes: tuple[str, ...]

    def __init__(
        self, value: Any, valid: bool, truncated: bool = False, changes: tuple[str, ...] = ()
    ) -> None:
        set_field = object.__setattr__  # our own __setattr__ refuses
        set_field(self, "value", value)
        set_field(self, "valid", valid)
        set_field(self, "truncated", truncated)
        set_field(self, "changes", changes)

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError(f"cannot assign to field {name!r}")

    def __delattr__(self, name: str) -> None:
        raise AttributeError(f"cannot delete field {name!r}")

    def _fields(self) -> tuple[Any, bool, bool, tuple[str, ...]]:
        return (self.value, self.valid, self.truncated, self.changes)

    def __eq__(self, other: object) -> bool:
        if other.__class__ is not self.__class__:
            return NotImplemented
        assert isinstance(other, Repair)
        return self._fields() == other._fields()

    def __hash__(self) -> int:
        return hash(self._fields())

    def __repr__(self) -> str:
        return (
            f"Repair(value={self.value!r}, valid={self.valid!r}, "
            f"truncated={self.truncated!r}, changes={self.changes!r})"
        )

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
