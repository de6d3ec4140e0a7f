"""completions/: TAB in real shells, through each shell's own completion machinery.

bash: bash-completion's loader finds completions/ssechat.bash by its installed
name and its function is called with COMP_WORDS/COMP_CWORD, as readline calls
it (plus one test typing TAB into an interactive bash in tmux, for file names).
zsh: an interactive `zsh -f` in tmux with compinit and completions/ in $fpath;
keys are typed and the screen is read. fish: `complete -C` with completions/
in $fish_complete_path. The scripts call the installed `ssechat` back, so
these tests also check what the commands answer.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import click
import pytest

from ssechat import _docgen
from tests.conftest import ROOT, ssechat_command

COMPLETIONS = ROOT / "completions"
BASH_COMPLETION = Path("/usr/share/bash-completion/bash_completion")
FILE_NAME = "zz-capture.sse"  # the only entry of the work directory starting "zz-c"
TIMEOUT = 20.0

# Choice options the contract names (a missing one fails); every other Choice
# option is found by introspection.
NAMED_CHOICES = (
    ("parse-sse", "--dialect"),
    ("parse-sse", "--flush"),
    ("send", "--provider"),
    ("send", "--flush"),
    ("send", "--resume"),
)


def _choice_options() -> list[tuple[str, str]]:
    found = {
        (name, param.opts[-1])
        for name, command in _docgen.commands().items()
        for param in command.params
        if isinstance(param, click.Option) and isinstance(param.type, click.Choice)
    }
    return sorted(found | set(NAMED_CHOICES))


def _choices(command: str, option: str) -> list[str]:
    cmd = _docgen.commands().get(command)
    for param in cmd.params if cmd else ():
        if option in param.opts and isinstance(param.type, click.Choice):
            return [str(c) for c in param.type.choices]
    raise AssertionError(f"`ssechat {command}` has no {option} choice option")


def _need(tool: str) -> str:
    path = shutil.which(tool)
    if path is None:
        pytest.skip(f"{tool} is not installed (CI installs it with apt-get in .ci/run)")
    return path


@dataclass(frozen=True)
class Case:
    """A command line typed up to the cursor; `expected` must be offered."""

    words: tuple[str, ...]
    expected: frozenset[str]
    exact: bool = False  # the offer is exactly `expected` (choices)

    @property
    def line(self) -> str:
        return " ".join(self.words)


def _cases() -> list[pytest.ParameterSet]:
    cases = [
        pytest.param(lambda: Case(("ssechat", "pa"), frozenset({"parse-sse"})), id="subcommand"),
        pytest.param(lambda: _option_case("parse-sse", "--dialect", "--dia"), id="option"),
        pytest.param(
            lambda: Case(("ssechat", "parse-sse", "zz-c"), frozenset({FILE_NAME})), id="file"
        ),
    ]
    for command, option in _choice_options():
        cases.append(
            pytest.param(
                lambda c=command, o=option: Case(
                    ("ssechat", c, o, ""), frozenset(_choices(c, o)), exact=True
                ),
                id=f"{command} {option} choices",
            )
        )
    return cases


def _option_case(command: str, option: str, prefix: str) -> Case:
    _choices(command, option)  # fails if the option is gone
    return Case(("ssechat", command, prefix), frozenset({option}))


@pytest.fixture(scope="module")
def shell_env() -> Iterator[tuple[dict[str, str], Path]]:
    """An environment with `ssechat` on PATH, private shell state, and a work dir."""
    with tempfile.TemporaryDirectory(prefix="sc-") as tmp:
        root = Path(tmp)
        bindir = root / "bin"
        bindir.mkdir()
        command = ssechat_command()
        wrapper = bindir / "ssechat"
        wrapper.write_text(f'#!/bin/sh\nexec {shlex.join(command)} "$@"\n')
        wrapper.chmod(0o755)
        work = root / "work"
        work.mkdir()
        (work / FILE_NAME).write_bytes(b"data: {}\n\n")
        (work / "zz-notes.txt").write_text("not this one\n")
        (root / "bash-completion" / "completions").mkdir(parents=True)
        os.symlink(
            COMPLETIONS / "ssechat.bash",
            root / "bash-completion" / "completions" / "ssechat.bash",
        )
        env = {
            "PATH": f"{bindir}{os.pathsep}{os.environ.get('PATH', '')}",
            "HOME": str(root),
            "XDG_CONFIG_HOME": str(root / "config"),
            "XDG_DATA_HOME": str(root / "data"),
            "XDG_CACHE_HOME": str(root / "cache"),
            "BASH_COMPLETION_USER_DIR": str(root / "bash-completion"),
            "LANG": "C.UTF-8",
            "TERM": "xterm",
        }
        for keep in ("SSECHAT_SHARED", "PYENV_ROOT", "PYENV_VERSION", "VIRTUAL_ENV"):
            if keep in os.environ:
                env[keep] = os.environ[keep]
        yield env, work


# -- bash: bash-completion's loader and the completion function --------------------

_BASH_DRIVER = r"""
source "$BASH_COMPLETION_SCRIPT" || exit 90
# Outside readline compopt cannot act: record what the function asks for.
compopt() { local IFS=" "; printf '%s\n' "$*" >> "$COMPOPT_LOG"; }
_completion_loader ssechat   # finds ssechat.bash in $BASH_COMPLETION_USER_DIR
spec=$(complete -p ssechat) || exit 91
func=${spec##*-F }; func=${func%% *}
COMP_WORDS=("$@")
COMP_CWORD=$(( ${#COMP_WORDS[@]} - 1 ))
COMP_LINE="${COMP_WORDS[*]}"
COMP_POINT=${#COMP_LINE}
COMPREPLY=()
"$func" ssechat "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD-1]}"
if (( ${#COMPREPLY[@]} == 0 )) && grep -qx -- '-o default' "$COMPOPT_LOG" 2>/dev/null; then
    # What readline does for `-o default` with no matches: file names.
    mapfile -t COMPREPLY < <(compgen -f -- "${COMP_WORDS[COMP_CWORD]}")
fi
printf '%s\n' "${COMPREPLY[@]}"
"""


def bash_complete(words: tuple[str, ...], env: dict[str, str], work: Path) -> list[str]:
    bash = _need("bash")
    if not BASH_COMPLETION.is_file():
        pytest.skip("bash-completion is not installed (CI installs it with apt-get)")
    log = work.parent / "compopt.log"
    log.unlink(missing_ok=True)
    done = subprocess.run(
        [bash, "--norc", "--noprofile", "-c", _BASH_DRIVER, "bash", *words],
        env={**env, "BASH_COMPLETION_SCRIPT": str(BASH_COMPLETION), "COMPOPT_LOG": str(log)},
        cwd=work,
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
    )
    assert done.returncode == 0, done.stderr
    return [line for line in done.stdout.split("\n") if line]


@pytest.mark.parametrize("make_case", _cases())
def test_bash(make_case: object, shell_env: tuple[dict[str, str], Path]) -> None:
    case: Case = make_case()  # type: ignore[operator]
    offered = bash_complete(case.words, *shell_env)
    _check(case, offered)


# -- fish: complete -C -------------------------------------------------------------


def fish_complete(line: str, env: dict[str, str], work: Path) -> list[str]:
    fish = _need("fish")
    script = f"set -p fish_complete_path {COMPLETIONS}; complete -C {_fish_quote(line)}"
    done = subprocess.run(
        [fish, "--no-config", "-c", script],
        env=env,
        cwd=work,
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
    )
    assert (done.returncode, done.stderr) == (0, "")
    return [entry.split("\t", 1)[0] for entry in done.stdout.split("\n") if entry]


def _fish_quote(text: str) -> str:
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


@pytest.mark.parametrize("make_case", _cases())
def test_fish(make_case: object, shell_env: tuple[dict[str, str], Path]) -> None:
    case: Case = make_case()  # type: ignore[operator]
    _check(case, fish_complete(case.line, *shell_env))


def _check(case: Case, offered: list[str]) -> None:
    if case.exact:
        assert sorted(offered) == sorted(case.expected)
    else:
        assert case.expected <= set(offered), offered


# -- interactive shells in tmux: keys typed, screen read ---------------------------


class Terminal:
    """An interactive shell in a private tmux server."""

    def __init__(self, shell: list[str], env: dict[str, str], work: Path) -> None:
        self.tmux = _need("tmux")
        self.socket = Path(tempfile.mkdtemp(prefix="sct-")) / "s"
        self.env = env
        self._tmux("new-session", "-d", "-s", "t", "-x", "150", "-y", "40", "-c", str(work), *shell)

    def _tmux(self, *args: str) -> str:
        done = subprocess.run(
            [self.tmux, "-S", str(self.socket), "-f", os.devnull, *args],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=TIMEOUT,
        )
        assert done.returncode == 0, done.stderr
        return done.stdout

    def keys(self, *keys: str) -> None:
        self._tmux("send-keys", "-t", "t", *keys)

    def type(self, text: str) -> None:
        self._tmux("send-keys", "-t", "t", "-l", text)

    def screen(self) -> str:
        return self._tmux("capture-pane", "-p", "-J", "-t", "t")

    def wait_for(self, predicate: object, what: str) -> str:
        deadline = time.monotonic() + TIMEOUT
        while True:
            text = self.screen()
            if predicate(text):  # type: ignore[operator]
                return text
            if time.monotonic() > deadline:
                pytest.fail(f"timed out waiting for {what}; the screen:\n{text}")
            time.sleep(0.1)

    def close(self) -> None:
        subprocess.run(
            [self.tmux, "-S", str(self.socket), "kill-server"],
            env=self.env,
            capture_output=True,
            timeout=TIMEOUT,
        )
        shutil.rmtree(self.socket.parent, ignore_errors=True)


PROMPT = "READY> "


@pytest.fixture(scope="module")
def zsh(shell_env: tuple[dict[str, str], Path]) -> Iterator[Terminal]:
    zsh = _need("zsh")
    env, work = shell_env
    term = Terminal([zsh, "-f"], env, work)
    try:
        # Emacs keys; list the candidates even when a common prefix is inserted.
        term.type(
            f"bindkey -e; unsetopt list_ambiguous; fpath=({COMPLETIONS} $fpath); "
            "autoload -Uz compinit && compinit -u -D; PS1='READY> '; print setup-\"done\""
        )
        term.keys("Enter")
        term.wait_for(lambda s: "setup-done" in s and s.rstrip().endswith(">"), "zsh setup")
        yield term
    finally:
        term.close()


def _last_prompt_and_below(screen: str) -> str:
    return screen[screen.rfind(PROMPT) :]


@pytest.mark.parametrize("make_case", _cases())
def test_zsh(make_case: object, zsh: Terminal) -> None:
    case: Case = make_case()  # type: ignore[operator]
    zsh.keys("C-u", "C-l")  # empty line, clean screen
    zsh.wait_for(lambda s: s.strip() == PROMPT.strip(), "a clean prompt")
    zsh.type(case.line)
    zsh.keys("Tab")
    if len(case.expected) == 1:
        (word,) = case.expected
        # A single match is inserted into the line, after the words typed.
        prefix = " ".join(case.words[:-1])
        pattern = re.compile(rf"{re.escape(PROMPT + prefix)} {re.escape(word)}\b")
        zsh.wait_for(lambda s: bool(pattern.search(s)), f"`{word}` on the line")
    else:
        # Several matches are listed under the line.
        def listed(screen: str) -> bool:
            below = _last_prompt_and_below(screen).split("\n", 1)[-1]
            shown = set(re.findall(r"[^\s]+", below))
            return case.expected <= shown

        screen = zsh.wait_for(listed, f"the list {sorted(case.expected)}")
        below = _last_prompt_and_below(screen).split("\n", 1)[-1]
        assert set(re.findall(r"[^\s]+", below)) == case.expected


def test_bash_readline_completes_a_file_name(shell_env: tuple[dict[str, str], Path]) -> None:
    """TAB in an interactive bash with bash-completion: readline's own file names."""
    bash = _need("bash")
    if not BASH_COMPLETION.is_file():
        pytest.skip("bash-completion is not installed (CI installs it with apt-get)")
    env, work = shell_env
    term = Terminal([bash, "--norc", "--noprofile", "-i"], env, work)
    try:
        term.type(f"source {BASH_COMPLETION}; PS1='{PROMPT}'; echo setup-\"done\"")
        term.keys("Enter")
        term.wait_for(lambda s: "setup-done" in s and s.rstrip().endswith(">"), "bash setup")
        term.type("ssechat parse-sse zz-c")
        term.keys("Tab")
        term.wait_for(lambda s: f"{PROMPT}ssechat parse-sse {FILE_NAME}" in s, "the file name")
        term.keys("C-u")
        term.type("ssechat pa")
        term.keys("Tab")
        term.wait_for(lambda s: f"{PROMPT}ssechat parse-sse" in s, "the subcommand")
    finally:
        term.close()
