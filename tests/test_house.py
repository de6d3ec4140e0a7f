"""The house rules of issue #15, measured: module, function and docstring sizes.

Every module of the package stays within 400 lines and its docstring within
20; every function within 60 lines and 15 decision points. A decision point
is a branch (`if`, `elif`, a conditional expression, a `match` case), a loop
(`for`, `while`, each `for` of a comprehension), each extra operand of
`and`/`or`, each comprehension condition and each `except` clause; a nested
function is measured on its own. ruff's mccabe check (C901, configured in
pyproject.toml) enforces a close cousin of the same limit while editing.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from tests.conftest import ROOT

MAX_MODULE_LINES = 400
MAX_DOCSTRING_LINES = 20
MAX_FUNCTION_LINES = 60
MAX_DECISIONS = 15

_BRANCHES = (ast.If, ast.IfExp, ast.For, ast.AsyncFor, ast.While, ast.ExceptHandler, ast.match_case)
_SCOPES = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)


def decisions(function: ast.FunctionDef | ast.AsyncFunctionDef) -> int:
    """The decision points of `function`'s own body (nested functions excluded)."""
    count = 0
    stack = list(ast.iter_child_nodes(function))
    while stack:
        node = stack.pop()
        if isinstance(node, _SCOPES):
            continue
        if isinstance(node, _BRANCHES):
            count += 1
        elif isinstance(node, ast.BoolOp):
            count += len(node.values) - 1
        elif isinstance(node, ast.comprehension):
            count += 1 + len(node.ifs)
        stack.extend(ast.iter_child_nodes(node))
    return count


def breaches(path: Path) -> list[str]:
    """What in the module at `path` breaks a house rule, one line each."""
    source = path.read_text(encoding="utf-8")
    tree = ast.parse(source)
    name = path.relative_to(ROOT).as_posix() if path.is_relative_to(ROOT) else path.name
    found = []
    if len(source.splitlines()) > MAX_MODULE_LINES:
        found.append(f"{name}: module over {MAX_MODULE_LINES} lines")
    docstring = ast.get_docstring(tree, clean=False) or ""
    if len(docstring.splitlines()) > MAX_DOCSTRING_LINES:
        found.append(f"{name}: docstring over {MAX_DOCSTRING_LINES} lines")
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            assert node.end_lineno is not None
            if node.end_lineno - node.lineno + 1 > MAX_FUNCTION_LINES:
                found.append(f"{name}: {node.name} over {MAX_FUNCTION_LINES} lines")
            if decisions(node) > MAX_DECISIONS:
                found.append(f"{name}: {node.name} over {MAX_DECISIONS} decisions")
    return found


def _all_breaches() -> set[str]:
    return {line for path in sorted((ROOT / "ssechat").rglob("*.py")) for line in breaches(path)}


def test_the_house_rules_hold() -> None:
    found = sorted(_all_breaches())
    assert not found, "house rules broken:\n" + "\n".join(found)


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("def f():\n    return 1\n", 0),
        ("def f(a, b):\n    if a and b or a:\n        pass\n    elif b:\n        pass\n", 4),
        ("def f(xs):\n    return [x for x in xs if x if not x] or 1 if xs else 2\n", 5),
        (
            "def f():\n    try:\n        pass\n    except A:\n        pass\n"
            "    except B:\n        pass\n",
            2,
        ),
        ("def f(x):\n    while x:\n        def g():\n            if x: pass\n        x -= 1\n", 1),
    ],
)
def test_decisions_are_counted_as_the_rule_says(source: str, expected: int) -> None:
    function = ast.parse(source).body[0]
    assert isinstance(function, ast.FunctionDef)
    assert decisions(function) == expected


def test_ruff_enforces_the_decision_limit() -> None:
    config = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    select = re.search(r"^\[tool\.ruff\.lint\]\nselect = \[(.*?)\]", config, re.M | re.S)
    assert select is not None and '"C90"' in select.group(1)
    limit = re.search(
        r"^\[tool\.ruff\.lint\.mccabe\]\n[^[]*?^max-complexity = (\d+)$", config, re.M
    )
    assert limit is not None and int(limit.group(1)) <= MAX_DECISIONS


def test_each_rule_is_measured(tmp_path: Path) -> None:
    """A module breaking every rule at once is reported for each (the check can fail)."""
    docstring = '"""' + "line\n" * 21 + '"""\n'
    long_function = "def long():\n" + "    x = 1\n" * 60
    branchy = "def branchy(x):\n" + "".join(f"    if x == {n}:\n        pass\n" for n in range(16))
    module = tmp_path / "bad.py"
    module.write_text(docstring + long_function + branchy + "\n" * 400, encoding="utf-8")
    assert sorted(breaches(module)) == [
        "bad.py: branchy over 15 decisions",
        "bad.py: docstring over 20 lines",
        "bad.py: long over 60 lines",
        "bad.py: module over 400 lines",
    ]
