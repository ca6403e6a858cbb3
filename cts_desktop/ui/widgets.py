"""Small widgets shared by the tabs: engine command buttons, stat cards, state pill, tables."""
from __future__ import annotations

from typing import Dict, Optional

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QFont, QFontMetrics
from PySide6.QtWidgets import (QAbstractItemView, QFrame, QHBoxLayout, QHeaderView, QLabel, QSizePolicy,
                               QTableView, QToolButton, QVBoxLayout, QWidget)

STATE_TEXT = {
    "idle": "Idle", "initializing": "Starting…", "running": "Running", "paused": "Paused",
    "stopping": "Stopping…", "stopped": "Stopped", "error": "Error",
}


def repolish(w: QWidget) -> None:
    w.style().unpolish(w)
    w.style().polish(w)
    w.update()


class StatePill(QLabel):
    """The engine state as a coloured pill (the stylesheet colours it by the ``state`` property)."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setObjectName("StatePill")
        self.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.set_state("idle")

    def set_state(self, state: str, reason: str = "") -> None:
        self.setText(STATE_TEXT.get(state, state))
        self.setToolTip(reason)
        self.setProperty("state", state)
        repolish(self)


class EngineControls(QWidget):
    """Start / Pause / Resume / Stop buttons bound to the window's shared QActions, so every copy
    of the buttons (Live Trading, Activity, menu) follows the engine state at once."""

    def __init__(self, actions: Dict[str, QAction], parent=None):
        super().__init__(parent)
        lay = QHBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.setSpacing(6)
        self.buttons: Dict[str, QToolButton] = {}
        for key in ("start", "pause", "resume", "stop"):
            b = QToolButton()
            b.setDefaultAction(actions[key])
            b.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
            b.setObjectName(f"{key.capitalize()}Button")
            b.setProperty("command", key)
            b.setMinimumWidth(84)
            b.setSizePolicy(QSizePolicy.Policy.Minimum, QSizePolicy.Policy.Fixed)
            self.buttons[key] = b
            lay.addWidget(b)


class StatCard(QFrame):
    """A title and a large value (with an optional coloured sign)."""

    def __init__(self, title: str, parent=None, tip: str = ""):
        super().__init__(parent)
        self.setObjectName("StatCard")
        lay = QVBoxLayout(self)
        lay.setContentsMargins(14, 10, 14, 10)
        lay.setSpacing(2)
        self.title = QLabel(title.upper())
        self.title.setObjectName("StatTitle")
        self.value = QLabel("–")
        self.value.setObjectName("StatValue")
        self.value.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.sub = QLabel("")
        self.sub.setObjectName("StatSub")
        lay.addWidget(self.title)
        lay.addWidget(self.value)
        lay.addWidget(self.sub)
        if tip:
            self.setToolTip(tip)

    def set(self, text: str, tone: str = "", sub: Optional[str] = None) -> None:
        """``tone``: ``"up"``, ``"down"`` or ``""`` (neutral)."""
        self.value.setText(text)
        if self.value.property("tone") != tone:
            self.value.setProperty("tone", tone)
            repolish(self.value)
        if sub is not None:
            self.sub.setText(sub)


def tone(v: Optional[float]) -> str:
    if not v:
        return ""
    return "up" if v > 0 else "down"


def make_table(model, *, name: str, sortable: bool = True, stretch_last: bool = True) -> QTableView:
    """A read-only, row-selecting table tuned for many rows (fixed row height, no grid)."""
    t = QTableView()
    t.setObjectName(name)
    t.setModel(model)
    t.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
    t.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
    t.setAlternatingRowColors(True)
    t.setShowGrid(False)
    t.setWordWrap(False)
    t.setSortingEnabled(sortable)
    t.setHorizontalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)
    vh = t.verticalHeader()
    vh.setVisible(False)
    vh.setSectionResizeMode(QHeaderView.ResizeMode.Fixed)
    vh.setDefaultSectionSize(24)
    hh = t.horizontalHeader()
    hh.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
    hh.setStretchLastSection(stretch_last)
    hh.setHighlightSections(False)
    hh.setSectionsMovable(True)
    hh.setDefaultAlignment(Qt.AlignmentFlag.AlignCenter)
    return t


def fit_columns(table: QTableView, minimum: int = 60, maximum: int = 280) -> None:
    """Size the columns once, to their header, the column's sample text and the first rows
    (never per update: measuring every row is slow)."""
    hh = table.horizontalHeader()
    fm = table.fontMetrics()
    bold = QFont(table.font())
    bold.setBold(True)
    hfm = QFontMetrics(bold)
    model = table.model()
    src = model.sourceModel() if hasattr(model, "sourceModel") else model
    columns = getattr(src, "columns", ())
    rows = min(model.rowCount(), 50)
    for c in range(model.columnCount()):
        texts = [str(model.index(r, c).data() or "") for r in range(rows)]
        if c < len(columns):
            texts.append(columns[c].sample_text())
        w = max([hfm.horizontalAdvance(str(model.headerData(c, Qt.Orientation.Horizontal) or "")) + 8]
                + [fm.horizontalAdvance(t) for t in texts]) + 24
        hh.resizeSection(c, max(minimum, min(maximum, w)))


def section_title(text: str) -> QLabel:
    lbl = QLabel(text)
    lbl.setObjectName("SectionTitle")
    return lbl
