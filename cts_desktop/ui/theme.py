"""The app's look: Fusion style, a dark or light palette, and ``resources/styles/<name>.qss``.

Themes (Settings > Theme): ``"dark"``, ``"light"``, or ``"system"``: the desktop's colour scheme
from ``QStyleHints.colorScheme()`` (Qt 6.5+), followed when it changes; dark when the system does
not say (as offscreen).
"""
from __future__ import annotations

import logging
from typing import Callable, List, Optional

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QGuiApplication, QPalette
from PySide6.QtWidgets import QApplication

from ..core.resources import resources_dir

log = logging.getLogger(__name__)

_COLOURS = {
    "dark": {
        "Window": "#181c24", "WindowText": "#d8dde6", "Base": "#12151c", "AlternateBase": "#1a1f28",
        "Text": "#e6e9ef", "Button": "#262c3a", "ButtonText": "#d8dde6", "Highlight": "#2f5f94",
        "HighlightedText": "#ffffff", "ToolTipBase": "#262c3a", "ToolTipText": "#e6e9ef",
        "PlaceholderText": "#6c7588", "Link": "#4c9be8", "disabled": "#5b6476",
    },
    "light": {
        "Window": "#f4f6f9", "WindowText": "#1f2733", "Base": "#ffffff", "AlternateBase": "#f0f3f7",
        "Text": "#1a212c", "Button": "#e9edf2", "ButtonText": "#1f2733", "Highlight": "#2f6db5",
        "HighlightedText": "#ffffff", "ToolTipBase": "#ffffff", "ToolTipText": "#1a212c",
        "PlaceholderText": "#8a93a3", "Link": "#1f64b8", "disabled": "#9aa3b2",
    },
}


class _State:
    requested = "dark"  # as chosen in Settings
    applied = "dark"  # what "system" resolved to
    following = False  # connected to the desktop's colour-scheme changes


_current = _State()
#: called with no arguments after every theme change (views with colours drawn in code)
listeners: List[Callable[[], None]] = []


def _palette(name: str) -> QPalette:
    colours = _COLOURS[name]
    p = QPalette()
    for role_name, colour in colours.items():
        if role_name != "disabled":
            p.setColor(getattr(QPalette.ColorRole, role_name), QColor(colour))
    for role in (QPalette.ColorRole.Text, QPalette.ColorRole.ButtonText, QPalette.ColorRole.WindowText):
        p.setColor(QPalette.ColorGroup.Disabled, role, QColor(colours["disabled"]))
    return p


def system_scheme() -> Optional[str]:
    """``"dark"`` or ``"light"`` as the desktop says (Qt 6.5+), None when it does not say."""
    hints = QGuiApplication.styleHints()
    scheme = getattr(hints, "colorScheme", None)
    if scheme is None:  # Qt older than 6.5
        return None
    value = scheme()
    if value == Qt.ColorScheme.Dark:
        return "dark"
    if value == Qt.ColorScheme.Light:
        return "light"
    return None


def resolve(name: str) -> str:
    """The theme ``name`` stands for: ``"system"`` becomes the desktop's scheme (dark if unknown)."""
    if name == "system":
        return system_scheme() or "dark"
    return name if name in _COLOURS else "dark"


def current_theme() -> str:
    """The theme applied last (``"dark"`` or ``"light"``)."""
    return _current.applied


def is_dark() -> bool:
    return current_theme() == "dark"


def apply_theme(app: QApplication, name: str = "dark") -> bool:
    """Style ``app`` with theme ``name`` (``"dark"``, ``"light"``, ``"system"``). Returns False
    (palette applied, Qt's default widget look) when the style sheet is missing."""
    _current.requested = name
    applied = resolve(name)
    _current.applied = applied
    if name == "system":
        _follow_system(app)
    app.setStyle("Fusion")
    app.setPalette(_palette(applied))
    path = resources_dir() / "styles" / f"{applied}.qss"
    try:
        app.setStyleSheet(path.read_text(encoding="utf-8"))
    except OSError as exc:
        log.warning("style sheet %s not loaded: %s", path, exc)
        return False
    finally:
        for listener in list(listeners):
            listener()
    return True


def _follow_system(app: QApplication) -> None:
    """Re-apply ``"system"`` whenever the desktop's colour scheme changes (connected once)."""
    if _current.following:
        return
    signal = getattr(QGuiApplication.styleHints(), "colorSchemeChanged", None)
    if signal is None:
        return
    _current.following = True

    def changed(*_a) -> None:
        if _current.requested == "system":
            apply_theme(app, "system")
    signal.connect(changed)
