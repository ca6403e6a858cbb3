"""The Live Trading tab's analytics panel: the full performance figures of the selected
connection's run (running or the latest stored one) and its exports.

The figures are the backtest's own (:class:`~cts_desktop.core.metrics.Metrics`, formatted by
:mod:`cts_desktop.services.reports`), from :meth:`AppServices.run_result`. Computing them walks the whole
equity curve, so the panel refreshes on request, when a run stops, and when the connection
changes, never on every engine tick.
"""
from __future__ import annotations

import logging
from pathlib import Path
from typing import Optional

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (QAbstractItemView, QFileDialog, QGridLayout, QHBoxLayout, QHeaderView, QLabel,
                               QPushButton, QTableWidget, QTableWidgetItem, QVBoxLayout, QWidget)

from ..services import reports as report

log = logging.getLogger(__name__)

# The figures shown, in reading order (field names of Metrics; labels and units from report).
SHOWN = ("total_return", "net_pnl", "realized_pnl", "unrealized_pnl", "fees", "trades", "win_rate", "avg_win",
         "avg_loss", "profit_factor", "expectancy", "sharpe", "sortino", "max_drawdown",
         "max_drawdown_duration_ms", "exposure")


class AnalyticsPanel(QWidget):
    """Metrics grid, per-symbol and per-strategy tables, Refresh and Export buttons."""

    def __init__(self, services, parent: Optional[QWidget] = None):
        super().__init__(parent)
        self.services = services
        self.connection: Optional[str] = None
        self.result = None
        outer = QVBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        bar = QHBoxLayout()
        self.title = QLabel("Analytics")
        self.title.setObjectName("SectionTitle")
        bar.addWidget(self.title)
        bar.addStretch(1)
        self.refresh_button = QPushButton("Refresh")
        self.refresh_button.setToolTip("Recompute the figures from the run so far")
        self.refresh_button.clicked.connect(self.refresh)
        self.csv_button = QPushButton("Export trades CSV...")
        self.csv_button.clicked.connect(self.export_csv)
        self.html_button = QPushButton("Export HTML report...")
        self.html_button.clicked.connect(self.export_html)
        for b in (self.refresh_button, self.csv_button, self.html_button):
            bar.addWidget(b)
        outer.addLayout(bar)
        self.note = QLabel("")
        self.note.setWordWrap(True)
        outer.addWidget(self.note)
        grid_host = QWidget()
        self.grid = QGridLayout(grid_host)
        self.grid.setContentsMargins(4, 4, 4, 4)
        self.grid.setHorizontalSpacing(18)
        self.values = {}
        labels = {f: (label, help_) for f, label, _kind, help_ in report.METRIC_ROWS}
        for i, field in enumerate(SHOWN):
            label, help_ = labels.get(field, (field, ""))
            name = QLabel(label + ":")
            name.setToolTip(help_)
            value = QLabel("–")
            value.setObjectName(f"metric_{field}")
            value.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
            value.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            row, col = i % 8, (i // 8) * 2
            self.grid.addWidget(name, row, col)
            self.grid.addWidget(value, row, col + 1)
            self.values[field] = value
        outer.addWidget(grid_host)
        tables = QHBoxLayout()
        self.by_symbol = self._table()
        self.by_strategy = self._table()
        for title, table in (("By symbol", self.by_symbol), ("By strategy", self.by_strategy)):
            box = QVBoxLayout()
            box.addWidget(QLabel(title))
            box.addWidget(table)
            tables.addLayout(box)
        outer.addLayout(tables, 1)
        self._enable(False)

    @staticmethod
    def _table() -> QTableWidget:
        t = QTableWidget(0, len(report.BREAKDOWN_COLUMNS) + 1)
        t.setHorizontalHeaderLabels(["Name"] + report.BREAKDOWN_COLUMNS)
        t.verticalHeader().setVisible(False)
        t.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        t.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        t.setMinimumHeight(90)
        return t

    def _enable(self, on: bool) -> None:
        self.csv_button.setEnabled(on)
        self.html_button.setEnabled(on)

    def set_connection(self, name: Optional[str]) -> None:
        self.connection = name
        self.refresh()

    def refresh(self) -> None:
        """Recompute from the run (O(length of the equity curve))."""
        self.result = None
        if self.connection:
            try:
                self.result = self.services.run_result(self.connection)
            except Exception as exc:  # noqa: BLE001 - shown, never raised into Qt
                log.exception("analytics for %s failed", self.connection)
                self.note.setText(f"Could not compute the figures: {exc}")
        res = self.result
        if res is None:
            for v in self.values.values():
                v.setText("–")
            self.by_symbol.setRowCount(0)
            self.by_strategy.setRowCount(0)
            if self.connection:
                self.note.setText("No run yet for this connection.")
            self._enable(False)
            return
        m, cur = res.metrics, res.currency
        shown = {f: v for f, _l, v, _h in report.metric_rows(m, cur)}
        for field, label in self.values.items():
            label.setText(shown.get(field, "–"))
        self._fill(self.by_symbol, report.breakdown_rows(m.by_symbol, cur))
        self._fill(self.by_strategy, report.breakdown_rows(m.by_strategy, cur))
        self.note.setText(f"Run #{res.run_id}: {res.candles:,} candles, money in {cur}. Sharpe and Sortino from "
                          "daily (UTC) returns, annualised with sqrt(365), risk-free rate 0.")
        self._enable(True)

    @staticmethod
    def _fill(table: QTableWidget, rows) -> None:
        table.setRowCount(len(rows))
        for r, row in enumerate(rows):
            for c, text in enumerate(row):
                item = QTableWidgetItem(text)
                if c:
                    item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
                table.setItem(r, c, item)

    def export_csv(self, path: Optional[str] = None) -> Optional[Path]:
        """Write the run's closed trades as CSV (``report.write_trades_csv``); returns the path."""
        if self.result is None:
            return None
        if not path:
            path, _ = QFileDialog.getSaveFileName(self, "Export trades", f"trades-run{self.result.run_id}.csv",
                                                  "CSV files (*.csv)")
            if not path:
                return None
        try:
            n = report.write_trades_csv(path, self.result.positions)
        except OSError as exc:
            self.note.setText(f"Could not write {path}: {exc.strerror or exc}")
            return None
        self.note.setText(f"{n} trades written to {path}")
        return Path(path)

    def export_html(self, path: Optional[str] = None) -> Optional[Path]:
        """Write a self-contained HTML report of the run (``report.write_html_report``)."""
        if self.result is None:
            return None
        if not path:
            path, _ = QFileDialog.getSaveFileName(self, "Export report", f"report-run{self.result.run_id}.html",
                                                  "HTML files (*.html)")
            if not path:
                return None
        try:
            report.write_html_report(path, self.result, f"{self.connection}: run #{self.result.run_id}",
                                     settings={"Connection": self.connection})
        except OSError as exc:
            self.note.setText(f"Could not write {path}: {exc.strerror or exc}")
            return None
        self.note.setText(f"Report written to {path}")
        return Path(path)
