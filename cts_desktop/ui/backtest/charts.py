"""The backtest's results as pictures: equity and drawdown curves, and a price chart with the
trades' entry and exit markers (pyqtgraph; clipped to the view and peak-downsampled)."""
from __future__ import annotations

from typing import Dict, Mapping, Sequence

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtGui import QColor
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QVBoxLayout, QWidget

from ...core.models import Candle
from ...services import reports as report
from .palette import BG, DOWN, EQUITY_PEN, FG, UP

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
        axis.setPen(pg.mkPen(FG))
        axis.setTextPen(pg.mkPen(FG))
    p.getAxis("left").setWidth(78)
    p.getAxis("left").enableAutoSIPrefix(False)  # BTC-quoted prices stay in BTC, not "x0.001"
    p.setLabel("left", left, color=FG)


class CurveCharts(QWidget):
    """Equity (top) and drawdown in percent of the running peak (bottom), x axes linked (UTC)."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.glw = pg.GraphicsLayoutWidget(self)
        self.glw.setBackground(BG)
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
        self.start_line = pg.InfiniteLine(angle=0, movable=False, pen=pg.mkPen(FG, width=1, style=Qt.PenStyle.DashLine))
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
        self.equity_plot.setLabel("left", f"Equity ({currency})", color=FG)
        self.equity_plot.enableAutoRange()
        self.dd_plot.enableAutoRange()


class PriceChart(QWidget):
    """Close prices of one symbol with the trades' entries (triangles: up = long, down = short) and
    exits (circles: green = net win, red = net loss). Clipped to the view and peak-downsampled."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.symbol_box = QComboBox()
        self.symbol_box.setObjectName("PriceSymbol")
        self.symbol_box.currentTextChanged.connect(self._show_symbol)
        self.info = QLabel("")
        self.info.setStyleSheet(f"color:{FG};")
        top = QHBoxLayout()
        top.addWidget(QLabel("Symbol:"))
        top.addWidget(self.symbol_box)
        top.addWidget(self.info, 1)
        self.plot_widget = pg.PlotWidget(axisItems={"bottom": pg.DateAxisItem(utcOffset=0)})
        self.plot_widget.setBackground(BG)
        self.plot = self.plot_widget.getPlotItem()
        _style_plot(self.plot, "Price")
        self.close_curve = self.plot.plot(pen=pg.mkPen("#c8cfdc", width=1.0))
        self.close_curve.setZValue(0)
        self.entry_markers = pg.ScatterPlotItem(size=10, pen=pg.mkPen(None), hoverable=True)
        self.exit_markers = pg.ScatterPlotItem(size=7, pen=pg.mkPen("#10131a", width=0.8), hoverable=True)
        for m in (self.entry_markers, self.exit_markers):
            m.setZValue(5)
            self.plot.addItem(m)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addLayout(top)
        lay.addWidget(self.plot_widget, 1)
        self._candles: Dict[str, Sequence[Candle]] = {}
        self._positions: list = []
        self._currency = ""

    def set_result(self, candles_by_symbol: Mapping[str, Sequence[Candle]], positions: list, currency: str) -> None:
        self._candles, self._positions, self._currency = candles_by_symbol, positions, currency
        self.symbol_box.blockSignals(True)
        self.symbol_box.clear()
        self.symbol_box.addItems(list(candles_by_symbol))
        self.symbol_box.blockSignals(False)
        self._show_symbol(self.symbol_box.currentText())

    def _show_symbol(self, symbol: str) -> None:
        candles = self._candles.get(symbol) or []
        if not candles:
            self.close_curve.setData([], [])
            self.entry_markers.setData([])
            self.exit_markers.setData([])
            return
        ts = np.fromiter((c[0] for c in candles), dtype=np.float64, count=len(candles)) / 1000.0
        close = np.fromiter((c[4] for c in candles), dtype=np.float64, count=len(candles))
        self.close_curve.setData(ts, close)
        entries, exits = [], []
        for p in self._positions:
            if p.symbol != symbol:
                continue
            long_ = p.side == "long"
            entries.append({"pos": (p.opened_at / 1000.0, p.entry_price), "symbol": "t1" if long_ else "t",
                            "brush": pg.mkBrush(UP if long_ else DOWN),
                            "data": f"#{p.id} {p.side} entry {report.fmt_price(p.entry_price)}"})
            if p.closed_at is not None:
                net = p.realized_pnl - p.fees
                exits.append({"pos": (p.closed_at / 1000.0, p.exit_price), "symbol": "o",
                              "brush": pg.mkBrush(UP if net > 0 else DOWN),
                              "data": f"#{p.id} exit {report.fmt_price(p.exit_price)}: {p.close_reason}, net "
                                      f"{report.fmt_money(net, self._currency)}"})
        self.entry_markers.setData(entries)
        self.exit_markers.setData(exits)
        for m in (self.entry_markers, self.exit_markers):
            m.setToolTip("")
        self.info.setText(f"{len(candles):,} candles, {len(entries)} entries, {len(exits)} exits. Drag to pan, "
                          "wheel to zoom (time axis); the price axis follows the visible range.")
        self.plot.enableAutoRange()

    def marker_counts(self) -> tuple:
        return len(self.entry_markers.data), len(self.exit_markers.data)
