"""The house rules, checked on every test run (and so by ``.ci/run``).

* ruff: pyflakes/pycodestyle errors, bugbear, blind ``except``, ``except: pass``, complexity <= 15
* mypy: strict about untyped definitions in core, store, exchange, engine and services
* import-linter: layers core <- store / exchange <- engine <- services <- ui <- cli, no Qt below the
  UI, no exchange from the UI, no import cycles
* no module of ``cts_desktop/`` longer than 400 lines

The configuration of each tool is in ``pyproject.toml``; each test prints the tool's own report.
"""
from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
MAX_LINES = 400


def _run(*cmd: str) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=600)


def _tool(module: str) -> None:
    """The checks are part of the test extra (``pip install -e '.[test]'``): fail loudly, never skip."""
    try:
        __import__(module)
    except ImportError as exc:  # pragma: no cover - only on an incomplete install
        pytest.fail(f"{module} is not installed ({exc}); run: sh packaging/setup.sh --test")


def test_ruff_clean() -> None:
    _tool("ruff")
    proc = _run(sys.executable, "-m", "ruff", "check", "--no-cache", "cts_desktop")
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_mypy_clean_in_typed_layers() -> None:
    _tool("mypy")
    proc = _run(sys.executable, "-m", "mypy", "--no-incremental", "--cache-dir", "/dev/null")
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_layers_hold() -> None:
    _tool("importlinter")
    exe = shutil.which("lint-imports", path=str(Path(sys.executable).parent)) or shutil.which("lint-imports")
    assert exe, "lint-imports (import-linter) not found next to the Python running the tests"
    proc = _run(exe, "--no-cache")
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_no_module_over_400_lines() -> None:
    long = {}
    for path in sorted((ROOT / "cts_desktop").rglob("*.py")):
        with path.open(encoding="utf-8") as fh:
            n = sum(1 for _ in fh)
        if n > MAX_LINES:
            long[str(path.relative_to(ROOT))] = n
    assert not long, f"modules over {MAX_LINES} lines (split them by responsibility): {long}"


def test_the_qt_binding_is_not_the_release_that_crashes_on_python_311() -> None:
    """PySide6 6.12.0 crashes on Python 3.11 (Signal.emit drops a reference to True): pyproject and
    packaging/constraints.txt (used by setup.sh) pin the whole family (PySide6, -Essentials, -Addons,
    shiboken6) below 6.12, and whichever of them is installed must honour it."""
    from importlib.metadata import PackageNotFoundError, version

    text = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    for pin in ('"PySide6>=6.8,<6.12"', '"PySide6-Essentials>=6.8,<6.12"', '"PySide6-Addons>=6.8,<6.12"', '"shiboken6<6.12"'):
        assert pin in text, pin
    constraints = (ROOT / "packaging" / "constraints.txt").read_text(encoding="utf-8").split()
    assert {"PySide6<6.12", "PySide6-Essentials<6.12", "PySide6-Addons<6.12", "shiboken6<6.12"} <= set(constraints)
    assert "-c packaging/constraints.txt" in (ROOT / "packaging" / "setup.sh").read_text(encoding="utf-8")
    for dist in ("PySide6", "PySide6-Essentials", "PySide6-Addons", "shiboken6"):
        try:
            installed = version(dist)
        except PackageNotFoundError:
            continue  # an older environment may lack the meta-package or the add-ons
        major_minor = tuple(int(p) for p in installed.split(".")[:2])
        assert major_minor < (6, 12), f"{dist} {installed} is installed; 6.12 crashes on Python 3.11"


def test_the_engine_never_reaches_the_raw_exchange_client() -> None:
    """The engine talks to exchanges through the gateway protocol (``core/gateway.py``): no
    ``gateway.exchange`` (the ccxt client), no ``.has[...]`` / ``.options`` lookups, no exchange-id
    checks such as ``BINANCE_FAMILY``; quirks come from ``gateway.capabilities()``."""
    import re

    raw = re.compile(r"gateway\.exchange\b|\bex\.(has|options|id)\b|BINANCE_FAMILY|\.exchange\.(has|options|markets|name)\b")
    hits = []
    for path in sorted((ROOT / "cts_desktop" / "engine").rglob("*.py")):
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if raw.search(line):
                hits.append(f"{path.relative_to(ROOT)}:{n}: {line.strip()}")
    assert not hits, "the engine reaches the raw exchange client:\n" + "\n".join(hits)
