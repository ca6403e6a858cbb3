"""The equity chart: account equity over market time, with its drawdown underneath.

Points arrive in batches (``[(timestamp_ms, equity), ...]``, at most ~10 per second from the
bridge). They are appended to numpy arrays that grow geometrically. The curves are drawn from a
peak-preserving decimation of the visible range (:func:`.chart_data.peak_decimate`: the lowest
and highest value per pixel), recomputed at each redraw and when the user zooms or pans, so a
1,000,000-point history draws ~2,000 points with every extreme in place. A history longer than
:data:`LOAD_CHUNK` points is converted one chunk per event-loop turn (live points that arrive
meanwhile wait for it), so a 1,000,000-point load never holds the loop for long. While the chart is hidden (another tab is
shown) nothing is drawn; the latest data is drawn when it is shown again.

Painting, not data, is what costs (the axes and grid are most of a repaint), so while the curve
grows: redraws are throttled to :data:`REDRAW_MS`; the visible range grows in steps (the x range
by a quarter of its span, the y range with a margin) instead of following every point, so the
axes, cached as pixmaps, are regenerated only when a step happens.

pyqtgraph (about half a second of imports) is loaded when the chart is first shown, after the
window is on screen, not while the app starts; data that arrives before that is kept and drawn
then.
"""
from __future__ import annotations

from typing import Iterable, Optional, Sequence, Tuple

from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import QGraphicsItem
from PySide6.QtWidgets import QLabel, QVBoxLayout, QWidget

from . import fmt
from .chart_data import Columns, EquityData, peak_decimate

REDRAW_MS = 600  # while points stream in, the chart repaints at most this often
EQUITY_PEN = "#4c9be8"
DD_PEN = "#ef5350"
LOAD_CHUNK = 25_000  # a history is converted this many points per event-loop turn (~5 ms each)
MIN_BUCKETS = 1000  # decimation buckets: the plot's width in pixels, at least this many


class EquityChart(QWidget):
    """Equity (top) and drawdown in percent of the running peak (bottom), x axes linked.

    :meth:`set_points` replaces the curve (a history load or a new run), :meth:`append_points`
    extends it. A point whose timestamp equals the last one replaces it (the engine updates the
    last point when several symbols share a timestamp).
    """

    def __init__(self, parent: Optional[QWidget] = None, *, dark: bool = True):
        super().__init__(parent)
        self.setObjectName("EquityChart")
        self.currency = ""
        self._data = EquityData()
        self._eq, self._dd = self._data.eq, self._data.dd
        self._dirty = False
        self._starting: Optional[float] = None

        self._dark = dark
        self._glw = None  # the pyqtgraph widgets, built on first show (see the module docstring)
        self._xr: Optional[Tuple[float, float]] = None  # the ranges shown (stepped, see module doc)
        self._yr: Optional[Tuple[float, float]] = None
        self._ddr: Optional[float] = None
        self._grow = 0.25  # x range step while growing (fraction of the span)
        self._follow = True  # the ranges follow the data until the user zooms or pans
        self._setting_range = False
        self._span: Optional[Tuple[float, float]] = None  # a fixed time axis (s), see set_time_span
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(REDRAW_MS)
        self._timer.timeout.connect(self._redraw)
        self._view_timer = QTimer(self)  # re-decimate after the user zoomed or panned
        self._view_timer.setSingleShot(True)
        self._view_timer.setInterval(30)
        self._view_timer.timeout.connect(self._draw_curves)
        self._load_timer = QTimer(self)  # the next chunk of a history being loaded
        self._load_timer.setSingleShot(True)
        self._load_timer.setInterval(0)
        self._load_timer.timeout.connect(self._load_step)
        self._loading: Optional[Tuple[Sequence[Tuple[int, float]], int]] = None
        self._queued: list = []  # live batches that arrived during a load

        self._empty = QLabel("No equity data yet: the curve grows as the engine runs (Start).", self)
        self._empty.setObjectName("ChartPlaceholder")
        self._empty.setAlignment(Qt.AlignmentFlag.AlignCenter)

        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addWidget(self._empty)
        self._update_placeholder()

    def _colours(self) -> Tuple[str, str, str]:
        """(background, text, grid) of the dark or light theme."""
        return ("#161a22", "#aab3c5", "#262c39") if self._dark else ("#ffffff", "#3d4757", "#e4e8ee")

    def set_dark(self, dark: bool) -> None:
        """Colour the plots for the dark or the light theme (Settings > Theme, applied at once)."""
        if dark == self._dark:
            return
        self._dark = dark
        if self._glw is None:
            return
        import pyqtgraph as pg

        bg, fg, grid = self._colours()
        self._glw.setBackground(bg)
        for p, label in ((self.plot, "Equity"), (self.dd_plot, "DD %")):
            for ax in ("left", "bottom"):
                p.getAxis(ax).setPen(pg.mkPen(grid))
                p.getAxis(ax).setTextPen(pg.mkPen(fg))
            p.setLabel("left", label, color=fg)
        self.start_line.setPen(pg.mkPen(fg, width=1, style=Qt.PenStyle.DashLine))
        self.set_currency(self.currency)

    def _build_plots(self) -> None:
        import pyqtgraph as pg

        if self._glw is not None:
            return
        bg, fg, grid = self._colours()
        glw = pg.GraphicsLayoutWidget(self)
        self._glw = glw
        self._glw.setBackground(bg)
        self._glw.ci.setContentsMargins(4, 4, 8, 4)
        self._glw.ci.setSpacing(2)

        self.plot = self._glw.addPlot(row=0, col=0, axisItems={"bottom": pg.DateAxisItem(utcOffset=0)})
        self._glw.nextRow()
        self.dd_plot = self._glw.addPlot(row=1, col=0, axisItems={"bottom": pg.DateAxisItem(utcOffset=0)})
        self._glw.ci.layout.setRowStretchFactor(0, 3)
        self._glw.ci.layout.setRowStretchFactor(1, 1)
        self.dd_plot.setXLink(self.plot)
        for p, label in ((self.plot, "Equity"), (self.dd_plot, "DD %")):
            p.showGrid(x=False, y=True, alpha=1.0)  # opaque grid lines: alpha blending is slow
            p.setMenuEnabled(False)
            p.setMouseEnabled(x=True, y=False)
            p.disableAutoRange()  # no pyqtgraph downsampling: the curves get decimated data
            p.hideButtons()
            for ax in ("left", "bottom"):
                axis = p.getAxis(ax)
                axis.setPen(pg.mkPen(grid))
                axis.setTextPen(pg.mkPen(fg))
                axis.setCacheMode(QGraphicsItem.CacheMode.DeviceCoordinateCache)
            p.getAxis("left").setWidth(72)
            p.setLabel("left", label, color=fg)
        self.plot.getAxis("bottom").setStyle(showValues=False)
        self.curve = self.plot.plot(pen=pg.mkPen(EQUITY_PEN, width=1), name="equity")
        # A line, not a filled area: filling under 45,000 points cost up to ~80 ms a repaint.
        self.dd_curve = self.dd_plot.plot(pen=pg.mkPen(DD_PEN, width=1.0))
        self.plot.getViewBox().sigRangeChangedManually.connect(self._user_moved)
        self.dd_plot.getViewBox().sigRangeChangedManually.connect(self._user_moved)
        self.plot.getViewBox().sigXRangeChanged.connect(self._x_range_changed)
        self.start_line = pg.InfiniteLine(angle=0, movable=False,
                                          pen=pg.mkPen(fg, width=1, style=Qt.PenStyle.DashLine))
        self.start_line.setVisible(False)
        self.plot.addItem(self.start_line)

        self.layout().insertWidget(0, self._glw)
        self.set_currency(self.currency)
        self.set_starting_balance(self._starting)
        self._dirty = True
        self._redraw()

    # -- data -------------------------------------------------------------------------------------
    @property
    def point_count(self) -> int:
        return self._eq.n

    def set_currency(self, currency: str) -> None:
        self.currency = currency
        if self._glw is None:
            return
        self.plot.setLabel("left", f"Equity ({currency})" if currency else "Equity")

    def set_starting_balance(self, value: Optional[float]) -> None:
        self._starting = value
        if self._glw is None:
            return
        if value:
            self.start_line.setPos(value)
        self.start_line.setVisible(bool(value))

    @property
    def loading(self) -> bool:
        """A history is being loaded (chunk by chunk)."""
        return self._loading is not None

    def _stop_loading(self) -> None:
        self._loading = None
        self._queued = []
        self._load_timer.stop()

    def clear(self) -> None:
        self._stop_loading()
        self._data.clear()
        self._reset_ranges()
        self._dirty = True
        self._redraw()

    def _reset_ranges(self) -> None:
        self._xr = self._yr = None
        self._ddr = None
        self._follow = True
        self._span = None

    def set_time_span(self, span: Optional[Tuple[int, int]]) -> None:
        """Fix the time axis to ``(first_ms, last_ms)`` (a replay's whole span) instead of growing
        it in steps: each step regenerates the date axis, the costliest repaint of the chart."""
        self._span = (span[0] / 1000.0, span[1] / 1000.0) if span else None
        self._xr = None
        self._dirty = True
        self._redraw()

    def _user_moved(self, *_a) -> None:
        if not self._setting_range:
            self._follow = False

    def follow_data(self) -> None:
        """Fit the whole curve again (after the user zoomed or panned)."""
        self._reset_ranges()
        self._dirty = True
        self._redraw()

    def set_points(self, points: "Sequence[Tuple[int, float]] | Columns") -> None:
        """Replace the curve with ``[(timestamp_ms, equity), ...]`` or :class:`.chart_data.Columns`
        (time order). More than :data:`LOAD_CHUNK` points load one chunk per event-loop turn (see
        :attr:`loading`)."""
        self._stop_loading()
        self._data.clear()
        self._reset_ranges()
        pts = points if isinstance(points, (list, tuple, Columns)) else list(points)
        if len(pts) > LOAD_CHUNK:
            self._data.reserve(len(pts) + 4096)
            self._loading = (pts, 0)
            self._load_step()
            return
        self._grow = 0.01  # a loaded history fits the view; a live curve then grows in steps
        try:
            self.append_points(pts, force=True)
        finally:
            self._grow = 0.25

    def _load_step(self) -> None:
        if self._loading is None:
            return
        pts, i = self._loading
        self._extend(pts[i:i + LOAD_CHUNK])
        i += LOAD_CHUNK
        if i < len(pts):
            self._loading = (pts, i)
            self._load_timer.start()
            return
        queued = self._queued
        self._stop_loading()
        for batch in queued:
            self._extend(batch)
        self._grow = 0.01
        try:
            self._dirty = True
            self._redraw()
        finally:
            self._grow = 0.25

    def append_points(self, points: "Iterable[Tuple[int, float]] | Columns", force: bool = False) -> None:
        if self._loading is not None:  # after the history being loaded
            self._queued.append(points if isinstance(points, Columns) else list(points))
            return
        pts = points if isinstance(points, (list, Columns)) else list(points)
        if not len(pts):
            if force:
                self._dirty = True
                self._redraw()
            return
        self._extend(pts)
        if force:
            self._redraw()
        elif self.isVisible() and not self._timer.isActive():
            self._timer.start()

    def _extend(self, pts: "Sequence[Tuple[int, float]] | Columns") -> None:
        self._data.extend(pts)
        self._dirty = True

    def latest(self) -> Optional[Tuple[float, float]]:
        """The last ``(seconds, equity)`` drawn, or None."""
        if not self._eq.n:
            return None
        return float(self._eq.x[-1]), float(self._eq.y[-1])

    def max_drawdown_pct(self) -> float:
        return self._data.dd_min if self._dd.n else 0.0

    # -- drawing ----------------------------------------------------------------------------------
    def _redraw(self) -> None:
        if not self._dirty or self._glw is None:
            return
        self._dirty = False
        if self._eq.n and self._follow:
            self._step_ranges()
        self._draw_curves()
        self._update_placeholder()

    def _x_range_changed(self, *_a) -> None:
        if not self._setting_range and self._eq.n > 2 * MIN_BUCKETS:
            self._view_timer.start()

    def _draw_curves(self) -> None:
        """Hand the curves the decimated points of the visible time range."""
        if self._glw is None:
            return
        if not self._eq.n:
            self.curve.setData([], [])
            self.dd_curve.setData([], [])
            return
        vb = self.plot.getViewBox()
        x0, x1 = vb.viewRange()[0]
        buckets = max(MIN_BUCKETS, int(vb.width()))
        self.curve.setData(*peak_decimate(self._eq.x, self._eq.y, x0, x1, buckets), skipFiniteCheck=True)
        self.dd_curve.setData(*peak_decimate(self._dd.x, self._dd.y, x0, x1, buckets), skipFiniteCheck=True)

    def _step_ranges(self) -> None:
        """Grow the shown ranges in steps so the axes rarely need regenerating."""
        x = self._eq.x
        x0, x1 = float(x[0]), float(x[-1])
        self._setting_range = True
        try:
            fixed = self._span
            if fixed is not None and fixed[0] <= x0 and x1 <= fixed[1]:
                if self._xr != fixed:
                    self._xr = fixed
                    self.plot.setXRange(*fixed, padding=0.01)
            elif self._xr is None or x1 > self._xr[1] or x0 < self._xr[0]:
                span = max(x1 - x0, 3600.0)
                self._xr = (x0, x1 + self._grow * span)
                self.plot.setXRange(*self._xr, padding=0)
            lo, hi = self._data.lowest, self._data.highest
            if self._starting:
                lo, hi = min(lo, self._starting), max(hi, self._starting)
            if self._yr is None or lo < self._yr[0] or hi > self._yr[1]:
                pad = max((hi - lo) * 0.15, abs(hi) * 0.002, 1e-9)
                self._yr = (lo - pad, hi + pad)
                self.plot.setYRange(*self._yr, padding=0)
            dmin = self._data.dd_min
            if self._ddr is None or dmin < self._ddr:
                self._ddr = min(-1.0, dmin * 1.25)
                self.dd_plot.setYRange(self._ddr, 0.0, padding=0.02)
        finally:
            self._setting_range = False

    def _update_placeholder(self) -> None:
        has = self._eq.n > 0 and self._glw is not None
        if self._glw is not None:
            self._glw.setVisible(has)
        self._empty.setVisible(not has)

    def showEvent(self, event) -> None:  # noqa: N802 - Qt API
        super().showEvent(event)
        if self._glw is None:
            QTimer.singleShot(0, self._build_plots)  # after the window has painted once
        else:
            self._redraw()

    def describe_last(self) -> str:
        last = self.latest()
        if last is None:
            return ""
        return f"{fmt.utc_ms(int(last[0] * 1000))}  {fmt.money(last[1], self.currency, unit=True)}"
