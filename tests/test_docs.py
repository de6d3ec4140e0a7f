"""man/ and completions/: in sync with the code, lint-clean, complete (ssechat/_docgen.py)."""

from __future__ import annotations

import difflib
import os
import re
import shutil
import subprocess
import sys
import typing
from pathlib import Path

import click
import pytest
from hypothesis import given
from hypothesis import strategies as st

from ssechat import _docgen, _roff
from ssechat.cli.group import cli
from ssechat.cli.manual import ENVIRONMENT, NORMALIZED_EVENTS, PAGES
from ssechat.errors import ExitStatus
from tests.conftest import ROOT, run_ssechat

GENERATED = _docgen.render_all()
COMMANDS = _docgen.commands()
PAGE_FILES = sorted(ROOT.glob("man/*.1"))
# The four commands of the contract: a missing one fails here, not in silence.
ISSUE_COMMANDS = ("send", "parse-sse", "repair-json", "replay")


def _page(name: str | None) -> Path:
    return ROOT / "man" / f"{_docgen.page_name(name)}.1"


def _need(tool: str) -> str:
    path = shutil.which(tool)
    if path is None:
        pytest.skip(f"{tool} is not installed (CI installs it with apt-get in .ci/run)")
    return path


def _existing(name: str) -> click.Command:
    assert name in COMMANDS, f"`ssechat {name}` is missing"
    return COMMANDS[name]


# -- in sync ---------------------------------------------------------------------


@pytest.mark.parametrize("rel", sorted(GENERATED))
def test_committed_file_is_what_the_code_generates(rel: str) -> None:
    path = ROOT / rel
    committed = path.read_text(encoding="utf-8") if path.is_file() else ""
    if committed != GENERATED[rel]:
        diff = "".join(
            list(
                difflib.unified_diff(
                    committed.splitlines(keepends=True),
                    GENERATED[rel].splitlines(keepends=True),
                    f"{rel} (committed)",
                    f"{rel} (from the code)",
                )
            )[:40]
        )
        pytest.fail(
            f"{rel} is out of date with the click commands or ssechat/cli/manual.py.\n"
            f"Regenerate with `{_docgen.REGENERATE}` and commit the result.\n{diff}"
        )


def test_no_page_for_a_command_that_is_gone() -> None:
    assert _docgen.stale(ROOT) == [], f"stale pages: run `{_docgen.REGENERATE}`"


def test_check_mode_names_the_command_to_run(tmp_path: Path) -> None:
    for rel in ("setup.cfg", "ssechat"):
        os.symlink(ROOT / rel, tmp_path / rel)
    generate = [sys.executable, "-m", "ssechat._docgen", "--root", str(tmp_path)]
    check = [*generate, "--check"]
    subprocess.run(generate, capture_output=True, check=True, timeout=60)
    overview = (tmp_path / "man/ssechat.1").read_text(encoding="utf-8")
    clean = subprocess.run(check, capture_output=True, text=True, timeout=60)
    assert (clean.returncode, clean.stderr) == (0, "")

    (tmp_path / "man/ssechat.1").write_text("drifted\n", encoding="utf-8")
    (tmp_path / "man/ssechat-gone.1").write_text("a removed command\n", encoding="utf-8")
    drifted = subprocess.run(check, capture_output=True, text=True, timeout=60)
    assert drifted.returncode == 1
    assert "out of date: man/ssechat.1" in drifted.stderr
    assert "out of date: man/ssechat-gone.1" in drifted.stderr
    assert "make docs" in drifted.stderr

    # Without --check it rewrites the drifted page and removes the stale one.
    subprocess.run(generate, capture_output=True, check=True, timeout=60)
    assert (tmp_path / "man/ssechat.1").read_text(encoding="utf-8") == overview
    assert not (tmp_path / "man/ssechat-gone.1").exists()


def test_makefile_docs_target_runs_the_generator() -> None:
    make = _need("make")
    dry = subprocess.run([make, "-n", "docs"], cwd=ROOT, capture_output=True, text=True)
    assert dry.returncode == 0, dry.stderr
    assert "-m ssechat._docgen" in dry.stdout


# -- lint and rendering ------------------------------------------------------------


@pytest.mark.parametrize("page", PAGE_FILES, ids=lambda p: p.name)
def test_groff_renders_without_warnings(page: Path) -> None:
    groff = _need("groff")
    # groff exits 0 even when it warns: the empty stderr is the assertion.
    done = subprocess.run(
        [groff, "-man", "-Tutf8", "-ww", "-z", str(page)], capture_output=True, text=True
    )
    assert (done.returncode, done.stderr) == (0, "")


@pytest.mark.parametrize("page", PAGE_FILES, ids=lambda p: p.name)
def test_mandoc_lint_is_clean(page: Path) -> None:
    mandoc = _need("mandoc")
    done = subprocess.run([mandoc, "-T", "lint", str(page)], capture_output=True, text=True)
    assert (done.returncode, done.stdout, done.stderr) == (0, "", "")


def _man(page: Path) -> str:
    man = _need("man")
    env = {**os.environ, "MANWIDTH": "100", "MANPAGER": "cat", "PAGER": "cat", "LC_ALL": "C.UTF-8"}
    done = subprocess.run(
        [man, "-l", str(page)], capture_output=True, text=True, env=env, timeout=60
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


@pytest.mark.parametrize("name", ISSUE_COMMANDS)
def test_man_shows_every_option_and_section(name: str) -> None:
    command = _existing(name)
    text = _man(_page(name))
    for heading in ("NAME", "SYNOPSIS", "DESCRIPTION", "OPTIONS", "EXIT STATUS"):
        assert re.search(rf"^{heading}$", text, re.MULTILINE), heading
    for heading in ("ENVIRONMENT", "EXAMPLES", "SEE ALSO"):
        assert re.search(rf"^{heading}$", text, re.MULTILINE), heading
    assert f"ssechat {name} " in text  # the synopsis
    for param in command.params:
        if isinstance(param, click.Option) and not param.hidden:
            for opt in (*param.opts, *param.secondary_opts):
                assert opt in text, f"{opt} missing from `man -l {_page(name).name}`"


def test_man_overview_lists_commands_schema_statuses_and_environment() -> None:
    text = _man(_page(None))
    for name in COMMANDS:
        assert re.search(rf"^ +{re.escape(name)}\b", text, re.MULTILINE), name
        assert f"ssechat-{name}(1)" in text
    for event_type in ("start", "delta", "tool_call", "usage", "error", "done"):
        assert re.search(rf"^ +{event_type}\b", text, re.MULTILINE), event_type
    for status in ExitStatus:
        assert re.search(rf"^ +{int(status)} ", text, re.MULTILINE), status
    for variable in ("SSECHAT_DEBUG", "OPENAI_API_KEY", "ANTHROPIC_API_KEY", "COZE_API_TOKEN"):
        assert variable in text
    for variable in ("SSECHAT_API_KEY", "HTTPS_PROXY", "NO_PROXY", "REQUESTS_CA_BUNDLE"):
        assert variable in text


# -- complete: every command, option, default, status --------------------------------


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_every_option_has_help_and_its_default_in_the_page(name: str) -> None:
    command, ctx = _docgen._contexts(name)
    roff = " ".join(GENERATED[f"man/ssechat-{name}.1"].split())  # unwrapped
    assert command.help and command.short_help, f"`ssechat {name}` needs help and short_help"
    assert name in PAGES, f"add the hand-written part of `ssechat {name}` to ssechat/cli/manual.py"
    for param in command.get_params(ctx):
        if not isinstance(param, click.Option) or param.hidden:
            continue
        assert param.help, f"ssechat {name} {param.opts[0]} has no help text"
        for opt in (*param.opts, *param.secondary_opts):
            assert _roff.escape(opt) in roff
        default = _docgen.option_default(param, ctx)
        if default is not None:
            assert f"Default: \\fB{_roff.escape(default)}\\fR" in roff
        if isinstance(param.type, click.Choice):
            for choice in param.type.choices:
                assert f"\\fB{_roff.escape(str(choice))}\\fR" in roff


def test_every_exit_status_is_documented_once_in_errors_py() -> None:
    docs = _docgen.exit_statuses()
    assert set(docs) == set(ExitStatus)
    overview = GENERATED["man/ssechat.1"]
    for status, text in docs.items():
        assert f".TP\n\\fB{int(status)}\\fR\n" in overview
        assert _roff.inline(text) in overview


def test_every_provider_variable_is_in_environment() -> None:
    from ssechat import providers

    table = providers.PROVIDERS
    assert table
    documented = " ".join(ENVIRONMENT)
    for provider in table.values():
        for attr in ("key_env", "base_url_env"):
            variable = getattr(provider, attr, None)
            if variable:
                assert variable in documented, f"{variable} is missing from manual.ENVIRONMENT"


def test_every_normalized_event_type_and_field_is_in_the_overview() -> None:
    from ssechat import normalized as events

    documented = dict(NORMALIZED_EVENTS)
    found = 0
    for value in vars(events).values():
        if not (isinstance(value, type) and typing.is_typeddict(value)):
            continue
        hints = typing.get_type_hints(value)
        if "type" not in hints or typing.get_origin(hints["type"]) is not typing.Literal:
            continue
        for event_type in typing.get_args(hints["type"]):
            found += 1
            assert event_type in documented, f"{event_type} is missing from NORMALIZED_EVENTS"
            for field in hints:
                if field != "type":
                    assert f"`{field}`" in documented[event_type], f"{event_type}.{field}"
    assert found, "ssechat.normalized declares no event TypedDicts"


@pytest.mark.parametrize("name", [None, *sorted(COMMANDS)], ids=lambda n: n or "ssechat")
def test_help_ends_with_the_examples_of_the_page(name: str | None) -> None:
    command = cli if name is None else COMMANDS[name]
    _, lines, after = _docgen.examples(command)
    where = "ssechat" + (f" {name}" if name else "")
    assert 2 <= len(lines) <= 3, f"`{where} --help` should end with 2-3 examples, has {len(lines)}"
    assert not after, f"`{where} --help` has text after its examples; move it above"
    help_text = run_ssechat([*([name] if name else []), "--help"]).stdout.decode()
    last = [line.strip() for line in help_text.strip().splitlines()[-len(lines) :]]
    assert last == lines
    roff = GENERATED[f"man/{_docgen.page_name(name)}.1"]
    examples = roff.split(".SH EXAMPLES\n", 1)[1]
    for line in lines:
        assert _roff.escape(line) in examples


# -- completions: syntax, and that they are click's --------------------------------


@pytest.mark.parametrize(
    ("shell", "file"),
    [("bash", "ssechat.bash"), ("zsh", "_ssechat"), ("fish", "ssechat.fish")],
)
def test_completion_script_parses(shell: str, file: str) -> None:
    exe = _need(shell)
    done = subprocess.run(
        [exe, "-n", str(ROOT / "completions" / file)], capture_output=True, text=True
    )
    assert (done.returncode, done.stderr) == (0, "")


@pytest.mark.parametrize(
    ("shell", "file"),
    [("bash", "ssechat.bash"), ("zsh", "_ssechat"), ("fish", "ssechat.fish")],
)
def test_completion_script_is_what_the_installed_command_prints(shell: str, file: str) -> None:
    printed = run_ssechat([], env={"_SSECHAT_COMPLETE": f"{shell}_source"})
    assert printed.returncode == 0
    committed = (ROOT / "completions" / file).read_text(encoding="utf-8")
    without_note = committed.replace(_docgen._SHELL_NOTE, "")
    expected = printed.stdout.decode()
    if file == _docgen.ZSH_FILE:  # the one deliberate change (see render_completion)
        expected = expected.replace("_ssechat_completion", "_ssechat")
    assert without_note.strip() == expected.strip()


# -- the roff writer -----------------------------------------------------------------


def test_escape_makes_roff_literal() -> None:
    assert _roff.escape("a\\b") == "a\\eb"
    assert _roff.escape("--flush") == "\\-\\-flush"
    assert _roff.escape(".data") == "\\&.data"
    assert _roff.escape("'quoted'") == "\\(aqquoted\\(aq"
    assert _roff.escape("it's") == "it\\(aqs"
    assert _roff.escape("a…b") == "a\\[u2026]b"


def test_backticks_mark_literals_but_not_fences() -> None:
    assert _roff.inline("use `jq -r` now") == "use \\fBjq\\~\\-r\\fR now"
    assert _roff.inline("a ```json fence") == "a \\(ga\\(ga\\(gajson fence"


def test_paragraph_keeps_click_no_rewrap_blocks() -> None:
    assert _roff.paragraph("\b\nline one\n.two") == ".PP\n.nf\nline one\n\\&.two\n.fi\n"
    assert _roff.paragraph("one\ntwo") == ".PP\none two\n"


def test_examples_are_split_out_of_the_epilog() -> None:
    command = click.Command(
        "x", epilog="Some prose.\n\n\b\nExamples:\n  ssechat x a\n  ssechat x b\n\nAfter."
    )
    examples = (["Some prose."], ["ssechat x a", "ssechat x b"], ["After."])
    assert _docgen.examples(command) == examples
    assert _docgen.examples(click.Command("y")) == ([], [], [])


@given(st.text(alphabet=st.sampled_from("ab .'-`\\\u00e9"), max_size=300))
def test_filled_text_is_safe_roff(text: str) -> None:
    for line in _roff.inline(text).split("\n"):
        assert not line.startswith((".", "'")), line  # would be a roff request
        assert line.isascii()
        assert len(line) <= 80 or " " not in line  # only an unbreakable word is longer
        assert not line.endswith("\\"), line  # a trailing backslash joins lines
