"""packaging/setup.sh as a new user meets it: a fresh copy of the checkout, a throw-away HOME, a
virtual environment made from scratch, and the app started through the launcher the script made.

pip downloads from PyPI here (through pip's own cache, which keeps this to about a minute); the
script never runs apt-get in this test (CTS_NO_APT). Nothing is skipped: when this cannot run, it
fails and says why.
"""
from __future__ import annotations

import json
import os
import pwd
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from cts_desktop.store.settings import BUILTIN_PAPER_NAME

from tests.conftest import REPO

SETUP = REPO / "packaging" / "setup.sh"
IGNORED = shutil.ignore_patterns(".git", ".venv", "venv", "build", "dist", "__pycache__", "*.egg-info",
                                 ".pytest_cache", ".mypy_cache", ".ruff_cache", "screens")


def _pip_cache() -> str:
    """pip's cache of the user running the tests (tests/keyring_session.sh moves HOME and
    XDG_CACHE_HOME into a temporary folder, which would make every run download again)."""
    if os.environ.get("PIP_CACHE_DIR"):
        return os.environ["PIP_CACHE_DIR"]
    return str(Path(pwd.getpwuid(os.getuid()).pw_dir) / ".cache" / "pip")


def _copy_checkout(dest: Path) -> Path:
    """The checkout's files (tracked and new, not ignored ones) in ``dest``: what a fresh clone
    holds, with this working tree's changes."""
    git = shutil.which("git")
    listed = None
    if git and (REPO / ".git").exists():
        r = subprocess.run([git, "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=REPO,
                           capture_output=True)
        if r.returncode == 0:
            listed = [p for p in r.stdout.decode().split("\0") if p]
    if listed is None:
        shutil.copytree(REPO, dest, ignore=IGNORED)
        return dest
    for rel in listed:
        src = REPO / rel
        if src.is_file():
            (dest / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest / rel)
    return dest


def _setup_env(tmp: Path) -> dict:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("VIRTUAL_ENV", "PYTHONPATH", "PYTHONHOME", "CTS_", "PIP_REQUIRE"))}
    home = tmp / "home"
    home.mkdir()
    env.update(HOME=str(home), XDG_DATA_HOME=str(home / ".local" / "share"),
               XDG_CONFIG_HOME=str(home / ".config"), XDG_CACHE_HOME=str(home / ".cache"),
               CTS_VENV=str(tmp / "venv"), CTS_BIN_DIR=str(tmp / "bin"), CTS_NO_APT="1",
               PIP_CACHE_DIR=_pip_cache(), QT_QPA_PLATFORM="offscreen")
    # the interpreter the script picks must not be this test run's virtual environment
    venv_bin = str(Path(sys.prefix) / "bin")
    env["PATH"] = os.pathsep.join(p for p in env.get("PATH", "").split(os.pathsep) if p and p != venv_bin)
    return env


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """``(tmp, checkout, env, setup output)`` after ``sh packaging/setup.sh`` in a clean copy."""
    if shutil.which("sh") is None:
        pytest.fail("no POSIX sh on this machine: packaging/setup.sh cannot run")
    tmp = tmp_path_factory.mktemp("setup")
    checkout = _copy_checkout(tmp / "checkout")
    env = _setup_env(tmp)
    r = subprocess.run(["sh", str(checkout / "packaging" / "setup.sh")], cwd=tmp, env=env,
                       capture_output=True, text=True, timeout=840)
    assert r.returncode == 0, (
        f"setup.sh failed (exit {r.returncode}); it needs PyPI (or pip's cache at {env['PIP_CACHE_DIR']}) "
        f"and Python 3.11+ with venv:\n{r.stdout}\n{r.stderr}")
    yield tmp, checkout, env, r.stdout + r.stderr
    shutil.rmtree(tmp, ignore_errors=True)  # the environment is ~0.5 GB; pytest would keep three runs' worth


@pytest.mark.timeout(900)
def test_fresh_venv_and_launcher_start_the_app(installed):
    tmp, checkout, env, out = installed
    venv = tmp / "venv"
    assert (venv / "pyvenv.cfg").is_file(), out
    assert f"creating the virtual environment {venv}" in out
    launcher = tmp / "bin" / "cts-desktop"
    assert launcher.is_symlink() and launcher.resolve() == (venv / "bin" / "cts-desktop").resolve()

    r = subprocess.run([str(launcher), "--headless", "--connection", BUILTIN_PAPER_NAME, "--speed", "max",
                        "--duration", "2", "--data-dir", str(tmp / "data")],
                       cwd=tmp, env=env, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr
    summary = json.loads(next(line for line in r.stdout.splitlines() if line.startswith("summary "))[8:])
    assert summary["state"] == "stopped" and summary["candles"] > 0
    assert (tmp / "data" / "cts-desktop.sqlite3").is_file()

    # the app ran from the fresh environment on the copied checkout, not from this test run's
    r = subprocess.run([str(venv / "bin" / "python"), "-c", "import cts_desktop, sys; print(cts_desktop.__file__)"],
                       cwd=tmp, env=env, capture_output=True, text=True, timeout=60)
    assert r.returncode == 0 and Path(r.stdout.strip()).resolve().is_relative_to(checkout.resolve()), r


@pytest.mark.timeout(900)
def test_menu_entry_points_at_the_launcher_and_icon(installed):
    tmp, checkout, env, _out = installed
    entry = Path(env["XDG_DATA_HOME"]) / "applications" / "cts-desktop.desktop"
    assert entry.is_file()
    fields = dict(line.split("=", 1) for line in entry.read_text().splitlines() if "=" in line)
    assert fields["Exec"] == str(tmp / "bin" / "cts-desktop")
    icon = Path(fields["Icon"])
    assert icon == checkout / "resources" / "icons" / "cts-desktop.svg" and icon.is_file()
    assert fields["Name"] == "CTS Desktop" and fields["Type"] == "Application"
    assert "@" not in entry.read_text(), "a placeholder was left in the .desktop file"
    validate = shutil.which("desktop-file-validate")
    if validate:
        r = subprocess.run([validate, str(entry)], capture_output=True, text=True)
        assert r.returncode == 0, r.stdout + r.stderr


def test_script_parses():
    r = subprocess.run(["sh", "-n", str(SETUP)], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr


def test_unknown_flag_is_a_usage_error(tmp_path):
    r = subprocess.run(["sh", str(SETUP), "--frobnicate"], capture_output=True, text=True,
                       env={**os.environ, "HOME": str(tmp_path)})
    assert r.returncode == 2 and "usage: sh packaging/setup.sh [--test]" in r.stderr


def test_python_older_than_3_11_is_refused(tmp_path):
    fake = tmp_path / "python3.10"
    fake.write_text('#!/bin/sh\nif [ "$1" = "--version" ]; then echo "Python 3.10.12"; else echo 3.10; fi\n')
    fake.chmod(0o755)
    env = {**os.environ, "HOME": str(tmp_path), "CTS_PYTHON": str(fake), "CTS_VENV": str(tmp_path / "venv")}
    r = subprocess.run(["sh", str(SETUP)], capture_output=True, text=True, env=env, timeout=60)
    assert r.returncode == 1
    assert f"needs Python 3.11 or newer; CTS_PYTHON={fake} is Python 3.10." in r.stderr
    assert not (tmp_path / "venv").exists()


def test_a_python_that_does_not_run_is_named(tmp_path):
    env = {**os.environ, "HOME": str(tmp_path), "CTS_PYTHON": str(tmp_path / "nope")}
    r = subprocess.run(["sh", str(SETUP)], capture_output=True, text=True, env=env, timeout=60)
    assert r.returncode == 1 and f"CTS_PYTHON={tmp_path / 'nope'} does not run" in r.stderr
