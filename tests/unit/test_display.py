"""No display: the app says so and exits 2 instead of letting Qt abort the process."""
from __future__ import annotations

import os
import subprocess
import sys

import pytest

from cts_desktop.cli.display import NO_DISPLAY, display_problem


def test_linux_without_any_display_is_refused():
    assert display_problem({}, "linux") == NO_DISPLAY
    assert display_problem({"QT_QPA_PLATFORM": "xcb"}, "linux") == NO_DISPLAY
    assert display_problem({"QT_QPA_PLATFORM": "wayland"}, "linux") == NO_DISPLAY


def test_a_display_or_a_serverless_platform_is_enough():
    assert display_problem({"DISPLAY": ":0"}, "linux") is None
    assert display_problem({"WAYLAND_DISPLAY": "wayland-0"}, "linux") is None
    assert display_problem({"QT_QPA_PLATFORM": "wayland", "WAYLAND_DISPLAY": "wayland-0"}, "linux") is None
    assert display_problem({"QT_QPA_PLATFORM": "offscreen"}, "linux") is None
    assert display_problem({"QT_QPA_PLATFORM": "minimal"}, "freebsd14") is None


def test_windows_and_macos_have_their_own_platform():
    assert display_problem({}, "win32") is None
    assert display_problem({}, "darwin") is None


@pytest.mark.skipif(sys.platform.startswith(("win", "darwin")), reason="Windows and macOS always have a display")
def test_the_gui_start_without_display_exits_3_environment_with_the_reason(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM")}
    proc = subprocess.run([sys.executable, "-m", "cts_desktop", "--data-dir", str(tmp_path)],
                          env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2, proc.stderr  # exit_codes.BAD_INPUT: a window asked for without a display
    assert "no display: use --headless, or set QT_QPA_PLATFORM=offscreen" in proc.stderr
    assert "xcb" not in proc.stderr.lower()
