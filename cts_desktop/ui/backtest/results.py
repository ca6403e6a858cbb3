"""The backtest's results: every metric with its unit, the per-symbol and per-strategy
breakdowns, the sortable trades table (raw values under ``SORT_ROLE``), and the tabs that hold
them with the charts (:class:`ResultTabs`)."""
from __future__ import annotations

import math
from typing import Dict, List, Optional

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QSortFilterProxyModel, Qt
from PySide6.QtGui import QColor
from PySide6.QtWidgets import (QAbstractItemView, QFrame, QGridLayout, QHeaderView, QLabel, QSizePolicy, QTableView,
                               QTableWidget, QTableWidgetItem, QTabWidget, QVBoxLayout, QWidget)

from ...engine.backtest import trades_rows
from ...services import reports as report
from .charts import CurveCharts, PriceChart
from .palette import DOWN, fg, UP

TRADE_HEADERS = ["#", "Symbol", "Side", "Entry (UTC)", "Entry price", "Exit (UTC)", "Exit price", "Amount",
                 "P&L", "Fees", "Net P&L", "Exit reason", "Strategy"]
_NUMERIC = {0, 4, 6, 7, 8, 9, 10}
_MONEY = {8, 9, 10}
SORT_ROLE = Qt.ItemDataRole.UserRole
_NO_PARENT = QModelIndex()


class TradesModel(QAbstractTableModel):
    """The closed trades (rows of :func:`~cts_desktop.engine.backtest.trades_rows`); raw values under ``SORT_ROLE``."""

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
            name.setStyleSheet(f"color:{fg()};")
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


class ResultTabs(QTabWidget):
    """The result of a run in four tabs: Summary (metrics, breakdowns), Equity && drawdown,
    Price && trades, Trades (sortable)."""

    def __init__(self, parent: Optional[QWidget] = None):
        super().__init__(parent)
        self.setObjectName("BacktestTabs")
        self.addTab(self._summary(), "Summary")
        self.curve_charts = CurveCharts()
        self.addTab(self.curve_charts, "Equity && drawdown")
        self.price_chart = PriceChart()
        self.addTab(self.price_chart, "Price && trades")
        self.trades_view = self._trades_table()
        self.addTab(self.trades_view, "Trades")

    def _summary(self) -> QWidget:
        summary = QWidget()
        sv = QVBoxLayout(summary)
        self.metrics_panel = MetricsPanel()
        sv.addWidget(self.metrics_panel)
        sv.addWidget(QLabel("By symbol"))
        self.by_symbol = small_table(["Symbol"] + report.BREAKDOWN_COLUMNS, "BySymbolTable")
        sv.addWidget(self.by_symbol)
        sv.addWidget(QLabel("By strategy"))
        self.by_strategy = small_table(["Strategy"] + report.BREAKDOWN_COLUMNS, "ByStrategyTable")
        sv.addWidget(self.by_strategy)
        note = QLabel("Money in the quote currency of the markets; fractions in percent; Sharpe and Sortino from "
                      "daily (UTC) returns, annualised with sqrt(365), risk-free rate 0. Fills at the next candle's "
                      "open, taker fee; stop-loss first when a candle touches both stop and target.")
        note.setWordWrap(True)
        note.setStyleSheet(f"color:{fg()};")
        sv.addWidget(note)
        sv.addStretch(1)
        return summary

    def _trades_table(self) -> QTableView:
        self.trades_model = TradesModel(self)
        self.trades_proxy = QSortFilterProxyModel(self)
        self.trades_proxy.setSourceModel(self.trades_model)
        self.trades_proxy.setSortRole(SORT_ROLE)
        view = QTableView()
        view.setObjectName("TradesTable")
        view.setModel(self.trades_proxy)
        view.setSortingEnabled(True)
        view.sortByColumn(0, Qt.SortOrder.AscendingOrder)
        view.verticalHeader().setVisible(False)
        view.verticalHeader().setDefaultSectionSize(22)
        view.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        view.setAlternatingRowColors(True)
        view.horizontalHeader().setStretchLastSection(True)
        return view

    def show_result(self, result, strategy=None) -> None:
        """Show every part of ``result`` (a :class:`~cts_desktop.engine.backtest.BacktestResult`);
        ``strategy`` ``(name, params)`` draws its indicators on the price chart."""
        cur = result.currency
        m = result.metrics
        self.metrics_panel.set_metrics(m, cur)
        fill_table(self.by_symbol, report.breakdown_rows(m.by_symbol, cur))
        fill_table(self.by_strategy, report.breakdown_rows(m.by_strategy, cur))
        self.curve_charts.set_curve(result.curve, result.starting_balance, cur)
        self.price_chart.set_result(result.candles_by_symbol, result.positions, cur, strategy)
        self.trades_model.set_rows(trades_rows(result.positions), cur)
        self.trades_view.resizeColumnsToContents()
