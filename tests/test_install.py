"""`pip install .` into a fresh virtual environment puts the man pages and the
completions where man, bash-completion, zsh and fish look (setup.cfg
[options.data_files]), and each of them finds its file there."""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

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


def _can_build_offline() -> bool:
    """Whether setuptools can build a wheel here without fetching anything."""
    if importlib.util.find_spec("wheel") is not None:
        return True
    import setuptools

    major, minor = (int(x) for x in setuptools.__version__.split(".")[:2])
    return (major, minor) >= (70, 1)  # bdist_wheel moved into setuptools


@pytest.fixture(scope="module")
def venv(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    tmp = tmp_path_factory.mktemp("install")
    src = tmp / "src"
    src.mkdir()
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    for name in SOURCES:
        path = ROOT / name
        if path.is_dir():
            shutil.copytree(path, src / name, ignore=ignore)
        else:
            shutil.copy2(path, src / name)
    env_dir = tmp / "venv"
    # --system-site-packages: the venv uses this interpreter's pip and the
    # runtime dependencies already installed, so the install is fast and offline.
    subprocess.run(
        [sys.executable, "-m", "venv", "--without-pip", "--system-site-packages", str(env_dir)],
        check=True,
        timeout=120,
    )
    pip = [str(env_dir / "bin" / "python"), "-m", "pip", "install", "--no-deps", "-q"]
    if _can_build_offline():
        pip.append("--no-build-isolation")
    done = subprocess.run(
        [*pip, str(src)],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "PIP_DISABLE_PIP_VERSION_CHECK": "1"},
    )
    assert done.returncode == 0, done.stdout + done.stderr
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


def test_the_installed_command_runs(venv: Path) -> None:
    done = subprocess.run(
        [str(venv / "bin" / "ssechat"), "--version"], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("ssechat")


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
