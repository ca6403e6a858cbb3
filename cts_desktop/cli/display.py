"""Is there a screen to open a window on? Asked before Qt is loaded.

Without a display Qt's xcb plugin aborts the process (SIGABRT) with a misleading hint that
``libxcb-cursor0`` is needed, even when it is installed. We look first and say what is wrong.
"""
from __future__ import annotations

import os
import sys
from typing import Mapping, Optional

NO_DISPLAY = ("no display: use --headless, or set QT_QPA_PLATFORM=offscreen "
              "(for --screenshot on a machine without a screen)")


def display_problem(env: Optional[Mapping[str, str]] = None, platform: Optional[str] = None) -> Optional[str]:
    """The reason a window cannot be shown, or None when one can.

    Only X11/Wayland systems (Linux, the BSDs) need a display server; Windows and macOS always have
    their own platform plugin. ``QT_QPA_PLATFORM`` naming a platform that needs no server
    (offscreen, minimal, vnc, eglfs, linuxfb...) is taken at its word.
    """
    env = os.environ if env is None else env
    platform = sys.platform if platform is None else platform
    if platform.startswith(("win", "darwin", "cygwin")):
        return None
    qpa = (env.get("QT_QPA_PLATFORM") or "").split(":", 1)[0].split(";", 1)[0].strip().lower()
    if qpa and qpa not in ("xcb", "wayland", "wayland-egl"):
        return None
    if qpa.startswith("wayland"):
        return None if env.get("WAYLAND_DISPLAY") else NO_DISPLAY
    if env.get("DISPLAY"):
        return None
    if not qpa and env.get("WAYLAND_DISPLAY"):
        return None  # Qt picks wayland by itself when the session is a Wayland one
    return NO_DISPLAY
