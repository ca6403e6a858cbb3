"""The app's look: Fusion style, a dark palette, and ``resources/styles/dark.qss``."""
from __future__ import annotations

import logging

from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import QApplication

from ..core.resources import resources_dir

log = logging.getLogger(__name__)


def _palette() -> QPalette:
    p = QPalette()
    roles = {
        QPalette.ColorRole.Window: "#181c24", QPalette.ColorRole.WindowText: "#d8dde6",
        QPalette.ColorRole.Base: "#12151c", QPalette.ColorRole.AlternateBase: "#1a1f28",
        QPalette.ColorRole.Text: "#e6e9ef", QPalette.ColorRole.Button: "#262c3a",
        QPalette.ColorRole.ButtonText: "#d8dde6", QPalette.ColorRole.Highlight: "#2f5f94",
        QPalette.ColorRole.HighlightedText: "#ffffff", QPalette.ColorRole.ToolTipBase: "#262c3a",
        QPalette.ColorRole.ToolTipText: "#e6e9ef", QPalette.ColorRole.PlaceholderText: "#6c7588",
        QPalette.ColorRole.Link: "#4c9be8",
    }
    for role, colour in roles.items():
        p.setColor(role, QColor(colour))
    for role in (QPalette.ColorRole.Text, QPalette.ColorRole.ButtonText, QPalette.ColorRole.WindowText):
        p.setColor(QPalette.ColorGroup.Disabled, role, QColor("#5b6476"))
    return p


def apply_theme(app: QApplication, name: str = "dark") -> bool:
    """Style ``app``; returns False (and keeps Qt's default look) when the style sheet is missing."""
    app.setStyle("Fusion")
    app.setPalette(_palette())
    path = resources_dir() / "styles" / f"{name}.qss"
    try:
        app.setStyleSheet(path.read_text(encoding="utf-8"))
    except OSError as exc:
        log.warning("style sheet %s not loaded: %s", path, exc)
        return False
    return True
