"""`pip install .` into a fresh virtual environment: the entry point, the man
pages and the completions land where man, bash-completion, zsh and fish look
(setup.cfg [options.data_files]), and each of them finds its file there.

Offline, in the README's flow (a venv made from a stock Python, then
`pip install '.[test]'`): the wheel is built with this environment's build
tools (setuptools, from the [test] extra) and no index; the new venv sees
this environment's packages for the runtime dependencies only.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
from collections.abc import Iterator
from pathlib import Path

import pytest

import ssechat
from tests.conftest import ROOT

pytestmark = pytest.mark.slow  # one wheel build, a few seconds

# Where README.md and ssechat(1) say the files go, relative to the prefix.
INSTALLED = {
    "share/bash-completion/completions/ssechat.bash": "completions/ssechat.bash",
    "share/zsh/site-functions/_ssechat": "completions/_ssechat",
    "share/fish/vendor_completions.d/ssechat.fish": "completions/ssechat.fish",
    **{f"share/man/man1/{p.name}": f"man/{p.name}" for p in sorted(ROOT.glob("man/*.1"))},
}
SOURCES = ("setup.cfg", "pyproject.toml", "README.md", "LICENSE", "ssechat", "man", "completions")
QUIET_PIP = {"PIP_DISABLE_PIP_VERSION_CHECK": "1", "PIP_NO_INPUT": "1"}


def _run(args: list[str]) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        args, capture_output=True, text=True, timeout=300, env={**os.environ, **QUIET_PIP}
    )
    assert done.returncode == 0, f"{args}:\n{done.stdout}{done.stderr}"
    return done


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The wheel of a copy of the sources, built offline with this environment's setuptools."""
    tmp = tmp_path_factory.mktemp("build")
    src = tmp / "src"
    src.mkdir()
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    for name in SOURCES:
        path = ROOT / name
        if path.is_dir():
            shutil.copytree(path, src / name, ignore=ignore)
        else:
            shutil.copy2(path, src / name)
    pip_wheel = [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-index"]
    done = _run([*pip_wheel, "--no-build-isolation", "-v", "-w", str(tmp / "dist"), str(src)])
    # The build uses no deprecated setuptools configuration (it would break one day).
    assert "Deprecat" not in done.stdout + done.stderr, done.stdout + done.stderr
    (built,) = (tmp / "dist").glob("ssechat-*.whl")
    return built


@pytest.fixture(scope="module")
def venv(wheel: Path) -> Iterator[Path]:
    """A new venv with ssechat installed from the wheel, as `pip install .` does."""
    env_dir = wheel.parent.parent / "venv"
    _run([sys.executable, "-m", "venv", "--without-pip", str(env_dir)])
    python = str(env_dir / "bin" / "python")
    # This environment's site-packages, after the venv's own: pip and the
    # runtime dependencies (click, requests, ...) without an index.
    site = _run([python, "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"])
    outer = {sysconfig.get_path("purelib"), sysconfig.get_path("platlib")}
    Path(site.stdout.strip(), "_outer_env.pth").write_text("\n".join(sorted(outer)) + "\n")
    # --ignore-installed: this environment's own ssechat, visible through the
    # .pth, is neither uninstalled nor taken for the new one.
    _run([python, "-m", "pip", "install", "-q", "--no-deps", "--no-index", "--ignore-installed",
          str(wheel)])  # fmt: skip
    yield env_dir


def _env(venv: Path, **extra: str) -> dict[str, str]:
    home = venv.parent / "home"
    home.mkdir(exist_ok=True)
    return {
        **os.environ,
        "PATH": f"{venv / 'bin'}{os.pathsep}{os.environ.get('PATH', '')}",
        "HOME": str(home),
        "XDG_CONFIG_HOME": str(home / "config"),
        "XDG_DATA_HOME": str(home / "data"),
        "XDG_CACHE_HOME": str(home / "cache"),
        **extra,
    }


def _need(tool: str) -> str:
    path = shutil.which(tool)
    if path is None:
        pytest.skip(f"{tool} is not installed (CI installs it with apt-get in .ci/run)")
    return path


@pytest.mark.parametrize("installed", sorted(INSTALLED))
def test_file_is_installed_under_the_prefix(venv: Path, installed: str) -> None:
    path = venv / installed
    assert path.is_file(), f"{installed} is missing from the venv"
    assert path.read_bytes() == (ROOT / INSTALLED[installed]).read_bytes()


def test_the_entry_point_runs_the_installed_package(venv: Path) -> None:
    script = venv / "bin" / "ssechat"
    assert script.read_text().splitlines()[0] == f"#!{venv / 'bin' / 'python'}"
    done = subprocess.run([str(script), "--version"], capture_output=True, text=True, timeout=60)
    assert (done.returncode, done.stderr) == (0, "")
    assert done.stdout == f"ssechat, version {ssechat.__version__}\n"
    where = subprocess.run(
        [str(venv / "bin" / "python"), "-c", "import ssechat.cli; print(ssechat.cli.__file__)"],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=venv,  # not the checkout, whose ssechat/ would be imported first
    )
    assert Path(where.stdout.strip()).is_relative_to(venv), where.stdout + where.stderr
    done = subprocess.run(
        [str(script), "parse-sse", "--text", str(ROOT / "examples" / "openai-tool-call.sse")],
        capture_output=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr


def test_man_finds_the_pages(venv: Path) -> None:
    man = _need("man")
    for page in ("ssechat", "ssechat-parse-sse"):
        done = subprocess.run(
            [man, "-M", str(venv / "share" / "man"), "-w", page],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert done.returncode == 0, done.stderr
        assert Path(done.stdout.strip()) == venv / "share" / "man" / "man1" / f"{page}.1"
    shown = subprocess.run(
        [man, "-M", str(venv / "share" / "man"), "ssechat-send"],
        capture_output=True,
        text=True,
        timeout=60,
        env=_env(venv, MANPAGER="cat", PAGER="cat", MANWIDTH="80"),
    )
    assert shown.returncode == 0, shown.stderr
    assert "--idle-timeout" in shown.stdout


def test_bash_completion_loads_the_installed_file(venv: Path) -> None:
    bash = _need("bash")
    script = Path("/usr/share/bash-completion/bash_completion")
    if not script.is_file():
        pytest.skip("bash-completion is not installed (CI installs it with apt-get)")
    done = subprocess.run(
        [
            bash,
            "--norc",
            "--noprofile",
            "-c",
            f"source {script}; __load_completion ssechat && complete -p ssechat",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        env=_env(venv, XDG_DATA_DIRS=str(venv / "share")),
    )
    assert done.returncode == 0, done.stderr
    assert "-F _ssechat_completion ssechat" in done.stdout


def test_zsh_compinit_finds_the_installed_function(venv: Path) -> None:
    zsh = _need("zsh")
    site = venv / "share" / "zsh" / "site-functions"
    done = subprocess.run(
        [
            zsh,
            "-f",
            "-c",
            f"fpath=({site} $fpath); autoload -Uz compinit; compinit -u -D;"
            " print -r -- $_comps[ssechat]",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        env=_env(venv),
    )
    assert (done.returncode, done.stdout.strip()) == (0, "_ssechat"), done.stderr


def test_fish_completes_from_the_vendor_directory(venv: Path) -> None:
    fish = _need("fish")
    done = subprocess.run(
        # Not --no-config: fish's own config.fish adds the vendor directories
        # of $XDG_DATA_DIRS to $fish_complete_path (the user's is private here).
        [fish, "-c", "complete -C 'ssechat pa'"],
        capture_output=True,
        text=True,
        timeout=60,
        env=_env(venv, XDG_DATA_DIRS=str(venv / "share")),
    )
    assert (done.returncode, done.stderr) == (0, "")
    assert "parse-sse" in [line.split("\t")[0] for line in done.stdout.splitlines()]
