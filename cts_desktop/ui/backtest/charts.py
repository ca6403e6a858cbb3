"""The backtest's results as pictures: equity and drawdown curves, and a price chart with the
trades' entry and exit markers (pyqtgraph; clipped to the view and peak-downsampled)."""
from __future__ import annotations

from typing import Any, Mapping, Optional, Sequence, Tuple

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtGui import QColor
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QVBoxLayout, QWidget

from ...core.models import Candle
from ...services import charting
from ..candle_chart import CandleChart
from .palette import bg, DOWN, EQUITY_PEN, fg

def _style_plot(p: pg.PlotItem, left: str) -> None:
    p.showGrid(x=True, y=True, alpha=0.15)
    p.setMenuEnabled(False)
    p.setClipToView(True)
    p.setDownsampling(auto=True, mode="peak")
    p.setMouseEnabled(x=True, y=False)
    p.enableAutoRange(axis="y", enable=True)
    p.setAutoVisible(y=True)
    for ax in ("left", "bottom"):
        axis = p.getAxis(ax)
        axis.setPen(pg.mkPen(fg()))
        axis.setTextPen(pg.mkPen(fg()))
    p.getAxis("left").setWidth(78)
    p.getAxis("left").enableAutoSIPrefix(False)  # BTC-quoted prices stay in BTC, not "x0.001"
    p.setLabel("left", left, color=fg())


class CurveCharts(QWidget):
    """Equity (top) and drawdown in percent of the running peak (bottom), x axes linked (UTC)."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.glw = pg.GraphicsLayoutWidget(self)
        self.glw.setBackground(bg())
        self.equity_plot = self.glw.addPlot(row=0, col=0, axisItems={"bottom": pg.DateAxisItem(utcOffset=0)})
        self.dd_plot = self.glw.addPlot(row=1, col=0, axisItems={"bottom": pg.DateAxisItem(utcOffset=0)})
        self.glw.ci.layout.setRowStretchFactor(0, 3)
        self.glw.ci.layout.setRowStretchFactor(1, 1)
        self.dd_plot.setXLink(self.equity_plot)
        _style_plot(self.equity_plot, "Equity")
        _style_plot(self.dd_plot, "Drawdown %")
        self.equity_curve = self.equity_plot.plot(pen=pg.mkPen(EQUITY_PEN, width=1.5))
        self.dd_curve = self.dd_plot.plot(pen=pg.mkPen(DOWN, width=1.0), fillLevel=0.0,
                                          brush=pg.mkBrush(QColor(239, 83, 80, 70)))
        self.start_line = pg.InfiniteLine(angle=0, movable=False, pen=pg.mkPen(fg(), width=1, style=Qt.PenStyle.DashLine))
        self.equity_plot.addItem(self.start_line)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addWidget(self.glw)

    def set_curve(self, curve, starting: float, currency: str) -> None:
        if not curve:
            self.equity_curve.setData([], [])
            self.dd_curve.setData([], [])
            return
        arr = np.asarray(curve, dtype=np.float64)
        x = arr[:, 0] / 1000.0
        eq = arr[:, 1]
        peak = np.maximum.accumulate(np.concatenate(([starting], eq)))[1:]
        dd = np.where(peak > 0, (eq - peak) / peak * 100.0, 0.0)
        self.equity_curve.setData(x, eq)
        self.dd_curve.setData(x, dd)
        self.start_line.setValue(starting)
        self.equity_plot.setLabel("left", f"Equity ({currency})", color=fg())
        self.equity_plot.enableAutoRange()
        self.dd_plot.enableAutoRange()


class PriceChart(QWidget):
    """The candles of one symbol (:class:`~cts_desktop.ui.candle_chart.CandleChart`) with the
    strategy's indicators and every trade: triangles at entries (up = buy), circles at exits
    (green = net win), each with its tool tip."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.symbol_box = QComboBox()
        self.symbol_box.setObjectName("PriceSymbol")
        self.symbol_box.currentTextChanged.connect(self._show_symbol)
        self.info = QLabel("")
        self.info.setStyleSheet(f"color:{fg()};")
        top = QHBoxLayout()
        top.addWidget(QLabel("Symbol:"))
        top.addWidget(self.symbol_box)
        top.addWidget(self.info, 1)
        self.chart = CandleChart(bg=bg(), fg=fg())
        self.chart.follow.setChecked(False)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addLayout(top)
        lay.addWidget(self.chart, 1)
        self._candles: Mapping[str, Sequence[Candle]] = {}
        self._positions: list = []
        self._currency = ""
        self._strategy: Optional[Tuple[str, Mapping[str, Any]]] = None

    def set_result(self, candles_by_symbol: Mapping[str, Sequence[Candle]], positions: list, currency: str,
                   strategy: Optional[Tuple[str, Mapping[str, Any]]] = None) -> None:
        """Show a run's candles and trades; ``strategy`` ``(name, params)`` adds its indicators."""
        self._candles, self._positions, self._currency = candles_by_symbol, positions, currency
        self._strategy = strategy
        self.symbol_box.blockSignals(True)
        self.symbol_box.clear()
        self.symbol_box.addItems(list(candles_by_symbol))
        self.symbol_box.blockSignals(False)
        self._show_symbol(self.symbol_box.currentText())

    def _show_symbol(self, symbol: str) -> None:
        candles = self._candles.get(symbol)
        chart = self.chart
        if candles is None or not len(candles):
            chart.set_candles(np.empty((0, 6)))
            chart.set_marks([])
            chart.set_lines([])
            self.info.setText("")
            return
        if hasattr(candles, "arrays"):  # columnar candles: no tuple per candle
            chart.data.set_columns(*candles.arrays())
        else:
            chart.data.set(candles)
        chart.show_last(0)
        marks = charting.trade_marks(self._positions, symbol, self._currency)
        chart.set_marks(marks)
        lines: list = []
        if self._strategy is not None:
            try:
                lines = charting.indicator_lines(self._strategy[0], self._strategy[1], chart.data.column("ts"),
                                                 chart.data.column("close"), chart.data.timeframe_ms)
            except (KeyError, ValueError):
                lines = []  # a strategy this version does not know: candles and trades only
        chart.set_lines(lines)
        n_entries = sum(1 for m in marks if m.kind == "entry")
        self.info.setText(f"{len(candles):,} candles, {n_entries} entries, {len(marks) - n_entries} exits. Drag to "
                          "pan, wheel to zoom; hover a marker for the fill.")

    def marker_counts(self) -> tuple:
        """(entries, exits) on the chart."""
        marks = self.chart._marks
        entries = sum(1 for m in marks if m.kind == "entry")
        return entries, len(marks) - entries
