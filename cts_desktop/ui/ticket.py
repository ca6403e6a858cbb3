"""The order ticket: a manual order for the selected connection, docked in the main window.

Side, type (market / limit with GTC, IOC or post-only / stop-market / stop-limit: held by the
engine until the trigger price, then sent as a market or limit order), amount in base, quote or
percent of equity, limit price, trigger price, optional stop-loss / take-profit prices, reduce-only. As the trader types,
the ticket shows what the order comes to (amount on the market's step, price, notional, fee) and
the risk verdict: both are :meth:`cts_desktop.services.trading.TradingService.preview`'s, the
same checks the engine applies when it is sent. On a live connection Send first asks, naming the
exchange, side, amount and notional (the service's words; setting "Confirm live orders"); its
"don't ask again for <connection>" turns the question off for that connection only.
No rules here: everything is :class:`~cts_desktop.services.trading.TradingService`.
"""
from __future__ import annotations

import asyncio
from typing import Optional

from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import (QButtonGroup, QCheckBox, QComboBox, QDoubleSpinBox, QFormLayout, QHBoxLayout, QLabel,
                               QMessageBox, QPushButton, QSizePolicy, QVBoxLayout, QWidget)

from ..services.trading import Ticket, TicketError, TradingService
from .widgets import repolish

REFRESH_MS = 500  # the preview follows the price this often while the ticket is shown
TIFS = (("GTC", "Good till canceled"), ("IOC", "Immediate or cancel"), ("PO", "Post-only"))
GREEN, RED = "#2e7d32", "#c62828"


def _spin(decimals: int = 8, maximum: float = 1e12) -> QDoubleSpinBox:
    s = QDoubleSpinBox()
    s.setDecimals(decimals)
    s.setRange(0.0, maximum)
    s.setGroupSeparatorShown(True)
    s.setSpecialValueText("none")  # 0 shows as "none" (stop-loss / take-profit not set)
    s.setKeyboardTracking(True)
    # the width of "1,000,000,000,000.00000000" is not a reason for a wide dock: the form sizes it
    s.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Fixed)
    s.setMinimumWidth(90)
    return s


def _step_decimals(step: float) -> int:
    text = f"{step:.10f}".rstrip("0")
    return len(text.split(".")[1]) if "." in text and step > 0 else 0


class OrderTicket(QWidget):
    """``OrderTicket(trading)``: a ticket for :attr:`connection` (set by :meth:`set_connection`).
    ``result`` shows the last outcome; ``confirm_box`` is the open live confirmation, if any."""

    def __init__(self, trading: TradingService, parent=None):
        super().__init__(parent)
        self.setObjectName("OrderTicket")
        self.trading = trading
        self.connection: Optional[str] = None
        self.confirm_box: Optional[QMessageBox] = None
        self.pending: Optional[asyncio.Future] = None
        self.header = QLabel("No connection")
        self.header.setObjectName("SectionTitle")
        self.mode = QLabel()
        self.mode.setObjectName("Badge")
        self.symbol = QComboBox()
        self.symbol.setObjectName("TicketSymbol")
        self.buy = QPushButton("Buy")
        self.sell = QPushButton("Sell")
        self.sides = QButtonGroup(self)
        for i, b in enumerate((self.buy, self.sell)):
            b.setCheckable(True)
            b.setObjectName("TicketBuy" if i == 0 else "TicketSell")
            b.setStyleSheet(f"QPushButton:checked {{ background: {GREEN if i == 0 else RED}; color: white; "
                            "font-weight: 600; }")
            self.sides.addButton(b, i)
        self.buy.setChecked(True)
        self.type = QComboBox()
        self.type.setObjectName("TicketType")
        self.type.addItem("Market", "market")
        self.type.addItem("Limit", "limit")
        self.type.addItem("Stop market", "stop_market")
        self.type.addItem("Stop limit", "stop_limit")
        self.type.setToolTip("Stop market / stop limit: the app holds the trigger and, when the price reaches it "
                             "(rises to it for a buy, falls to it for a sell), sends a market order or a limit at "
                             "the limit price. Pending stops are listed in the Orders table; they end with the run.")
        self.tif = QComboBox()
        self.tif.setObjectName("TicketTif")
        for key, text in TIFS:
            self.tif.addItem(text, key)
        self.amount = _spin()
        self.amount.setObjectName("TicketAmount")
        self.amount.setSpecialValueText("")
        self.unit = QComboBox()
        self.unit.setObjectName("TicketUnit")
        self.price = _spin()
        self.price.setObjectName("TicketPrice")
        self.price.setSpecialValueText("")
        self.trigger = _spin()
        self.trigger.setObjectName("TicketTrigger")
        self.trigger.setSpecialValueText("")
        self.trigger.setToolTip("Stop orders: the price that triggers them (above the last price for a buy, "
                                "below it for a sell)")
        self.stop_loss = _spin()
        self.stop_loss.setObjectName("TicketStopLoss")
        self.take_profit = _spin()
        self.take_profit.setObjectName("TicketTakeProfit")
        for spin in (self.stop_loss, self.take_profit):
            spin.setToolTip("A price; kept as its distance from the entry's fill price, as a strategy's stops are "
                            "(a market order fills at the next price, so its stops move with it). Empty: none")
        self.reduce_only = QCheckBox("Reduce-only")
        self.reduce_only.setToolTip("Only closes or shrinks the open position; never opens or reverses one")
        self.reduce_only.setObjectName("TicketReduceOnly")
        self.estimate = QLabel()
        self.estimate.setObjectName("TicketEstimate")
        self.estimate.setWordWrap(True)
        self.verdict = QLabel()
        self.verdict.setObjectName("TicketVerdict")
        self.verdict.setWordWrap(True)
        for label, lines in ((self.estimate, 2), (self.verdict, 3)):  # a dock does not grow for wrapped text
            label.setMinimumHeight(label.fontMetrics().lineSpacing() * lines + 4)
            label.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
        self.send = QPushButton("Buy")
        self.send.setObjectName("TicketSend")
        self.result = QLabel()
        self.result.setObjectName("Hint")
        self.result.setWordWrap(True)
        self.result.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self._layout()
        for w in (self.symbol, self.type, self.tif, self.unit):
            w.currentIndexChanged.connect(self._changed)
        for s in (self.amount, self.price, self.trigger, self.stop_loss, self.take_profit):
            s.valueChanged.connect(self._changed)
        self.sides.idToggled.connect(lambda _i, on: on and self._changed())
        self.reduce_only.toggled.connect(self._changed)
        self.send.clicked.connect(self.submit)
        self.timer = QTimer(self)
        self.timer.setInterval(REFRESH_MS)
        self.timer.timeout.connect(self.refresh)
        self.timer.start()
        self._changed()

    def _layout(self) -> None:
        head = QHBoxLayout()
        head.addWidget(self.header, 1)
        head.addWidget(self.mode)
        sides = QHBoxLayout()
        sides.addWidget(self.buy)
        sides.addWidget(self.sell)
        amount = QHBoxLayout()
        amount.addWidget(self.amount, 1)
        amount.addWidget(self.unit)
        form = QFormLayout()
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        form.addRow("Symbol", self.symbol)
        form.addRow("Side", sides)
        form.addRow("Type", self.type)
        form.addRow("Time in force", self.tif)
        form.addRow("Amount", amount)
        form.addRow("Limit price", self.price)
        form.addRow("Trigger price", self.trigger)
        form.addRow("Stop-loss", self.stop_loss)
        form.addRow("Take-profit", self.take_profit)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(10, 8, 10, 8)
        lay.addLayout(head)
        lay.addLayout(form)
        lay.addWidget(self.reduce_only)
        lay.addWidget(self.estimate)
        lay.addWidget(self.verdict)
        lay.addWidget(self.send)
        lay.addWidget(self.result)
        lay.addStretch(1)

    # -- what the trader typed ----------------------------------------------------------------------
    @property
    def side(self) -> str:
        return "buy" if self.buy.isChecked() else "sell"

    def ticket(self) -> Ticket:
        """The ticket as typed (percent of equity becomes a fraction)."""
        unit = self.unit.currentData() or "base"
        amount = self.amount.value() / 100.0 if unit == "equity" else self.amount.value()
        kind = self.type.currentData()
        limit = kind in ("limit", "stop_limit")
        return Ticket(self.symbol.currentText(), self.side, amount, unit=unit, type=kind,
                      price=self.price.value() if limit else None, tif=self.tif.currentData() if limit else "GTC",
                      stop_loss=self.stop_loss.value() or None, take_profit=self.take_profit.value() or None,
                      reduce_only=self.reduce_only.isChecked(),
                      trigger=self.trigger.value() or None if kind.startswith("stop") else None)

    def set_connection(self, name: Optional[str]) -> None:
        """Show the ticket for connection ``name`` (its symbols, PAPER or LIVE)."""
        self.connection = name
        self.header.setText(name or "No connection")
        live = bool(name) and self.trading.is_live(name)
        self.mode.setText("LIVE" if live else "PAPER")
        self.mode.setProperty("live", live)  # styled as the toolbar's badge: LIVE in red
        repolish(self.mode)
        symbols = self.trading.symbols(name) if name else []
        if symbols != [self.symbol.itemText(i) for i in range(self.symbol.count())]:
            self.symbol.blockSignals(True)
            self.symbol.clear()
            self.symbol.addItems(symbols)
            self.symbol.blockSignals(False)
        self._changed()

    def set_symbol(self, symbol: str) -> bool:
        """Show ``symbol`` in the ticket (a watchlist or chart click); False when the connection
        does not trade it."""
        i = self.symbol.findText(symbol)
        if i >= 0:
            self.symbol.setCurrentIndex(i)
        return i >= 0

    def showEvent(self, event) -> None:  # noqa: N802 - Qt API
        super().showEvent(event)
        self.refresh()

    def focus_side(self, side: str) -> None:
        """Buy / sell shortcut: pick the side and put the cursor in the amount."""
        (self.buy if side == "buy" else self.sell).setChecked(True)
        self.amount.setFocus()
        self.amount.selectAll()

    # -- preview --------------------------------------------------------------------------------------
    def _changed(self, *_args) -> None:
        kind = self.type.currentData()
        self.tif.setEnabled(kind in ("limit", "stop_limit"))
        self.price.setEnabled(kind in ("limit", "stop_limit"))
        self.trigger.setEnabled(kind.startswith("stop"))
        self._units()
        self._decimals()
        colour = GREEN if self.side == "buy" else RED
        live = " · LIVE" if self.mode.text() == "LIVE" else ""
        self.send.setText(f"{self.side.capitalize()} {self.symbol.currentText()}{live}".strip())
        self.send.setStyleSheet(f"QPushButton#TicketSend {{ background: {colour}; color: white; font-weight: 600; "
                                "padding: 6px; border-radius: 4px; } QPushButton#TicketSend:disabled { "
                                "background: rgba(128, 128, 128, 0.25); color: rgba(160, 160, 160, 0.8); }")
        self.refresh()

    def _units(self) -> None:
        sym = self.symbol.currentText()
        base, _, quote = sym.partition("/")
        quote = quote.split(":")[0]
        labels = [(base or "base", "base"), (quote or "quote", "quote"), ("% of equity", "equity")]
        if [self.unit.itemData(i) for i in range(self.unit.count())] != [k for _t, k in labels] or \
                self.unit.itemText(0) != labels[0][0]:
            keep = self.unit.currentData() or "base"
            self.unit.blockSignals(True)
            self.unit.clear()
            for text, key in labels:
                self.unit.addItem(text, key)
            self.unit.setCurrentIndex(max(self.unit.findData(keep), 0))
            self.unit.blockSignals(False)

    def _decimals(self) -> None:
        """Amounts in base and prices with the market's steps; quote and percent with 2 decimals."""
        market = self.trading.market(self.connection, self.symbol.currentText()) if self.connection else None
        price_d = _step_decimals(market.price_step) if market is not None else 2
        amount_d = _step_decimals(market.amount_step) if market is not None else 8
        self.amount.setDecimals(amount_d if self.unit.currentData() == "base" else 2)
        for s in (self.price, self.trigger, self.stop_loss, self.take_profit):
            s.setDecimals(price_d)

    def refresh(self) -> None:
        """Recompute the estimate and the verdict (prices move; also on every edit)."""
        if not self.isVisible():
            return  # hidden: nothing to show; set_connection and showing it refresh
        if self.connection is None:
            self._show("", "Select a connection with a running engine to trade by hand.", None)
            return
        p = self.trading.preview(self.connection, self.ticket())
        if p.error:
            self._show("", p.error, None)
            return
        self._show(p.text, ("Risk check: " + p.verdict), p.accepted)

    def _show(self, estimate: str, verdict: str, ok: Optional[bool]) -> None:
        self.estimate.setText(estimate)
        self.verdict.setText(verdict)
        self.verdict.setStyleSheet("" if ok is None else f"color: {GREEN if ok else RED};")
        self.send.setEnabled(bool(ok) and self.pending is None)

    # -- sending --------------------------------------------------------------------------------------
    def submit(self) -> None:
        """Send (after the live confirmation, when one is due)."""
        if self.connection is None:
            return
        ticket = self.ticket()
        try:
            question = self.trading.confirmation(self.connection, ticket)
        except TicketError as exc:
            self.result.setText(str(exc))
            return
        if question is None:
            self._send(ticket)
            return
        box = QMessageBox(QMessageBox.Icon.Warning, "Confirm live order", question,
                          QMessageBox.StandardButton.Cancel, self)
        box.setObjectName("TicketConfirm")
        go = box.addButton("Send live order", QMessageBox.ButtonRole.AcceptRole)
        go.setObjectName("TicketConfirmSend")
        box.setDefaultButton(QMessageBox.StandardButton.Cancel)
        quiet = QCheckBox(f"Don't ask again for {self.connection}")
        quiet.setObjectName("TicketConfirmQuiet")
        quiet.setToolTip("Live orders on this connection only will go out without this question (real money). "
                         "Turn it back on in the connection's settings (Live orders)")
        box.setCheckBox(quiet)
        box.buttonClicked.connect(lambda b, t=ticket: self._confirmed(t, quiet.isChecked()) if b is go else None)
        box.open()
        self.confirm_box = box

    def _confirmed(self, ticket: Ticket, quiet: bool) -> None:
        if quiet and self.connection is not None:
            self.trading.set_confirm_orders(self.connection, False)
        self._send(ticket)

    def _send(self, ticket: Ticket) -> None:
        name = self.connection
        assert name is not None
        self.result.setText("sending…")
        fut = asyncio.ensure_future(self.trading.place(name, ticket))
        self.pending = fut
        self.send.setEnabled(False)

        def done(f: asyncio.Future) -> None:
            self.pending = None
            if f.cancelled():
                return
            exc = f.exception()
            self.result.setText("Last order: " + (str(exc) if exc is not None else f.result()))
            self.result.setStyleSheet(f"color: {RED};" if exc is not None else "")
            self.refresh()

        fut.add_done_callback(done)
