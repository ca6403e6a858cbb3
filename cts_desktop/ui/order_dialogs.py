"""Small dialogs of the tables' trading commands: amend a resting limit order (new price and/or
amount, on the market's tick and step) and close a position with a limit order at a price.

They only ask: what happens is :meth:`TradingService.amend` / :meth:`TradingService.close_at_limit`
(ui/trade_actions.py runs them; their refusals, in the service's words, go to the banner).
"""
from __future__ import annotations

from typing import Optional, Tuple

from PySide6.QtWidgets import QDialog, QDialogButtonBox, QDoubleSpinBox, QFormLayout, QLabel, QVBoxLayout, QWidget

from ..services.formatting import fmt_amount
from ..services.trading import TradingService


def _decimals(step: float) -> int:
    text = f"{step:.10f}".rstrip("0")
    return len(text.split(".")[1]) if "." in text and step > 0 else 0


def _spin(value: float, step: float, name: str) -> QDoubleSpinBox:
    s = QDoubleSpinBox()
    s.setObjectName(name)
    s.setDecimals(_decimals(step) if step > 0 else 8)
    s.setRange(0.0, 1e12)
    s.setSingleStep(step if step > 0 else 1.0)
    s.setGroupSeparatorShown(True)
    s.setValue(value)
    s.setMinimumWidth(160)
    return s


class _Dialog(QDialog):
    def __init__(self, title: str, intro: str, ok: str, parent: Optional[QWidget]):
        super().__init__(parent)
        self.setWindowTitle(title)
        self.form = QFormLayout()
        self.intro = QLabel(intro)
        self.intro.setWordWrap(True)
        self.note = QLabel()
        self.note.setObjectName("Hint")
        self.note.setWordWrap(True)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Cancel)
        self.ok = self.buttons.addButton(ok, QDialogButtonBox.ButtonRole.AcceptRole)
        self.ok.setObjectName("OrderDialogOk")
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        lay = QVBoxLayout(self)
        lay.addWidget(self.intro)
        lay.addLayout(self.form)
        lay.addWidget(self.note)
        lay.addWidget(self.buttons)
        self.setMinimumWidth(420)


class AmendDialog(_Dialog):
    """Amend order ``order`` (an Order record of the Orders table) of connection ``name``:
    :meth:`changes` gives ``(price, amount)``, None for what the trader left as it was."""

    def __init__(self, trading: TradingService, name: str, order, parent: Optional[QWidget] = None):
        live = "LIVE " if trading.is_live(name) else ""
        super().__init__(f"Amend order {order.clientOrderId}",
                         f"{live}{name}: {order.side} {fmt_amount(order.amount)} {order.symbol} limit "
                         f"{order.price:g}", "Amend", parent)
        self.setObjectName("AmendDialog")
        market = trading.market(name, order.symbol)
        self.order = order
        self.price = _spin(order.price or 0.0, market.price_step if market else 0.0, "AmendPrice")
        self.amount = _spin(order.amount, market.amount_step if market else 0.0, "AmendAmount")
        self.form.addRow("Limit price", self.price)
        self.form.addRow(f"Amount ({market.base if market else 'base'})", self.amount)
        filled = f"{fmt_amount(order.filled)} filled so far: the new order is for the new amount minus that. " \
            if order.filled else ""
        self.note.setText(f"{filled}The order is canceled first; the replacement (a new client id) is placed once "
                          "the cancel is confirmed. If the order fills meanwhile, nothing is placed.")

    def changes(self) -> Tuple[Optional[float], Optional[float]]:
        price = self.price.value() if abs(self.price.value() - (self.order.price or 0.0)) > 1e-12 else None
        amount = self.amount.value() if abs(self.amount.value() - self.order.amount) > 1e-12 else None
        return price, amount


class CloseAtLimitDialog(_Dialog):
    """Close position ``pos`` (a record of the open positions table) of ``name`` with a
    reduce-only limit order: :attr:`price` holds the trader's price (quote)."""

    def __init__(self, trading: TradingService, name: str, pos, parent: Optional[QWidget] = None):
        live = "LIVE " if trading.is_live(name) else ""
        side = "sell" if pos.side == "long" else "buy"
        super().__init__(f"Close {pos.symbol} at limit",
                         f"{live}{name}: {side} {fmt_amount(pos.amount)} {pos.symbol} (the whole {pos.side} position) "
                         "with a reduce-only limit order.", "Place close order", parent)
        self.setObjectName("CloseAtLimitDialog")
        market = trading.market(name, pos.symbol)
        last = trading.last_price(name, pos.symbol)
        self.price = _spin(last, market.price_step if market else 0.0, "CloseLimitPrice")
        self.form.addRow(f"Limit price ({market.quote if market else 'quote'})", self.price)
        self.form.addRow("Last price", QLabel(f"{last:g}"))
        self.note.setText("It rests until the price gets there (a price on the far side of the market fills at "
                          "once); cancel or amend it in the Orders table.")
