"""The candlestick chart: candles with volume underneath, the strategy's indicators, every fill
as a marker, the open position's entry / stop-loss / take-profit as lines, a crosshair with the
candle's OHLCV, pan and zoom with the mouse, and "follow" to keep the newest candle in view.

Only what is visible is drawn, merged to about one bar per three pixels when zoomed out
(:meth:`.candle_data.CandleArrays.visible`, read from a level-of-detail pyramid built once), so half
a million candles pan and zoom as smoothly as a hundred: a redraw costs a few hundred bars whatever
the zoom. What a frame paints was cut to what changes (``benchmarks/bench_candle_chart.py``): no
grid (the grid lines an axis draws cost ~14 ms a frame here); a time axis of our own
(:mod:`.time_axis`; pyqtgraph's date axis made ~270 ticks a frame at some zooms); one time axis
under the volume (none under the price pane); the volume pane's top in round steps, so its axis
is redrawn now and then; indicator lines 1 px wide (Qt's fast path). Bodies and volume are
one item per pane (:class:`.candle_item.BarsItem`: a ``drawRects`` and a ``drawLines`` a colour).
Redraws are coalesced: a burst of range changes or new candles costs one.

Times are ms UTC in the API (the axis shows UTC dates); prices in quote.
"""
from __future__ import annotations

from typing import Dict, List, Optional, Sequence

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, QTimer, Signal
from shiboken6 import isValid
from PySide6.QtGui import QColor
from PySide6.QtWidgets import QCheckBox, QGraphicsItem, QHBoxLayout, QLabel, QVBoxLayout, QWidget

from ..services import reports as report
from ..services.charting import Line, Mark
from .candle_data import Bars, CandleArrays, line_visible
from .candle_item import BarsItem
from .time_axis import MAX_S, MIN_S, UtcTimeAxis

UP, DOWN = "#26a69a", "#ef5350"
LEVEL_COLOURS = {"entry": "#4c9be8", "stop-loss": DOWN, "take-profit": UP}
PX_PER_BAR = 3  # zoomed out, candles are merged to about one bar per this many pixels
BODY = 0.7  # a body's width, fraction of the bar's time span


def nice_ceil(x: float) -> float:
    """The smallest of 1, 1.2, 1.5, 2, 2.5, 3, 4, 5, 6, 8 times a power of ten that is >= ``x`` (1 for
    ``x <= 0``): the volume pane's top moves in steps, so its axis is redrawn only now and then."""
    if not x > 0 or not np.isfinite(x):
        return 1.0
    p = 10.0 ** np.floor(np.log10(x))
    return float(next((m * p for m in (1, 1.2, 1.5, 2, 2.5, 3, 4, 5, 6, 8) if m * p >= x), 10 * p))


def _style(p: pg.PlotItem, fg: str, label: str) -> None:
    p.setMenuEnabled(False)
    p.setMouseEnabled(x=True, y=False)
    p.hideButtons()
    for ax in ("left", "bottom"):
        axis = p.getAxis(ax)
        axis.setPen(pg.mkPen(fg))
        axis.setTextPen(pg.mkPen(fg))
        axis.setCacheMode(QGraphicsItem.CacheMode.DeviceCoordinateCache)  # unchanged axes are blitted
    p.getAxis("left").setWidth(78)
    p.getAxis("left").setStyle(maxTickLevel=1)  # labelled ticks and one level between: half the ticks to draw a frame
    p.getAxis("left").enableAutoSIPrefix(False)
    p.setLabel("left", label, color=fg)


class CandleChart(QWidget):
    """See the module docstring. ``hovered(text)`` is emitted with the crosshair's read-out;
    ``level_moved(name, price)`` when the trader lets go of a dragged stop-loss / take-profit line
    (made draggable by :meth:`set_levels`; the line stays where it was dropped until
    :meth:`settle_level` or :meth:`snap_back`)."""

    hovered = Signal(str)
    level_moved = Signal(str, float)

    def __init__(self, parent: Optional[QWidget] = None, *, bg: str = "#161a22", fg: str = "#aab3c5"):
        super().__init__(parent)
        self.data = CandleArrays()
        self.bars: Optional[Bars] = None
        self._lines: List[Line] = []
        self._line_items: List[tuple] = []
        self._marks: List[Mark] = []
        self._levels: Dict[str, pg.InfiniteLine] = {}
        self._level_values: Dict[str, float] = {}  # name -> the price last set (a refused drag goes back to it)
        self._dropped: set = set()  # lines dropped and not answered yet: set_levels leaves them be
        self._pending = False
        self.readout = QLabel("")
        self.readout.setObjectName("CandleReadout")
        self.readout.setStyleSheet(f"color:{fg}; font-family: monospace;")
        self.follow = QCheckBox("Follow")
        self.follow.setObjectName("FollowLast")
        self.follow.setChecked(True)
        self.follow.setToolTip("Keep the newest candle in view (panning away turns it off)")
        top = QHBoxLayout()
        top.setContentsMargins(4, 0, 4, 0)
        top.addWidget(self.readout, 1)
        top.addWidget(self.follow)
        self.glw = pg.GraphicsLayoutWidget()
        self.glw.setBackground(bg)
        self.price = self.glw.addPlot(row=0, col=0, axisItems={"bottom": UtcTimeAxis()})
        self.volume = self.glw.addPlot(row=1, col=0, axisItems={"bottom": UtcTimeAxis()})
        self.lower = self.glw.addPlot(row=2, col=0, axisItems={"bottom": UtcTimeAxis()})
        self.price.vb.setLimits(xMin=MIN_S, xMax=MAX_S)
        for p, label in ((self.price, "Price"), (self.volume, "Volume"), (self.lower, "")):
            _style(p, fg, label)
        self.volume.setXLink(self.price)  # the lower pane follows it only while shown (_show_lower)
        self.price.hideAxis("bottom")  # its ticks repeated the volume's time axis just below, for ~1 ms a frame
        lay = self.glw.ci.layout
        lay.setRowStretchFactor(0, 5)
        lay.setRowStretchFactor(1, 1)
        self.glw.removeItem(self.lower)  # added back when a strategy draws in a pane of its own
        shade = QColor(bg)
        shade.setAlpha(170)
        self.legend = self.price.addLegend(offset=(8, 8), labelTextColor=fg, brush=pg.mkBrush(shade))
        self.candles = BarsItem((UP, DOWN))
        self.price.addItem(self.candles)
        self.volume_bars = BarsItem((QColor(38, 166, 154, 150), QColor(239, 83, 80, 150)), wicks=False)
        self.volume.addItem(self.volume_bars)
        self.markers = pg.ScatterPlotItem(size=13, hoverable=True, tip=lambda x, y, data: data)
        self.markers.setZValue(10)
        self._mark_brushes = (pg.mkBrush(UP), pg.mkBrush(DOWN))
        self._mark_pen = pg.mkPen("#10131a")
        self.price.addItem(self.markers)
        dash = pg.mkPen(fg, width=1, style=Qt.PenStyle.DotLine)
        self.vline = pg.InfiniteLine(angle=90, movable=False, pen=dash)
        self.hline = pg.InfiniteLine(angle=0, movable=False, pen=dash)
        for it in (self.vline, self.hline):
            it.setZValue(20)
            self.price.addItem(it, ignoreBounds=True)
        self.price.sigXRangeChanged.connect(self._range_changed)
        self.price.scene().sigMouseMoved.connect(self._mouse_moved)
        self.price.vb.sigRangeChangedManually.connect(lambda *_a: self.follow.setChecked(False))
        v = QVBoxLayout(self)
        v.setContentsMargins(0, 0, 0, 0)
        v.addLayout(top)
        v.addWidget(self.glw, 1)

    # -- data ---------------------------------------------------------------------------------------
    def set_candles(self, candles: Sequence[Sequence[float]] | np.ndarray, timeframe_ms: Optional[float] = None,
                    *, show_last: int = 200) -> None:
        """Show ``candles`` (``(ts_ms, o, h, l, c, v)`` rows or an ``(n, 6)`` array, oldest first);
        the view shows the last ``show_last`` of them (0: all)."""
        self.data.set(candles, timeframe_ms)
        self.show_last(show_last)

    def show_last(self, n: int = 200) -> None:
        """Put the newest ``n`` candles' span in view (0: every candle): ``n`` timeframes wide even
        when fewer candles exist yet (a chart opened as a run starts), so Follow keeps a readable
        width instead of two candles' worth."""
        d = self.data
        if not d.n:
            self._schedule()
            return
        ts = d.column("ts")
        first = min(ts[max(d.n - n, 0)], ts[-1] - (n - 1) * d.timeframe_ms) if n else ts[0]
        self.price.setXRange(first / 1000.0, (ts[-1] + 2 * d.timeframe_ms) / 1000.0, padding=0)
        self._schedule()

    def add_candle(self, candle: Sequence[float]) -> None:
        """A new candle, or the forming one updated; with Follow on, the view moves along."""
        if not self.data.add(candle):
            return
        if self.follow.isChecked():
            x0, x1 = self.price.vb.viewRange()[0]
            right = (candle[0] + 2 * self.data.timeframe_ms) / 1000.0
            if right > x1:
                self.price.vb.blockSignals(True)  # not a manual move: Follow stays on
                self.price.setXRange(x0 + right - x1, right, padding=0)
                self.price.vb.blockSignals(False)
        self._schedule()

    def set_lines(self, lines: Sequence[Line]) -> None:
        """The strategy's indicator lines (:func:`~cts_desktop.services.charting.indicator_lines`)."""
        for item, plot, _line in self._line_items:
            plot.removeItem(item)
            if plot is self.price:
                self.legend.removeItem(item)
        for item in getattr(self, "_guides", []):
            self.lower.removeItem(item)
        self._lines, self._line_items, self._guides = list(lines), [], []
        palette = ["#f0b44c", "#b48cf0", "#4c9be8", "#e0e0e0"]
        for i, line in enumerate(self._lines):
            plot = self.lower if line.pane == "lower" else self.price
            # 1 px: Qt's fast path (a 1.3 px pen went through the stroker, ~0.3 ms a line a frame)
            item = pg.PlotCurveItem(pen=pg.mkPen(line.colour or palette[i % len(palette)], width=1), name=line.name)
            plot.addItem(item)
            self._line_items.append((item, plot, line))
            for level in line.levels if line.pane == "lower" else ():
                guide = pg.InfiniteLine(level, angle=0, pen=pg.mkPen("#6b7385", style=Qt.PenStyle.DashLine))
                self.lower.addItem(guide)
                self._guides.append(guide)
        lower = [ln for ln in self._lines if ln.pane == "lower"]
        self._show_lower(bool(lower))
        if lower:
            self.lower.setLabel("left", lower[0].name)
            if lower[0].levels:
                self.lower.setYRange(0, 100, padding=0.02)
        self._schedule()

    def _show_lower(self, show: bool) -> None:
        """The indicator pane under the volume, with the time axis on whichever plot is lowest."""
        shown = self.lower.scene() is not None
        if show and not shown:
            self.glw.addItem(self.lower, row=2, col=0)
            self.glw.ci.layout.setRowStretchFactor(2, 2)
            self.lower.setXLink(self.price)
            self.volume.hideAxis("bottom")  # one time axis, the lowest; the others cost a frame for nothing
        elif not show and shown:
            self.lower.setXLink(None)  # hidden, it need not follow every range change
            self.glw.removeItem(self.lower)
            self.glw.ci.layout.setRowStretchFactor(2, 0)
            self.volume.showAxis("bottom")

    def set_marks(self, marks: Sequence[Mark]) -> None:
        """Fill markers (:func:`~cts_desktop.services.charting.trade_marks`): triangles for entries
        (up = buy), circles for exits (green = net win). Given as arrays with shared brushes (one
        dict per spot cost ~160 ms for 1,890 markers, arrays ~9 ms)."""
        self._marks = list(marks)
        up, down = self._mark_brushes
        entry = [m.kind == "entry" for m in self._marks]
        self.markers.setData(
            x=np.array([m.ts / 1000.0 for m in self._marks], dtype=np.float64),
            y=np.array([m.price for m in self._marks], dtype=np.float64),
            symbol=[("t1" if m.side == "buy" else "t") if e else "o" for m, e in zip(self._marks, entry, strict=True)],
            size=[13 if e else 9 for e in entry],
            brush=[(up if m.side == "buy" else down) if e else (up if m.win else down)
                   for m, e in zip(self._marks, entry, strict=True)],
            pen=self._mark_pen, data=[m.tip for m in self._marks])

    def set_levels(self, levels: Dict[str, Optional[float]], movable: Sequence[str] = ()) -> None:
        """Horizontal lines named ``entry``, ``stop-loss``, ``take-profit`` (None removes one);
        those named in ``movable`` can be dragged (:attr:`level_moved` on release)."""
        for name, price in levels.items():
            line = self._levels.get(name)
            if price is None:
                if line is not None:
                    self.price.removeItem(line)
                    del self._levels[name]
                    self._level_values.pop(name, None)
                continue
            if line is None:
                colour = LEVEL_COLOURS.get(name, "#aab3c5")
                line = pg.InfiniteLine(angle=0, movable=False, pen=pg.mkPen(colour, style=Qt.PenStyle.DashLine),
                                       label=f"{name} {{value:.10g}}", labelOpts={"color": colour, "position": 0.01,
                                                  "anchors": [(0, 1), (0, 1)]})  # left-aligned, above the line
                self._levels[name] = line
                self.price.addItem(line, ignoreBounds=True)
                line.sigPositionChangeFinished.connect(lambda ln, n=name: self._dropped_at(n, ln))
            self._make_movable(line, name in movable, LEVEL_COLOURS.get(name, "#aab3c5"))
            self._level_values[name] = float(price)
            if not line.moving and name not in self._dropped:  # never yank a line from the trader's hand
                line.setValue(price)
        self._schedule()  # the price axis may widen to keep a nearby line in view

    @staticmethod
    def _make_movable(line: pg.InfiniteLine, movable: bool, colour: str) -> None:
        if line.movable == movable:
            return
        line.setMovable(movable)
        line.setHoverPen(pg.mkPen(colour, width=3) if movable else line.pen)
        line.setCursor(Qt.CursorShape.SizeVerCursor if movable else Qt.CursorShape.ArrowCursor)
        line.setToolTip("Drag to move it; released, the stop moves (asked first on a live connection)"
                        if movable else "")

    def _dropped_at(self, name: str, line: pg.InfiniteLine) -> None:
        price = float(line.value())
        if price == self._level_values.get(name):
            return
        self._dropped.add(name)
        self.level_moved.emit(name, price)

    def settle_level(self, name: str) -> None:
        """The dropped line ``name`` was accepted: later :meth:`set_levels` calls place it again."""
        self._dropped.discard(name)

    def snap_back(self, name: str) -> None:
        """The dropped line ``name`` was refused: back to the price last set."""
        self._dropped.discard(name)
        line, price = self._levels.get(name), self._level_values.get(name)
        if line is not None and price is not None:
            line.setValue(price)
            self._schedule()  # the price axis fits the line where it is again

    def levels(self) -> Dict[str, float]:
        return {k: float(v.value()) for k, v in self._levels.items()}

    # -- drawing ------------------------------------------------------------------------------------
    def _range_changed(self, *_a) -> None:
        self._schedule()

    def _schedule(self) -> None:
        if not self._pending:
            self._pending = True
            QTimer.singleShot(0, self.redraw)

    def max_bars(self) -> int:
        return max(int(self.price.vb.width() / PX_PER_BAR), 100)

    def redraw(self) -> None:
        """Draw the visible candles (merged when needed), volume, lines; fit the price axis."""
        self._pending = False
        if not isValid(self.price.vb):  # the window closed before this queued redraw ran
            return
        x0, x1 = self.price.vb.viewRange()[0]
        b = self.bars = self.data.visible(x0 * 1000.0, x1 * 1000.0, self.max_bars())
        x = (b.ts + b.width / 2) / 1000.0
        w = b.width / 1000.0 * BODY
        up = b.close >= b.open
        self.candles.set_bars(x, w, b.open, b.close, up, b.low, b.high)
        self.volume_bars.set_bars(x, w, np.zeros(len(b)), b.volume, up)
        for item, _plot, line in self._line_items:
            lx, ly = line_visible(line.ts, line.values, x0 * 1000.0, x1 * 1000.0, b.k)
            item.setData(lx / 1000.0 + b.width / 2000.0, ly, connect="finite")
        if len(b):
            lo, hi = float(np.min(b.low)), float(np.max(b.high))
            # a stop-loss / take-profit line this close to the candles stays in view (and can be dragged)
            near = max((hi - lo) * 0.5, abs(hi) * 0.01)
            for line in self._levels.values():
                level = float(line.value())
                if lo - near <= level <= hi + near:
                    lo, hi = min(lo, level), max(hi, level)
            pad = (hi - lo) * 0.09 or abs(hi) * 0.01 or 1.0  # room for a top line's label above it
            self.price.setYRange(lo - pad, hi + pad, padding=0)
            self.volume.setYRange(0, nice_ceil(float(np.max(b.volume)) * 1.05), padding=0)

    def _mouse_moved(self, pos) -> None:
        if not self.price.sceneBoundingRect().contains(pos):
            return
        pt = self.price.vb.mapSceneToView(pos)
        self.vline.setValue(pt.x())
        self.hline.setValue(pt.y())
        self.readout.setText(self.describe_at(pt.x() * 1000.0))
        self.hovered.emit(self.readout.text())

    def describe_at(self, ts_ms: float) -> str:
        """The crosshair's read-out for the candle under ``ts_ms``: UTC time and OHLCV."""
        i = self.data.index_at(ts_ms)
        if i is None:
            return ""
        t, o, h, lo, c, v = (self.data.column(f)[i] for f in ("ts", "open", "high", "low", "close", "volume"))
        change = (c - o) / o * 100.0 if o else 0.0
        return (f"{report.fmt_time(int(t))} UTC  O {report.fmt_price(o)}  H {report.fmt_price(h)}  "
                f"L {report.fmt_price(lo)}  C {report.fmt_price(c)} ({change:+.2f} %)  V {v:,.4g}")
