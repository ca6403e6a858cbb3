"""Small widgets shared by the tabs: engine command buttons, stat cards, state pill, tables."""
from __future__ import annotations

from typing import Dict, Optional

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QColor, QFont, QFontMetrics, QPainter
from PySide6.QtWidgets import (QAbstractItemView, QFrame, QHBoxLayout, QHeaderView, QLabel, QSizePolicy,
                               QTableView, QToolButton, QVBoxLayout, QWidget)

from .theme import is_dark

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


class ProgressLine(QWidget):
    """A thin progress bar. Unlike ``QProgressBar``, whose ``setValue`` repaints the window
    synchronously (flushing every pending paint, the chart included) whenever the bar moves a
    pixel, this one only schedules an ordinary coalesced ``update()``."""

    def __init__(self, parent=None, height: int = 6):
        super().__init__(parent)
        self.setObjectName("ProgressLine")
        self._fraction = 0.0
        self.setFixedHeight(height)
        self.track = QColor("#232938")
        self.track_light = QColor("#dde3ea")  # under the light theme
        self.chunk = QColor("#4c9be8")

    def fraction(self) -> float:
        return self._fraction

    def value(self) -> int:
        """Per mille, like the QProgressBar it replaces (0..1000)."""
        return int(round(self._fraction * 1000))

    def setValue(self, per_mille: int) -> None:  # noqa: N802 - QProgressBar-like API
        self.set_fraction(per_mille / 1000.0)

    def set_fraction(self, f: float) -> None:
        f = min(1.0, max(0.0, f))
        if abs(f - self._fraction) * max(self.width(), 1) >= 0.5 or (f in (0.0, 1.0) and f != self._fraction):
            self._fraction = f
            self.update()
        else:
            self._fraction = f

    def paintEvent(self, _event) -> None:  # noqa: N802
        p = QPainter(self)
        p.setRenderHint(QPainter.RenderHint.Antialiasing, True)
        p.setPen(Qt.PenStyle.NoPen)
        r = self.rect()
        radius = r.height() / 2
        p.setBrush(self.track if is_dark() else self.track_light)
        p.drawRoundedRect(r, radius, radius)
        w = int(r.width() * self._fraction)
        if w > 0:
            p.setBrush(self.chunk)
            p.drawRoundedRect(r.adjusted(0, 0, w - r.width(), 0), radius, radius)
        p.end()


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


class RecordTable(QTableView):
    """A table view that tells a model with C++ cells (``fill_views``, see
    models.StoredTableModel) when it is shown or resized, so the rows it comes to show are written
    before they are painted. Only these two events run Python: painting never does."""

    fill_model = None

    def showEvent(self, event) -> None:  # noqa: N802
        super().showEvent(event)
        if self.fill_model is not None:
            self.fill_model.fill_views()

    def resizeEvent(self, event) -> None:  # noqa: N802
        super().resizeEvent(event)
        if self.fill_model is not None:
            self.fill_model.fill_views()


def make_table(model, *, name: str, sortable: bool = True, stretch_last: bool = True) -> QTableView:
    """A read-only, row-selecting table tuned for many rows (fixed row height, no grid)."""
    t = RecordTable() if hasattr(model, "watch_view") else QTableView()
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
    if hasattr(model, "watch_view"):  # a model with C++ cells, written near the visible rows
        t.fill_model = model
        model.watch_view(t)
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
