"""A study's results as tables: every trial (sortable, raw values under ``SORT_ROLE``, infeasible
trials greyed with their reason) and the heatmap of two parameters (a grid of coloured cells, the
best objective of each cell, computed by :func:`research_view.heatmap`)."""
from __future__ import annotations

import math
from typing import Any, List, Optional

from PySide6.QtCore import QAbstractTableModel, QModelIndex, Qt
from PySide6.QtGui import QColor, QFont
from PySide6.QtWidgets import (QComboBox, QHBoxLayout, QHeaderView, QLabel, QTableWidget, QTableWidgetItem,
                               QVBoxLayout, QWidget)

from ...core.objectives import MAXIMIZE
from ...services import reports as report
from ...services import research_view as view
from ...store.studies import TrialRow

SORT_ROLE = Qt.ItemDataRole.UserRole
_NO_PARENT = QModelIndex()
_GREY = QColor(128, 128, 128)
_PCT = {"total_return", "max_drawdown", "win_rate"}
# metric columns after the parameters and the objective
_METRICS = [("trades", "Trades"), ("total_return", "Return"), ("max_drawdown", "Max DD"), ("sharpe", "Sharpe")]


def fmt_metric(metric: str, v: Any) -> str:
    """A metric for a cell: fractions as percent, ratios with 3 decimals, ``inf`` as ∞."""
    if v is None:
        return "–"
    if isinstance(v, float) and math.isinf(v):
        return "∞" if v > 0 else "-∞"
    if metric in _PCT:
        return report.fmt_pct(v)
    if metric == "trades":
        return str(int(v))
    return f"{v:,.2f}" if metric in ("net_pnl", "expectancy") else f"{v:.3f}"


class TrialsModel(QAbstractTableModel):
    """The trials of a study: #, state, one column per varied parameter, the objective, trades,
    return, max drawdown, Sharpe, reason. ``best`` (a trial number) is shown bold."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.trials: List[TrialRow] = []
        self.params: List[str] = []
        self.objective = "sharpe"
        self.best: Optional[int] = None

    def set_trials(self, trials: List[TrialRow], objective: str, best: Optional[int]) -> None:
        self.beginResetModel()
        self.trials = [t for t in trials if t.window is None]
        self.params = list(dict.fromkeys(k for t in self.trials for k in t.params))
        self.objective, self.best = objective, best
        self.endResetModel()

    def headers(self) -> List[str]:
        label = view.OBJECTIVE_LABELS.get(self.objective, self.objective).split(" (")[0]
        return ["#", "State", *self.params, f"Objective: {label}", *(h for _m, h in _METRICS), "Reason"]

    def rowCount(self, parent=_NO_PARENT) -> int:  # noqa: N802 - Qt API
        return 0 if parent.isValid() else len(self.trials)

    def columnCount(self, parent=_NO_PARENT) -> int:  # noqa: N802 - Qt API
        return 0 if parent.isValid() else len(self.params) + 8

    def headerData(self, section, orientation, role=Qt.ItemDataRole.DisplayRole):  # noqa: N802 - Qt API
        if role == Qt.ItemDataRole.DisplayRole and orientation == Qt.Orientation.Horizontal:
            return self.headers()[section]
        return None

    def raw(self, row: int, col: int) -> Any:
        """The value under cell ``(row, col)`` (numbers as numbers, None when undefined)."""
        t = self.trials[row]
        n = len(self.params)
        if col == 0:
            return t.number
        if col == 1:
            return t.state
        if col < 2 + n:
            return t.params.get(self.params[col - 2])
        if col == 2 + n:
            return t.value
        if col < 7 + n:
            return t.metrics.get(_METRICS[col - 3 - n][0])
        return t.reason

    def data(self, index, role=Qt.ItemDataRole.DisplayRole):
        if not index.isValid():
            return None
        r, c = index.row(), index.column()
        v = self.raw(r, c)
        n = len(self.params)
        if role == SORT_ROLE:
            if c in (1, 7 + n) or (2 <= c < 2 + n and isinstance(v, str)):
                return "" if v is None else str(v)
            return -math.inf if v is None else float(v)
        if role == Qt.ItemDataRole.DisplayRole:
            if c == 2 + n:
                return fmt_metric(self.objective, v)
            if 2 + n < c < 7 + n:
                return fmt_metric(_METRICS[c - 3 - n][0], v)
            return "" if v is None else str(v)
        t = self.trials[r]
        if role == Qt.ItemDataRole.ForegroundRole and t.state != "ok":
            return _GREY
        if role == Qt.ItemDataRole.FontRole and t.number == self.best:
            f = QFont()
            f.setBold(True)
            return f
        if role == Qt.ItemDataRole.ToolTipRole and t.reason:
            return t.reason
        if role == Qt.ItemDataRole.TextAlignmentRole and c != 1 and c != 7 + n:
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        return None


def _colour(v: float, lo: float, hi: float, how: str) -> QColor:
    """Red (worst) through amber to green (best)."""
    f = 0.5 if hi <= lo or math.isinf(v) else (v - lo) / (hi - lo)
    if math.isinf(v):
        f = 1.0 if (v > 0) == (how == MAXIMIZE) else 0.0
    if how != MAXIMIZE:
        f = 1.0 - f
    red, green = (239, 83, 80), (38, 166, 154)
    return QColor(*(int(a + (b - a) * f) for a, b in zip(red, green, strict=True)), 190)


class HeatmapView(QWidget):
    """Two parameter pickers and the grid: rows are ``y`` values, columns ``x`` values, each cell
    the best objective over the other parameters (empty: no feasible trial). ``map`` is the last
    :class:`~cts_desktop.services.research_view.Heatmap`."""

    def __init__(self, parent: Optional[QWidget] = None):
        super().__init__(parent)
        self.trials: List[TrialRow] = []
        self.objective, self.how = "sharpe", MAXIMIZE
        self.map: Optional[view.Heatmap] = None
        v = QVBoxLayout(self)
        bar = QHBoxLayout()
        self.x_box, self.y_box = QComboBox(), QComboBox()
        self.x_box.setObjectName("HeatmapX")
        self.y_box.setObjectName("HeatmapY")
        bar.addWidget(QLabel("Columns (x):"))
        bar.addWidget(self.x_box)
        bar.addWidget(QLabel("Rows (y):"))
        bar.addWidget(self.y_box)
        self.note = QLabel()
        self.note.setWordWrap(True)
        bar.addWidget(self.note, 1)
        v.addLayout(bar)
        self.grid = QTableWidget(0, 0)
        self.grid.setObjectName("HeatmapGrid")
        self.grid.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.grid.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        self.grid.verticalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        v.addWidget(self.grid, 1)
        self.x_box.currentIndexChanged.connect(self.redraw)
        self.y_box.currentIndexChanged.connect(self.redraw)

    def set_trials(self, trials: List[TrialRow], objective: str, how: str) -> None:
        self.trials, self.objective, self.how = trials, objective, how
        names = list(dict.fromkeys(k for t in trials if t.window is None for k in t.params))
        for box in (self.x_box, self.y_box):
            box.blockSignals(True)
            box.clear()
            box.addItems(names)
            box.blockSignals(False)
        if len(names) > 1:
            self.y_box.setCurrentIndex(1)
        self.redraw()

    def choose(self, x: str, y: str) -> None:
        self.x_box.setCurrentText(x)
        self.y_box.setCurrentText(y)
        self.redraw()

    def redraw(self, *_a) -> None:
        x, y = self.x_box.currentText(), self.y_box.currentText()
        self.grid.clear()
        if not x or not y or x == y:
            self.map = None
            self.grid.setRowCount(0)
            self.grid.setColumnCount(0)
            self.note.setText("Pick two different parameters." if x else "No varied parameters.")
            return
        hm = self.map = view.heatmap(self.trials, x, y, self.how)
        self.grid.setRowCount(len(hm.ys))
        self.grid.setColumnCount(len(hm.xs))
        self.grid.setHorizontalHeaderLabels([f"{x}={v}" for v in hm.xs])
        self.grid.setVerticalHeaderLabels([f"{y}={v}" for v in hm.ys])
        finite = [c for row in hm.cells for c in row if c is not None and not math.isinf(c)]
        lo, hi = (min(finite), max(finite)) if finite else (0.0, 0.0)
        for j, row in enumerate(hm.cells):
            for i, c in enumerate(row):
                it = QTableWidgetItem("" if c is None else fmt_metric(self.objective, c))
                it.setTextAlignment(Qt.AlignmentFlag.AlignCenter)
                if c is not None:
                    it.setBackground(_colour(c, lo, hi, self.how))
                    if c == hm.best:
                        f = it.font()
                        f.setBold(True)
                        it.setFont(f)
                self.grid.setItem(j, i, it)
        label = view.OBJECTIVE_LABELS.get(self.objective, self.objective)
        self.note.setText(f"Best {label} per cell (green best, red worst; empty: no feasible trial).")
