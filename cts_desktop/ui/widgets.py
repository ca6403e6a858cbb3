"""Small widgets shared by the tabs: engine command buttons, stat cards, state pill, tables."""
from __future__ import annotations

from typing import Dict, Optional

from PySide6.QtCore import QEvent, Qt
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
        squeeze_columns(self)
        if self.fill_model is not None:
            self.fill_model.fill_views()


def make_table(model, *, name: str, sortable: bool = True, stretch_last: bool = True) -> QTableView:
    """A read-only, row-selecting table tuned for many rows (fixed row height, no grid)."""
    t = RecordTable()
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
    hh.sectionResized.connect(lambda *_a: t.property("squeezing") or t.setProperty("user_sized", True))
    if hasattr(model, "watch_view"):  # a model with C++ cells, written near the visible rows
        t.fill_model = model
        model.watch_view(t)
    return t


#: columns of sentences, which may end in an ellipsis when space is short (a symbol or an id never does)
FREE_TEXT = frozenset({"close_reason", "reason", "message", "error", "verdict", "strategy", "detail"})


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
    natural: list = []
    floors: list = []
    for c in range(model.columnCount()):
        texts = [str(model.index(r, c).data() or "") for r in range(rows)]
        if c < len(columns):
            texts.append(columns[c].sample_text())
        head = hfm.horizontalAdvance(str(model.headerData(c, Qt.Orientation.Horizontal) or "")) + 8
        w = max([head] + [fm.horizontalAdvance(t) for t in texts]) + 24
        natural.append(max(minimum, min(maximum, w)))
        free_text = c < len(columns) and getattr(columns[c], "field", "") in FREE_TEXT
        # free text (a reason, a message) may be cut with an ellipsis; numbers and times only lose padding
        floors.append(max(48, min(head + 16, natural[-1])) if free_text else max(48, natural[-1] - 14))
        table.setProperty("squeezing", True)
        hh.resizeSection(c, natural[-1])
        table.setProperty("squeezing", False)
    table.setProperty("natural_widths", natural)
    table.setProperty("floor_widths", floors)
    squeeze_columns(table)


def squeeze_columns(table: QTableView) -> None:
    """When the columns sized by :func:`fit_columns` are wider together than the table, narrow
    them in proportion so a 1280 px window needs no sideways scrolling: free-text columns down to
    their header's width, numbers and times only by some padding (they are never cut); wide again
    when there is room. Runs when the table is resized."""
    natural, floors = table.property("natural_widths"), table.property("floor_widths")
    avail = table.viewport().width()
    if not natural or avail <= 0 or table.property("user_sized"):
        return  # a width the trader chose (or a remembered layout) is kept as it is
    hh = table.horizontalHeader()
    shown = [c for c in range(min(len(natural), hh.count())) if not hh.isSectionHidden(c)]
    total = sum(natural[c] for c in shown)
    if not total:
        return
    factor = min(1.0, avail / total)
    if factor < 1.0:  # what the floors take is not shared out again
        fixed = sum(floors[c] for c in shown if natural[c] * factor < floors[c])
        rest = sum(natural[c] for c in shown if natural[c] * factor >= floors[c])
        if rest:
            factor = max(0.0, min(1.0, (avail - fixed) / rest))
    table.setProperty("squeezing", True)
    try:
        for c in shown:
            hh.resizeSection(c, max(floors[c], int(natural[c] * factor)))
    finally:
        table.setProperty("squeezing", False)


class ElidedLabel(QLabel):
    """A one-line label that takes the room it is given and ends with "…" when its text is longer
    (the whole text in the tool tip), instead of being cut mid-word."""

    def __init__(self, text: str = "", parent=None):
        super().__init__(parent)
        self._full = ""
        self.setMinimumWidth(80)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Preferred)
        self.setText(text)

    def setText(self, text: str) -> None:  # noqa: N802 - Qt API
        self._full = text or ""
        self.setToolTip(self._full)
        self._elide()

    def text(self) -> str:
        return self._full

    def resizeEvent(self, event) -> None:  # noqa: N802 - Qt API
        super().resizeEvent(event)
        self._elide()

    def _elide(self) -> None:
        shown = self.fontMetrics().elidedText(self._full, Qt.TextElideMode.ElideRight, max(self.width() - 4, 10))
        super().setText(shown)

    def minimumSizeHint(self):  # noqa: N802 - Qt API
        hint = super().minimumSizeHint()
        hint.setWidth(80)
        return hint

    def sizeHint(self):  # noqa: N802 - Qt API
        hint = super().sizeHint()
        hint.setWidth(self.fontMetrics().horizontalAdvance(self._full) + 8)
        return hint


class WrapBody(QWidget):
    """The content of a scroll area whose wrapped labels must get their whole height. A scroll
    area sizes its widget from the plain size hint, which ignores word wrap, so a long warning or
    a test result was squeezed into one line and overlapped its neighbours; this widget asks its
    layout for the height it needs at its actual width whenever it is resized or re-laid out."""

    def _fit(self) -> None:
        lay = self.layout()
        if lay is not None and lay.hasHeightForWidth():
            need = lay.totalHeightForWidth(self.width())
            if need != self.minimumHeight():
                self.setMinimumHeight(need)

    def resizeEvent(self, event) -> None:  # noqa: N802 - Qt API
        super().resizeEvent(event)
        self._fit()

    def event(self, event) -> bool:
        handled = super().event(event)
        if event.type() == QEvent.Type.LayoutRequest:
            self._fit()
        return handled


def fit_height(dialog: QWidget, width: int) -> None:
    """Give ``dialog`` ``width`` and the height its wrapped labels need at that width (a layout's
    plain size hint ignores word wrap, so such a dialog opened clipped); it cannot be made smaller."""
    lay = dialog.layout()
    height = lay.totalHeightForWidth(width) if lay is not None and lay.hasHeightForWidth() else 0
    height = max(height, dialog.sizeHint().height())
    dialog.setMinimumSize(min(width, dialog.minimumSizeHint().width()), height)
    dialog.resize(width, height)


def section_title(text: str) -> QLabel:
    lbl = QLabel(text)
    lbl.setObjectName("SectionTitle")
    return lbl
