"""Generate man/*.1 and completions/* from the click commands: `python -m ssechat._docgen`.

`make docs` runs this; tests/test_docs.py checks that the committed files are
exactly what it generates. Sources, one each: the click tree (NAME, SYNOPSIS,
DESCRIPTION, OPTIONS with their defaults, and EXAMPLES from each command's
epilog, so `--help` and the page cannot differ), ssechat/cli/manual.py (the
prose click cannot know), the docstrings of `ssechat.errors.ExitStatus`
(EXIT STATUS) and click's own shell-completion scripts (completions/), with
one fix on top for zsh (see render_completion). The roff text itself is made
by `ssechat._roff`. Why a renderer of our own rather than click-man or
sphinx-click, and which click to generate with: docs/replay.md.
"""

from __future__ import annotations

import argparse
import ast
import inspect
import itertools
import re
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Final

import click
from click.shell_completion import BashComplete, FishComplete, ShellComplete, ZshComplete

from ssechat import __version__
from ssechat._roff import (
    block,
    chars,
    definitions,
    escape,
    fill,
    markup,
    paragraph,
    protect,
    section,
)
from ssechat.cli.common import EXAMPLES_HEADING
from ssechat.cli.group import cli
from ssechat.cli.manual import DATE, ENVIRONMENT, FILES, PAGES, Page
from ssechat.errors import ExitStatus

PROG: Final = "ssechat"
COMPLETE_VAR: Final = "_SSECHAT_COMPLETE"
REGENERATE: Final = "make docs  (or: python -m ssechat._docgen)"
_MAN_NOTE: Final = (
    '.\\" Generated from the click commands and ssechat/cli/manual.py by\n'
    '.\\" `python -m ssechat._docgen` (make docs). Do not edit.\n'
)
_SHELL_NOTE: Final = (
    "# Generated from click's shell completion by `python -m ssechat._docgen` (make docs).\n"
    "# Do not edit. It asks ssechat itself what to complete at TAB time.\n"
)
ZSH_FILE: Final = f"_{PROG}"
# File name -> click's completion class. Names are what each shell looks for:
# bash-completion loads <cmd>.bash, zsh autoloads _<cmd> from $fpath, fish <cmd>.fish.
COMPLETIONS: Final[dict[str, type[ShellComplete]]] = {
    "ssechat.bash": BashComplete,
    ZSH_FILE: ZshComplete,
    "ssechat.fish": FishComplete,
}

# -- what click knows --------------------------------------------------------------


def help_paragraphs(text: str | None) -> list[str]:
    """click's help text as its paragraphs (after cleandoc, up to a `\\f`)."""
    body = inspect.cleandoc(text or "").split("\f")[0]
    return [p for p in re.split(r"\n\s*\n", body) if p.strip()]


def commands() -> dict[str, click.Command]:
    """The subcommands, in the order `ssechat --help` lists them."""
    ctx = click.Context(cli, info_name=PROG)
    found = (cli.get_command(ctx, name) for name in cli.list_commands(ctx))
    return {c.name: c for c in found if c is not None and c.name and not c.hidden}


def _contexts(name: str | None) -> tuple[click.Command, click.Context]:
    """The command and a context like the one click makes when it runs it.

    show_default=True: the page gives every option's default, also where
    --help leaves it out (an option's own show_default=False still wins).
    """
    root = click.Context(cli, info_name=PROG, show_default=True, **cli.context_settings)
    if name is None:
        return cli, root
    command = commands()[name]
    settings = {"show_default": True, **command.context_settings}
    return command, click.Context(command, info_name=name, parent=root, **settings)


def option_term(param: click.Option, ctx: click.Context) -> str:
    # Short options first, as --help lists them.
    opts = sorted(param.opts, key=lambda o: len(o) - len(o.lstrip("-/")))
    names = ", ".join(f"\\fB{escape(o)}\\fR" for o in opts)
    if param.secondary_opts:
        names += " / " + ", ".join(f"\\fB{escape(o)}\\fR" for o in param.secondary_opts)
    if param.is_flag or param.count:
        return names
    if isinstance(param.type, click.Choice):
        # `\:` lets groff break a long list of choices after a bar.
        choices = "|\\:".join(f"\\fB{escape(str(c))}\\fR" for c in param.type.choices)
        return f"{names} {{{choices}}}"
    return f"{names} \\fI{escape(param.make_metavar(ctx))}\\fR"


def option_default(param: click.Option, ctx: click.Context) -> str | None:
    """The default as --help would show it, without click's parentheses."""
    default = param.get_help_extra(ctx).get("default")
    if default is None:
        return None
    if isinstance(param.show_default, str):
        return param.show_default
    return default


def _envvars(param: click.Option) -> list[str]:
    # Whether or not --help shows it (show_envvar), the page names it.
    if not param.envvar:
        return []
    return [param.envvar] if isinstance(param.envvar, str) else list(param.envvar)


def option_environment(names: Iterable[str | None], qualify: bool) -> list[tuple[str, str]]:
    """ENVIRONMENT rows for the options of these commands that read a variable."""
    rows = []
    for name in names:
        command, ctx = _contexts(name)
        for param in command.get_params(ctx):
            if isinstance(param, click.Option) and not param.hidden:
                where = f"`{param.opts[-1]}`" + (
                    f" of `ssechat {name}`" if name and qualify else ""
                )
                rows += [(v, f"The default of {where}.") for v in _envvars(param)]
    return rows


def option_text(param: click.Option, ctx: click.Context) -> str:
    extra = param.get_help_extra(ctx)
    notes: list[str] = []
    default = option_default(param, ctx)
    if default is not None:
        notes.append(f"Default: \\fB{escape(default)}\\fR.")
    if "range" in extra:
        notes.append(f"Range: {escape(extra['range'])}.")
    if param.multiple:
        notes.append("May be given more than once.")
    variables = _envvars(param)
    if variables:
        notes.append("Environment: " + ", ".join(escape(e) for e in variables) + ".")
    if extra.get("required"):
        notes.append("Required.")
    help_text = " ".join(markup(p) for p in help_paragraphs(param.help))
    return fill(" ".join(t for t in (help_text, *notes) if t))


def options(command: click.Command, ctx: click.Context) -> str:
    items = []
    for param in command.get_params(ctx):
        if isinstance(param, click.Option) and not param.hidden:
            items.append(f".TP\n{option_term(param, ctx)}\n{option_text(param, ctx)}\n")
    return "".join(items)


def usage(command: click.Command, ctx: click.Context) -> str:
    pieces = " ".join(command.collect_usage_pieces(ctx))
    words = re.split(r"(\b[A-Z][A-Z_]+\b)", pieces)
    rest = "".join(f"\\fI{chars(w)}\\fR" if i % 2 else chars(w) for i, w in enumerate(words))
    return protect(f"\\fB{chars(ctx.command_path)}\\fR {rest}")


def examples(command: click.Command) -> tuple[list[str], list[str], list[str]]:
    """The epilog split into (prose before, example lines, prose after).

    The examples are the lines under EXAMPLES_HEADING up to the next blank line.
    """
    epilog = inspect.cleandoc(command.epilog or "")
    heading = EXAMPLES_HEADING.strip("\n")
    if heading not in epilog:
        return help_paragraphs(epilog), [], []
    before, after = epilog.split(heading, 1)
    lines = after.lstrip("\n").split("\n")
    end = next((i for i, line in enumerate(lines) if not line.strip()), len(lines))
    found = [line.strip() for line in lines[:end]]
    return help_paragraphs(before), found, help_paragraphs("\n".join(lines[end:]))


def exit_statuses() -> dict[ExitStatus, str]:
    """Each ExitStatus with its docstring (the string literal after the member)."""
    tree = ast.parse(inspect.getsource(ExitStatus))
    body = tree.body[0].body  # type: ignore[attr-defined]
    docs: dict[ExitStatus, str] = {}
    for stmt, nxt in itertools.pairwise(body):
        if (
            isinstance(stmt, ast.Assign)
            and isinstance(stmt.targets[0], ast.Name)
            and isinstance(nxt, ast.Expr)
            and isinstance(nxt.value, ast.Constant)
            and isinstance(nxt.value.value, str)
        ):
            docs[ExitStatus[stmt.targets[0].id]] = " ".join(nxt.value.value.split())
    missing = [s.name for s in ExitStatus if s not in docs]
    if missing:
        raise SystemExit(f"_docgen: ExitStatus members without a docstring: {missing}")
    return docs


# -- pages ------------------------------------------------------------------------


def page_name(name: str | None) -> str:
    return PROG if name is None else f"{PROG}-{name}"


def render_man(name: str | None) -> str:
    """The man page of the group (name None) or of one command."""
    command, ctx = _contexts(name)
    page = PAGES.get(name or PROG, Page())
    title = escape(page_name(name).upper())
    summary = command.get_short_help_str(limit=200).strip().rstrip(".")
    if summary[1:2].islower():
        summary = summary[0].lower() + summary[1:]
    before, example_lines, after = examples(command)
    out = [
        _MAN_NOTE,
        f'.TH {title} 1 "{DATE}" "{PROG} {escape(__version__)}" "User Commands"\n',
        # No hyphenation and a ragged right edge: option names and literals stay whole.
        ".nh\n.ad l\n",
        section("NAME", f"{escape(page_name(name))} \\- {escape(' '.join(summary.split()))}\n"),
        section("SYNOPSIS", _synopsis(name, command, ctx) + "\n"),
    ]
    description = [paragraph(p) for p in help_paragraphs(command.help)]
    description += [paragraph(p) for p in before] + [block(b) for b in page.description]
    out.append(section("DESCRIPTION", "".join(description)))
    if name is None:
        out.append(section("COMMANDS", _commands_list()))
    out.append(section("OPTIONS", options(command, ctx)))
    out += [section(t, "".join(block(b) for b in blocks)) for t, blocks in page.sections]
    docs = exit_statuses()
    status_rows = ((str(int(s)), docs[s]) for s in page.exit_statuses)
    out.append(section("EXIT STATUS", definitions(status_rows)))
    out.append(section("ENVIRONMENT", definitions(_environment_rows(name, page))))
    if page.files:
        out.append(section("FILES", definitions((k, FILES[k]) for k in page.files)))
    if example_lines:
        out.append(section("EXAMPLES", _examples_text(example_lines, after)))
    out.append(section("SEE ALSO", _see_also(name, page)))
    return "".join(out)


def _synopsis(name: str | None, command: click.Command, ctx: click.Context) -> str:
    """The command's usage; the group's page lists every command's too."""
    synopsis = usage(command, ctx)
    if name is None:
        for sub in commands():
            synopsis += "\n.br\n" + usage(*_contexts(sub))
    return synopsis


def _environment_rows(name: str | None, page: Page) -> list[tuple[str, str]]:
    """The page's variables, then those of its options (every command's, on the group's)."""
    rows = [(k, ENVIRONMENT[k]) for k in page.environment]
    if name is None:
        return rows + option_environment([None, *commands()], qualify=True)
    return rows + option_environment([name], qualify=False)


def _examples_text(example_lines: list[str], after: list[str]) -> str:
    body = "".join(escape(line) + "\n" for line in example_lines)
    return f".PP\n.RS 4\n.nf\n{body}.fi\n.RE\n" + "".join(paragraph(p) for p in after)


def _commands_list() -> str:
    rows = []
    for sub, command in commands().items():
        summary = command.get_short_help_str(limit=200)
        rows.append(
            f".TP\n\\fB{escape(sub)}\\fR\n"
            + fill(f"{markup(summary)} See \\fB{escape(page_name(sub))}\\fR(1).")
            + "\n"
        )
    return "".join(rows)


def _see_also(name: str | None, page: Page) -> str:
    own = [page_name(n) + "(1)" for n in (None, *commands()) if n != name]
    refs = []
    for ref in own + list(page.see_also):
        match = re.fullmatch(r"(.+)\((\w+)\)", ref)
        if match is None:
            raise SystemExit(f"_docgen: SEE ALSO entry {ref!r} is not name(section)")
        refs.append(f"\\fB{escape(match.group(1))}\\fR({match.group(2)})")
    return ",\n".join(refs) + "\n"


def render_completion(file_name: str) -> str:
    """click's completion script, as `_SSECHAT_COMPLETE=<shell>_source ssechat` prints it."""
    completer = COMPLETIONS[file_name](cli, {}, PROG, COMPLETE_VAR)
    variables = completer.source_vars()
    if file_name == ZSH_FILE:
        # click names the function _ssechat_completion. Autoloaded from
        # $fpath, the file's body becomes the function _ssechat: the first TAB
        # runs it (defines and calls _ssechat_completion), but every later TAB
        # runs the body again, which then only re-registers with compdef and
        # completes nothing (found by tests/test_completions.py in zsh). Named
        # _ssechat, the definition replaces the autoload stub, as zsh intends.
        variables["complete_func"] = ZSH_FILE
    # source_template % source_vars() is what .source() returns, minus the
    # bash version probe that runs `bash --version` and may print a warning.
    script = (completer.source_template % variables).strip("\n") + "\n"
    if script.startswith("#compdef"):  # zsh: #compdef must stay the first line
        first, rest = script.split("\n", 1)
        return f"{first}\n{_SHELL_NOTE}{rest}"
    return _SHELL_NOTE + script


def render_all() -> dict[str, str]:
    """Every generated file, by its path relative to the repository root."""
    files = {f"man/{page_name(n)}.1": render_man(n) for n in (None, *commands())}
    files.update({f"completions/{f}": render_completion(f) for f in COMPLETIONS})
    return files


def stale(root: Path) -> list[str]:
    """Generated-looking files that the code no longer produces (a removed command)."""
    expected = render_all()
    found = [f"man/{p.name}" for p in (root / "man").glob(f"{PROG}*.1")]
    return sorted(p for p in found if p not in expected)


def differences(root: Path) -> list[str]:
    """The generated files that are missing, different or stale under root."""
    wrong = [
        rel
        for rel, text in render_all().items()
        if not (root / rel).is_file() or (root / rel).read_text(encoding="utf-8") != text
    ]
    return sorted(wrong + stale(root))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ssechat._docgen", description=__doc__)
    parser.add_argument("--root", type=Path, default=Path.cwd(), help="the repository root")
    parser.add_argument(
        "--check", action="store_true", help="only report files that differ; exit 1 if any"
    )
    args = parser.parse_args(argv)
    root: Path = args.root
    if not (root / "setup.cfg").is_file() or not (root / "ssechat").is_dir():
        parser.error(f"{root} is not the ssechat repository root (use --root)")
    if args.check:
        wrong = differences(root)
        for rel in wrong:
            print(f"out of date: {rel}", file=sys.stderr)
        if wrong:
            print(f"regenerate with: {REGENERATE}", file=sys.stderr)
        return 1 if wrong else 0
    for rel in stale(root):
        (root / rel).unlink()
        print(f"removed {rel}")
    for rel, text in render_all().items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if not path.is_file() or path.read_text(encoding="utf-8") != text:
            path.write_text(text, encoding="utf-8")
            print(f"wrote {rel}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
