"""The Monte Carlo tab: resample the best trial's trades (its re-run) and show the 5th/50th/95th
percentiles of final equity, max drawdown and losing streak, and a fan chart of equity by trade
(5-95 and 25-75 bands, the median, the real order). The resampling is the montecarlo service's
(:mod:`cts_desktop.services.montecarlo`), run on a worker thread of the loop (numpy only)."""
from __future__ import annotations

import asyncio
from typing import Any, Optional

import numpy as np
import pyqtgraph as pg
from PySide6.QtGui import QColor
from PySide6.QtWidgets import (QComboBox, QHBoxLayout, QHeaderView, QLabel, QPushButton, QSpinBox, QTableWidget,
                               QTableWidgetItem, QVBoxLayout, QWidget)

from ...core import montecarlo as mc_core
from ...services import backtests, montecarlo
from ...services import reports as report
from ..backtest.palette import bg, EQUITY_PEN, fg

MC_ROWS = ["Final equity", "Max drawdown", "Longest losing streak (trades)"]


class MonteCarloTab(QWidget):
    """Paths, mode, seed, Run; the percentile table (``table``), the loss probability and the fan
    chart. :attr:`result` is the last :class:`~cts_desktop.core.montecarlo.MonteCarloResult`."""

    def __init__(self, parent: Optional[QWidget] = None):
        super().__init__(parent)
        self.trades: Optional[montecarlo.Trades] = None
        self.result: Optional[mc_core.MonteCarloResult] = None
        self.task: Optional[asyncio.Future] = None
        v = QVBoxLayout(self)
        v.setContentsMargins(0, 4, 0, 0)
        bar = QHBoxLayout()
        self.paths = QSpinBox()
        self.paths.setRange(10, 100_000)
        self.paths.setValue(1000)
        self.paths.setSingleStep(500)
        self.mode = QComboBox()
        self.mode.addItem("bootstrap", mc_core.BOOTSTRAP)
        self.mode.addItem("shuffle", mc_core.SHUFFLE)
        self.mode.setToolTip("bootstrap: each path draws as many trades with replacement; shuffle: each path "
                             "reorders the real trades (same final equity, other drawdowns)")
        self.seed = QSpinBox()
        self.seed.setRange(0, 2**31 - 1)
        self.run_button = QPushButton("Run Monte Carlo")
        self.run_button.setObjectName("RunMonteCarloButton")
        self.run_button.setEnabled(False)
        self.run_button.clicked.connect(self.start)
        for label, w in (("Paths:", self.paths), ("Mode:", self.mode), ("Seed:", self.seed)):
            bar.addWidget(QLabel(label))
            bar.addWidget(w)
        bar.addWidget(self.run_button)
        bar.addStretch(1)
        v.addLayout(bar)
        self.note = QLabel("Run the best trial again first (Best trial tab): its trades are resampled here.")
        self.note.setObjectName("MonteCarloNote")
        self.note.setWordWrap(True)
        v.addWidget(self.note)
        self.table = QTableWidget(len(MC_ROWS), 4)
        self.table.setObjectName("MonteCarloTable")
        self.table.setHorizontalHeaderLabels(["5th pct", "50th pct", "95th pct", "Real order"])
        self.table.setVerticalHeaderLabels(MC_ROWS)
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        self.table.setFixedHeight(self.table.horizontalHeader().sizeHint().height() + 3 * 30 + 4)
        v.addWidget(self.table)
        self.plot = pg.PlotWidget(background=bg())
        self.plot.setObjectName("FanChart")
        p = self.plot.getPlotItem()
        p.showGrid(x=True, y=True, alpha=0.15)
        p.setMenuEnabled(False)
        p.setLabel("bottom", "Trade # (shaded: 5th-95th and 25th-75th percentile bands)", color=fg())
        p.setLabel("left", "Equity", color=fg())
        p.getAxis("left").enableAutoSIPrefix(False)
        p.addLegend(offset=(10, 10))
        v.addWidget(self.plot, 1)

    def set_trades(self, trades: Optional[montecarlo.Trades]) -> None:
        """The trades to resample (None: none yet)."""
        self.trades = trades
        self.run_button.setEnabled(trades is not None and bool(trades.pnls))
        if trades is not None:
            self.note.setText(f"{len(trades.pnls)} trades of {trades.source}: Run Monte Carlo to resample them."
                              if trades.pnls else f"{trades.source} has no closed trade to resample.")

    def start(self) -> Optional[asyncio.Future]:
        """Resample on a worker thread; the table and the chart fill in when done."""
        if self.trades is None or (self.task is not None and not self.task.done()):
            return None
        self.run_button.setEnabled(False)
        self.note.setText("Resampling…")
        trades, paths, mode, seed = self.trades, self.paths.value(), self.mode.currentData(), self.seed.value()
        loop = asyncio.get_event_loop()
        self.task = asyncio.ensure_future(loop.run_in_executor(None, montecarlo.run, trades, paths, mode, seed))
        self.task.add_done_callback(self._done)
        return self.task

    def _done(self, fut: Any) -> None:
        self.run_button.setEnabled(True)
        try:
            result = fut.result()
        except backtests.BacktestInputError as exc:
            self.note.setText(f"Error: {exc}")
            return
        self.show_result(result)

    def show_result(self, r: mc_core.MonteCarloResult) -> None:
        self.result = r
        cur = self.trades.currency if self.trades else ""
        rows = [(r.final_equity, r.actual_final_equity, lambda x: report.fmt_money(x, cur, unit=False)),
                (r.max_drawdown, r.actual_max_drawdown, report.fmt_pct),
                (r.losing_streak, r.actual_losing_streak, lambda x: f"{x:g}")]
        for i, (pcts, actual, fmt) in enumerate(rows):
            for j, q in enumerate((5.0, 50.0, 95.0)):
                self.table.setItem(i, j, QTableWidgetItem(fmt(pcts[q])))
            self.table.setItem(i, 3, QTableWidgetItem(fmt(actual)))
        self.note.setText(f"{r.paths:,} {r.mode} paths of {r.trades} trades, seed {r.seed}: "
                          f"{r.prob_loss * 100:.1f} % of them end below the starting equity "
                          f"{report.fmt_money(r.starting_equity, cur)}.")
        self._fan(r, cur)

    def _fan(self, r: mc_core.MonteCarloResult, cur: str) -> None:
        p = self.plot.getPlotItem()
        p.clear()
        if p.legend is not None:
            p.legend.clear()
        x = np.arange(r.trades + 1, dtype=np.float64)
        for lo, hi, alpha in ((5.0, 95.0, 50), (25.0, 75.0, 90)):
            if lo in r.fan and hi in r.fan:
                a = pg.PlotDataItem(x, r.fan[lo], pen=pg.mkPen(QColor(76, 155, 232, 120)))
                b = pg.PlotDataItem(x, r.fan[hi], pen=pg.mkPen(QColor(76, 155, 232, 120)))
                p.addItem(a)
                p.addItem(b)
                fill = pg.FillBetweenItem(a, b, brush=pg.mkBrush(QColor(76, 155, 232, alpha)))
                p.addItem(fill)
        if 50.0 in r.fan:
            p.plot(x, r.fan[50.0], pen=pg.mkPen(EQUITY_PEN, width=2), name="median")
        if self.trades is not None:
            real = np.concatenate(([r.starting_equity], r.starting_equity + np.cumsum(self.trades.pnls)))
            p.plot(x, real, pen=pg.mkPen("#f0b44c", width=1.5), name="real order")
        p.setLabel("left", f"Equity ({cur})" if cur else "Equity", color=fg())
        p.enableAutoRange()
