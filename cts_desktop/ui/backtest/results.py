"""The backtest's results as numbers: every metric with its unit, the per-symbol and
per-strategy breakdowns, and the sortable trades table (raw values under ``SORT_ROLE``)."""
from __future__ import annotations

import math
from typing import Dict, List

from PySide6.QtCore import QAbstractTableModel, QModelIndex, Qt
from PySide6.QtGui import QColor
from PySide6.QtWidgets import (QAbstractItemView, QFrame, QGridLayout, QHeaderView, QLabel, QSizePolicy,
                               QTableWidget, QTableWidgetItem)

from ...services import reports as report
from .palette import DOWN, FG, UP

TRADE_HEADERS = ["#", "Symbol", "Side", "Entry (UTC)", "Entry price", "Exit (UTC)", "Exit price", "Amount",
                 "P&L", "Fees", "Net P&L", "Exit reason", "Strategy"]
_NUMERIC = {0, 4, 6, 7, 8, 9, 10}
_MONEY = {8, 9, 10}
SORT_ROLE = Qt.ItemDataRole.UserRole
_NO_PARENT = QModelIndex()


class TradesModel(QAbstractTableModel):
    """The closed trades (rows of :func:`trades_rows`); raw values under ``SORT_ROLE``."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.rows: List[list] = []
        self.currency = ""

    def set_rows(self, rows: List[list], currency: str) -> None:
        self.beginResetModel()
        self.rows, self.currency = rows, currency
        self.endResetModel()

    def rowCount(self, parent=_NO_PARENT) -> int:  # noqa: N802
        return 0 if parent.isValid() else len(self.rows)

    def columnCount(self, parent=_NO_PARENT) -> int:  # noqa: N802
        return 0 if parent.isValid() else len(TRADE_HEADERS)

    def headerData(self, section, orientation, role=Qt.ItemDataRole.DisplayRole):  # noqa: N802
        if role == Qt.ItemDataRole.DisplayRole and orientation == Qt.Orientation.Horizontal:
            h = TRADE_HEADERS[section]
            return f"{h} ({self.currency})" if section in _MONEY and self.currency else h
        return None

    def data(self, index, role=Qt.ItemDataRole.DisplayRole):
        if not index.isValid():
            return None
        r = self.rows[index.row()]
        c = index.column()
        v = r[c]
        if role == SORT_ROLE:
            return v if v is not None else ""
        if role == Qt.ItemDataRole.DisplayRole:
            if c in (3, 5):
                return report.fmt_time(v)
            if c in (4, 6):
                return report.fmt_price(v)
            if c == 7:
                return report.fmt_amount(v)
            if c in _MONEY:
                return report.fmt_money(v, self.currency, unit=False)
            return str(v)
        if role == Qt.ItemDataRole.TextAlignmentRole and c in _NUMERIC:
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        if role == Qt.ItemDataRole.ForegroundRole and c in (8, 10) and v:
            return QColor(UP if v > 0 else DOWN)
        return None


def small_table(headers: List[str], name: str) -> QTableWidget:
    t = QTableWidget(0, len(headers))
    t.setObjectName(name)
    t.setHorizontalHeaderLabels(headers)
    t.verticalHeader().setVisible(False)
    t.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
    t.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
    t.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
    t.horizontalHeader().setStretchLastSection(True)
    t.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Preferred)
    t.verticalHeader().setDefaultSectionSize(24)
    t.setFixedHeight(60)
    return t


def fill_table(t: QTableWidget, rows: List[List[str]]) -> None:
    t.setRowCount(len(rows))
    for i, row in enumerate(rows):
        for j, v in enumerate(row):
            item = QTableWidgetItem(v)
            if j > 0:
                item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
            t.setItem(i, j, item)
    shown = max(1, min(len(rows), 6))
    t.setFixedHeight(t.horizontalHeader().height() + shown * t.verticalHeader().defaultSectionSize() + 2 * t.frameWidth() + 2)


class MetricsPanel(QFrame):
    """Every :class:`~cts_desktop.core.metrics.Metrics` field, with its unit, in three columns."""

    COLUMNS = 3

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setObjectName("MetricsPanel")
        grid = QGridLayout(self)
        grid.setContentsMargins(8, 8, 8, 8)
        grid.setHorizontalSpacing(14)
        grid.setVerticalSpacing(4)
        self.values: Dict[str, QLabel] = {}
        per_col = math.ceil(len(report.METRIC_ROWS) / self.COLUMNS)
        for i, (field, label, _kind, help_) in enumerate(report.METRIC_ROWS):
            col, row = divmod(i, per_col)
            name = QLabel(label + ":")
            name.setToolTip(help_)
            name.setStyleSheet(f"color:{FG};")
            val = QLabel("–")
            val.setObjectName(f"metric_{field}")
            val.setToolTip(help_)
            val.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
            val.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            f = val.font()
            f.setBold(True)
            val.setFont(f)
            grid.addWidget(name, row, col * 2)
            grid.addWidget(val, row, col * 2 + 1)
            self.values[field] = val
        for c in range(self.COLUMNS):
            grid.setColumnStretch(c * 2 + 1, 1)

    def set_metrics(self, metrics, currency: str) -> None:
        for field, _label, value, _help in report.metric_rows(metrics, currency):
            lab = self.values[field]
            lab.setText(value)
            raw = getattr(metrics, field)
            colour = ""
            if field in ("total_return", "net_pnl", "realized_pnl", "unrealized_pnl", "expectancy") and raw:
                colour = UP if raw > 0 else DOWN
            lab.setStyleSheet(f"color:{colour};" if colour else "")

    def clear(self) -> None:
        for lab in self.values.values():
            lab.setText("–")
            lab.setStyleSheet("")

    def text(self, field: str) -> str:
        return self.values[field].text()
