"""The Positions table's "Move stop-loss / take-profit…" dialog: the position, its last price and
two price boxes (``none`` at 0 removes a level). Moving goes through
:meth:`~cts_desktop.services.trading.TradingService.move_stops`; a refusal (its words: a long's
stop-loss above the last price, no engine running) is shown in the dialog, which stays open."""
from __future__ import annotations

import asyncio
from typing import Callable, Optional

from PySide6.QtWidgets import (QDialog, QDialogButtonBox, QDoubleSpinBox, QFormLayout, QLabel, QVBoxLayout,
                               QWidget)

from shiboken6 import isValid

from ..services.trading import TradingService
from . import fmt


def _decimals(step: float) -> int:
    text = f"{step:.12f}".rstrip("0")
    return len(text.split(".")[1]) if "." in text else 0


def _price_box(name: str, value: Optional[float], step: float, tip: str) -> QDoubleSpinBox:
    box = QDoubleSpinBox()
    box.setObjectName(name)
    box.setDecimals(min(max(_decimals(step), 2), 10))
    box.setRange(0.0, 1e12)
    box.setSingleStep(step if step > 0 else 0.01)
    box.setSpecialValueText("none")  # shown at 0: no such level
    box.setValue(value or 0.0)
    box.setToolTip(tip)
    box.setMinimumWidth(160)
    return box


class MoveStopsDialog(QDialog):
    """For ``position`` (a :class:`~cts_desktop.core.models.Position` of connection ``name``);
    ``done_text(line)`` gets the service's answer once the stops moved."""

    def __init__(self, trading: TradingService, name: str, position, parent: Optional[QWidget] = None,
                 done_text: Callable[[str], None] = lambda _t: None):
        super().__init__(parent)
        self.setObjectName("MoveStopsDialog")
        self.setWindowTitle(f"Move stop-loss / take-profit: {position.symbol}")
        self.trading, self.name, self.position, self.done_text = trading, name, position, done_text
        self.future: Optional[asyncio.Future] = None
        market = trading.market(name, position.symbol)
        step = market.price_step if market is not None else 0.0
        last = trading.stops_price(name, position.symbol)
        long = position.side == "long"
        now = trading.stops(name, position.symbol)  # the running engine's: the table's row may lag
        sl_now, tp_now = now if now is not None else (position.stop_loss, position.take_profit)
        live = trading.is_live(name)
        head = QLabel(f"<b>{'LIVE ' if live else ''}{position.side} {fmt.amount(position.amount)} {position.symbol}</b>"
                      f" on {name}<br>entry {fmt.price(position.entry_price)}, last price {fmt.price(last)}")
        head.setObjectName("MoveStopsHead")
        below, above = ("below", "above") if long else ("above", "below")
        hint = QLabel(f"The stop-loss goes {below} the last price, the take-profit {above} it; "
                      "prices are rounded to the market's tick. \"none\" removes one."
                      + (" At the exchange, the protective orders are replaced." if live else ""))
        hint.setWordWrap(True)
        self.stop_loss = _price_box("MoveStopLoss", sl_now, step, f"a price {below} {fmt.price(last)}")
        self.take_profit = _price_box("MoveTakeProfit", tp_now, step,
                                      f"a price {above} {fmt.price(last)}")
        form = QFormLayout()
        form.addRow(f"Stop-loss (now {fmt.price(sl_now) if sl_now else 'none'}):",
                    self.stop_loss)
        form.addRow(f"Take-profit (now {fmt.price(tp_now) if tp_now else 'none'}):",
                    self.take_profit)
        self.error = QLabel("")
        self.error.setObjectName("MoveStopsError")
        self.error.setWordWrap(True)
        self.error.setStyleSheet("color: #ef5350;")
        for box in (self.stop_loss, self.take_profit):
            box.valueChanged.connect(lambda _v: self.error.setText(""))  # the refusal was about the old values
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Cancel)
        self.move_button = self.buttons.addButton("Move", QDialogButtonBox.ButtonRole.AcceptRole)
        self.move_button.setObjectName("MoveStopsButton")
        self.move_button.setDefault(True)
        self.buttons.accepted.connect(self.submit)
        self.buttons.rejected.connect(self.reject)
        lay = QVBoxLayout(self)
        for w in (head, hint):
            lay.addWidget(w)
        lay.addLayout(form)
        lay.addWidget(self.error)
        lay.addWidget(self.buttons)
        self.setMinimumWidth(460)

    def values(self):
        """``(stop-loss, take-profit)`` as typed (quote; None: none)."""
        return (self.stop_loss.value() or None, self.take_profit.value() or None)

    def submit(self) -> None:
        """Ask the service; close on success, show its words on a refusal."""
        self.error.setText("")
        self.move_button.setEnabled(False)
        sl, tp = self.values()
        self.future = asyncio.ensure_future(self.trading.move_stops(self.name, self.position.symbol, sl, tp))
        self.future.add_done_callback(self._answered)

    def _answered(self, f: asyncio.Future) -> None:
        if f.cancelled() or not isValid(self):  # (the window closed while the service answered)
            return
        self.move_button.setEnabled(True)
        exc = f.exception()
        if isinstance(exc, ValueError):  # TicketError: the service's words for the trader
            self.error.setText(str(exc))
            return
        if exc is not None:
            self.error.setText(f"Not moved: {exc}")
            return
        self.done_text(f.result())
        self.accept()
