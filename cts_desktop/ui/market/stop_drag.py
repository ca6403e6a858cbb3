"""Dragging the open position's stop-loss / take-profit line in the Market tab's chart.

While the chart's connection runs an engine with an open position on the charted symbol, its
stop-loss and take-profit lines can be dragged (never the entry line). Letting go asks
:meth:`~cts_desktop.services.trading.TradingService.move_level`, after a short question on a
live connection; the tab's info line shows the answer, and a refused move (the service's words:
a long's stop above the price, no engine running) puts the line back where it was."""
from __future__ import annotations

import asyncio
from typing import Optional, Tuple

from PySide6.QtWidgets import QMessageBox

from ...services.trading import TradingService

DRAGGABLE = ("stop-loss", "take-profit")


class StopDrag:
    """Installed on a :class:`~.tab.MarketTab` (its ``chart``, ``name``, ``symbol``, ``info``)."""

    def __init__(self, tab) -> None:
        self.tab = tab
        self.trading = TradingService(tab.services)
        self.confirm: Optional[QMessageBox] = None  # the live question on screen, if any
        self.future: Optional[asyncio.Future] = None  # the last move asked of the service
        tab.chart.level_moved.connect(self.dropped)

    def movable(self) -> Tuple[str, ...]:
        """The lines that can be dragged now: the open position's stops of a running engine."""
        tab = self.tab
        if not tab.name or not tab.symbol or self.trading.stops(tab.name, tab.symbol) is None:
            return ()
        return DRAGGABLE

    def dropped(self, level: str, price: float) -> None:
        """A line let go at ``price``: asked first on a live connection, then moved."""
        tab = self.tab
        name, symbol = tab.name, tab.symbol
        if not name or not symbol:
            tab.chart.snap_back(level)
            return
        try:
            question = self.trading.move_confirmation(name, symbol, level, price)
        except KeyError as exc:  # the connection was deleted meanwhile
            self._refused(level, str(exc))
            return
        if question is None:
            self._move(name, symbol, level, price)
            return
        box = QMessageBox(QMessageBox.Icon.Question, "Move a live stop", question,
                          QMessageBox.StandardButton.Cancel, tab)
        box.setObjectName("MoveStopConfirm")
        go = box.addButton("Move", QMessageBox.ButtonRole.AcceptRole)
        go.setObjectName("MoveStopConfirmButton")
        box.setDefaultButton(QMessageBox.StandardButton.Cancel)
        box.buttonClicked.connect(lambda b: self._move(name, symbol, level, price) if b is go
                                  else tab.chart.snap_back(level))
        box.open()
        self.confirm = box

    def _move(self, name: str, symbol: str, level: str, price: float) -> None:
        fut = asyncio.ensure_future(self.trading.move_level(name, symbol, level, price))
        self.future = fut

        def done(f: asyncio.Future) -> None:
            if not self.tab._alive():  # the window closed while the service answered
                return
            if f.cancelled():
                self._refused(level, "canceled")
                return
            exc = f.exception()
            if exc is not None:
                self._refused(level, str(exc))
                return
            self.tab.chart.settle_level(level)
            self.tab.info.setText(f.result())
            self.tab.refresh_overlays()
        fut.add_done_callback(done)

    def _refused(self, level: str, why: str) -> None:
        self.tab.chart.snap_back(level)
        self.tab.info.setText(f"The {level} was not moved: {why}")
