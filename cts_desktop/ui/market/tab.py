"""The Market tab: the selected connection's symbol as a live candlestick chart (the strategy's
indicators, every fill as a marker, the open position's entry / stop-loss / take-profit), with
the connection's watchlist on the left and the symbol's order book and last public trades on the
right.

The chart starts from the history :class:`~cts_desktop.services.market.MarketChart` gives and then
follows the engine's candles as the bridge delivers them (``EventBridge.candles``, at most ~10
times a second; a max-speed replay overflows the bridge's per-tick cap and the chart then reloads
its history instead, at most twice a second). Candles are shown at the chosen timeframe,
aggregated from the feed's (:mod:`cts_desktop.core.resample`). The watchlist and the book are
polled about once a second while the tab is on screen, the last trades too (or streamed:
:mod:`cts_desktop.services.market_trades`).
"""
from __future__ import annotations

import asyncio
import inspect
import logging
import time
from typing import Awaitable, Callable, List, Optional

import numpy as np
from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QColor
from shiboken6 import isValid
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QSplitter, QVBoxLayout, QWidget

from ...core.models import TIMEFRAME_MS
from ...services.market import CHART_TIMEFRAMES, Resampler, resample
from ..backtest.palette import bg, fg
from ..candle_chart import CandleChart
from .panels import BookPanel, TradesPanel, WatchlistPanel
from .stop_drag import StopDrag

log = logging.getLogger(__name__)

POLL_MS = 1000  # watchlist and order book
OVERLAY_MS = 1000  # indicator lines and markers recomputed at most this often while candles arrive
RELOAD_MS = 500  # after an overflow of candles, the history is reloaded at most this often
LINES_S = 2.0  # indicator lines of the same chart recomputed at most this often (s)


class MarketTab(QWidget):
    """``MarketTab(services, bridge)``; :meth:`set_connection` shows a connection.
    ``symbol_selected(connection, symbol)`` when the chart shows another symbol (a watchlist click,
    the symbol box): the order ticket can follow."""

    symbol_selected = Signal(str, str)

    def __init__(self, services, bridge, parent: Optional[QWidget] = None):
        super().__init__(parent)
        self.setObjectName("MarketTab")
        self.services = services
        self.market = services.market
        self.name: Optional[str] = None
        self.symbol = ""
        self.feed = np.empty((0, 6))  # the feed's candles of the symbol (its own timeframe)
        self.feed_tf_ms = 60_000
        self._extra: List[tuple] = []  # feed candles arrived since ``feed`` was last rebuilt
        self._resampler: Optional[Resampler] = None
        self._generation = 0  # a newer load makes an older one's answer moot
        self._busy: set = set()  # polls in flight
        self._tasks: set = set()  # service calls in flight
        self._lines_key: tuple = ()  # (connection, symbol, feed tf, chart tf) the lines were made for
        self._lines_at = 0.0  # time.monotonic() when they were
        self._tf_from_feed = True
        self.symbol_box = QComboBox()
        self.symbol_box.setObjectName("MarketSymbol")
        self.tf_box = QComboBox()
        self.tf_box.setObjectName("MarketTimeframe")
        self.tf_box.addItems(list(CHART_TIMEFRAMES))
        self.info = QLabel("")
        self.info.setObjectName("MarketInfo")
        bar = QHBoxLayout()
        bar.setContentsMargins(6, 4, 6, 0)
        for w in (QLabel("Symbol:"), self.symbol_box, QLabel("Timeframe:"), self.tf_box):
            bar.addWidget(w)
        bar.addWidget(self.info, 1)
        self.chart = CandleChart(bg=bg(), fg=fg())
        self.watchlist = WatchlistPanel()
        self.book = BookPanel()
        self.trades = TradesPanel()
        # the chart over the watchlist (a wide table: every column readable at 1280 px), the book beside
        left = QSplitter(Qt.Orientation.Vertical)
        left.setObjectName("MarketChartSplit")
        left.addWidget(self.chart)
        left.addWidget(self.watchlist)
        left.setStretchFactor(0, 1)
        left.setSizes([440, 150])
        split = QSplitter(Qt.Orientation.Horizontal)
        split.setObjectName("MarketSplit")
        split.addWidget(left)
        right = QSplitter(Qt.Orientation.Vertical)  # the book over the last trades
        right.setObjectName("MarketBookSplit")
        right.addWidget(self.book)
        right.addWidget(self.trades)
        right.setSizes([400, 200])
        split.addWidget(right)
        split.setStretchFactor(0, 1)
        split.setSizes([960, 320])
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addLayout(bar)
        lay.addWidget(split, 1)
        self.symbol_box.currentTextChanged.connect(self._symbol_chosen)
        self.tf_box.currentTextChanged.connect(lambda _t: self.render())
        self.watchlist.symbol_clicked.connect(self.show_symbol)
        bridge.candles.connect(self.on_candles)
        bridge.fills.connect(lambda name, _f: self._overlays_soon(name))
        bridge.positions_changed.connect(lambda name, _p: self._overlays_soon(name))
        bridge.run_started.connect(lambda name, _r: name == self.name and self.reload())
        self.stop_drag = StopDrag(self)  # the open position's stop lines can be dragged
        self._poll_timer = self._timer(POLL_MS, self.poll, repeat=True)
        self._overlay_timer = self._timer(OVERLAY_MS, self.refresh_overlays)
        self._reload_timer = self._timer(RELOAD_MS, self.reload)
        self._poll_timer.start()

    def _timer(self, ms: int, fn: Callable[[], object], *, repeat: bool = False) -> QTimer:
        t = QTimer(self)
        t.setInterval(ms)
        t.setSingleShot(not repeat)
        t.timeout.connect(fn)
        return t

    # -- selection ---------------------------------------------------------------------------------
    def set_connection(self, name: str) -> None:
        """Show connection ``name``: its symbols, the first one's chart, its watchlist and book."""
        self.name = name
        try:
            symbols = self.market.chart.symbols(name)
        except Exception as exc:  # noqa: BLE001 - a connection that cannot be shown says why
            self.info.setText(f"Cannot show {name}: {exc}")
            return
        self.symbol_box.blockSignals(True)
        self.symbol_box.clear()
        self.symbol_box.addItems(symbols)
        self.symbol_box.blockSignals(False)
        self._tf_from_feed = True  # the timeframe box starts at the feed's, known with the history
        self.symbol = symbols[0] if symbols else ""
        self.book.clear()
        self.trades.clear()
        self.reload()
        if self.isVisible():
            self.poll()

    def _symbol_chosen(self, symbol: str) -> None:
        if symbol and symbol != self.symbol:
            self.symbol = symbol
            self.book.clear()
            self.trades.clear()
            self.reload()
            self._poll_book()
            self._poll_trades()
            if self.name:
                self.symbol_selected.emit(self.name, symbol)

    def show_symbol(self, symbol: str) -> None:
        """Chart ``symbol`` (a watchlist click)."""
        self.symbol_box.setCurrentText(symbol)

    # -- chart -------------------------------------------------------------------------------------
    def _run(self, coro: Awaitable, done: Callable[[object], None], what: str) -> None:
        async def go() -> None:
            try:
                result = await coro
            except Exception as exc:  # noqa: BLE001 - shown in the tab, the window stays up
                log.warning("%s failed: %s", what, exc)
                if self._alive():
                    self.info.setText(f"Could not {what}: {exc}")
                return
            if self._alive():  # the window may have closed while the service answered
                done(result)
        try:
            loop = asyncio.get_event_loop()  # qasync's loop in the app
        except RuntimeError:  # no event loop any more (the window outlived it): nothing to load into
            if inspect.iscoroutine(coro):
                coro.close()
            return
        task = loop.create_task(go())
        self._tasks.add(task)  # held until done: the loop keeps only a weak reference
        task.add_done_callback(self._tasks.discard)

    def _alive(self) -> bool:
        return isValid(self) and isValid(self.chart.price.vb)

    def reload(self) -> None:
        """(Re)load the chart's history from the service."""
        if not self.name or not self.symbol:
            return
        self._generation += 1
        gen, name, symbol = self._generation, self.name, self.symbol

        def loaded(h) -> None:
            if gen != self._generation:
                return
            self.feed, self.feed_tf_ms, self._extra = h.candles, h.timeframe_ms, []
            if self._tf_from_feed:
                self._tf_from_feed = False
                tf = next((k for k, v in TIMEFRAME_MS.items() if v == h.timeframe_ms), None)
                if tf is not None:
                    self.tf_box.blockSignals(True)
                    self.tf_box.setCurrentText(tf)
                    self.tf_box.blockSignals(False)
            n = len(h.candles)
            self.info.setText(f"{name}: {h.source} ({n:,} candle{'' if n == 1 else 's'} at load; new ones added as they close)")
            self.render()
        self._run(self.market.chart.history(name, symbol), loaded, f"load the candles of {symbol}")

    def _feed_array(self) -> np.ndarray:
        if self._extra:
            self.feed = np.vstack([self.feed.reshape(-1, 6), np.asarray(self._extra, dtype=np.float64)])
            self._extra = []
        return self.feed

    def chart_tf_ms(self) -> int:
        """The timeframe drawn (ms): the chosen one, or the feed's when that is longer."""
        return max(TIMEFRAME_MS.get(self.tf_box.currentText(), self.feed_tf_ms), self.feed_tf_ms)

    def render(self) -> None:
        """Draw the candles at the chosen timeframe and the overlays."""
        feed = self._feed_array()
        tf = self.chart_tf_ms()
        bars = resample(feed, tf) if len(feed) else feed
        self.chart.set_candles(bars, tf)
        self._resampler = Resampler(tf, bars[-1] if len(bars) else None)
        self.refresh_overlays()

    def on_candles(self, name: str, events: list, complete: bool) -> None:
        """Candles from the bridge: appended (and aggregated) when complete, else a reload."""
        if name != self.name or not self.symbol:
            return
        if not complete:
            if not self._reload_timer.isActive():
                self._reload_timer.start()
            return
        added = False
        for e in events:
            if e.symbol != self.symbol or e.timeframe_ms != self.feed_tf_ms:
                continue
            newest = self._extra[-1][0] if self._extra else (self.feed[-1, 0] if len(self.feed) else -1.0)
            if e.candle[0] <= newest:
                continue  # already in the history
            self._extra.append(tuple(e.candle[:6]))
            if self._resampler is not None:
                self.chart.add_candle(self._resampler.add(e.candle))
            added = True
        if added:
            self._overlays_soon(name)

    def _overlays_soon(self, name: str) -> None:
        if name == self.name and not self._overlay_timer.isActive():
            self._overlay_timer.start()

    def refresh_overlays(self) -> None:
        """Indicator lines, fill markers and levels of the symbol, from the service. The lines
        (tens of ms over a month of 1m candles) at most every :data:`LINES_S` for the same chart;
        a refresh sooner keeps the old lines and asks again later."""
        if not self.name or not self.symbol:
            return
        key = (self.name, self.symbol, self.feed_tf_ms, self.chart_tf_ms())
        now = time.monotonic()
        lines = key != self._lines_key or now - self._lines_at >= LINES_S
        try:
            ov = self.market.chart.overlays(self.name, self.symbol, self._feed_array(), self.feed_tf_ms, lines=lines)
        except Exception as exc:  # noqa: BLE001 - a store read for display must not break the tab
            log.warning("overlays of %s failed", self.name, exc_info=True)
            self.info.setText(f"Could not read the trades of {self.name}: {exc}")
            return
        if lines:
            self._lines_key, self._lines_at = key, now
            self.chart.set_lines(ov.lines)
        elif not self._overlay_timer.isActive():
            self._overlay_timer.start(int((LINES_S - (now - self._lines_at)) * 1000) + 1)
        self.chart.set_marks(ov.marks)
        self.chart.set_levels(ov.levels, movable=self.stop_drag.movable())

    # -- watchlist and book ----------------------------------------------------------------------
    def poll(self) -> None:
        """Refresh the watchlist and the book (skipped while hidden or while one is in flight)."""
        if not self.name or not self.isVisible():
            return
        if "watchlist" not in self._busy:
            self._busy.add("watchlist")
            name = self.name

            def shown(wl) -> None:
                self._busy.discard("watchlist")
                if name == self.name:
                    self.watchlist.set_watchlist(wl, self.symbol)
            self._run(self._guard("watchlist", self.market.data.watchlist(name)), shown, "read the watchlist")
        self._poll_book()
        self._poll_trades()

    def _poll_book(self) -> None:
        if not self.name or not self.symbol or "book" in self._busy:
            return
        self._busy.add("book")
        name, symbol = self.name, self.symbol

        def shown(book) -> None:
            self._busy.discard("book")
            if (name, symbol) == (self.name, self.symbol):
                self.book.set_book(book)
        self._run(self._guard("book", self.market.data.order_book(name, symbol)), shown, f"read the order book of {symbol}")

    def _poll_trades(self) -> None:
        if not self.name or not self.symbol or "trades" in self._busy:
            return
        self._busy.add("trades")
        name, symbol = self.name, self.symbol

        def shown(trades) -> None:
            if (name, symbol) == (self.name, self.symbol):
                self.trades.set_trades(trades)
        self._run(self._guard("trades", self.market.trades.trades(name, symbol)), shown,
                  f"read the trades of {symbol}")

    async def _guard(self, key: str, coro: Awaitable):
        try:
            return await coro
        finally:
            self._busy.discard(key)

    def set_dark(self, _dark: bool) -> None:
        """Recolour the chart for the theme now applied."""
        import pyqtgraph as pg

        self.chart.glw.setBackground(bg())
        for p in (self.chart.price, self.chart.volume, self.chart.lower):
            for ax in ("left", "bottom"):
                p.getAxis(ax).setPen(pg.mkPen(fg()))
                p.getAxis(ax).setTextPen(pg.mkPen(fg()))
        self.chart.readout.setStyleSheet(f"color:{fg()}; font-family: monospace;")
        shade = QColor(bg())
        shade.setAlpha(170)
        self.chart.legend.setBrush(pg.mkBrush(shade))
        self.chart.legend.setLabelTextColor(fg())
