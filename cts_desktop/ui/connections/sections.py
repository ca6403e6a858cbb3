"""The boxes of the details panel that need no exchange: the recorded market of a paper-replay
connection (:class:`ReplaySection`) and the pre-trade risk limits (:class:`RiskSection`)."""
from __future__ import annotations

from typing import Any, Dict

from PySide6.QtWidgets import QComboBox, QLabel

from ...core.risk import RiskLimits
from ...services.datasets import datasets as replay_datasets
from ...store.settings import SPEEDS
from .base import DetailsSection, FieldError, spin


class ReplaySection(DetailsSection):
    """Recorded market, replay speed, starting balance and fee of a paper-replay connection."""

    def __init__(self, parent=None):
        super().__init__("Paper account and market data", parent)
        self.dataset = QComboBox()
        for key, ds in replay_datasets().items():
            self.dataset.addItem(ds.label, key)
        self.dataset.setMinimumWidth(280)
        self.add_field("dataset", "Recorded market", self.dataset,
                       help="The recorded candles the paper exchange replays")
        self.speed = QComboBox()
        for key in SPEEDS:
            self.speed.addItem(key, key)
        self.add_field("speed", "Replay speed", self.speed,
                       help="Candles are replayed at this multiple of real time; max is as fast as possible")
        self.balance = spin(1.0, 1e9, 2, 1000.0, 160)
        self.add_field("starting_balance", "Starting balance", self.balance, "USD",
                       "In dollars; converted to the quote currency at the replay's first price where the "
                       "market is not quoted in a dollar (BTC-quoted markets)")
        self.balance_unit = self.balance.parentWidget().findChild(QLabel, "Unit")
        self.dataset.currentIndexChanged.connect(self._show_balance_unit)
        self._show_balance_unit()
        self.fee = spin(-0.001, 5.0, 3, 0.01)
        self.fee.setSpecialValueText("market default")
        self.add_field("fee", "Taker fee", self.fee, "%", "Fee per fill as a percentage of notional; "
                                                           "'market default' uses the market's schedule (0.1 %)")
        for w in (self.dataset, self.speed):
            w.currentIndexChanged.connect(self._changed)
        for w in (self.balance, self.fee):
            w.valueChanged.connect(self._changed)

    def applies_to(self, conn):
        return conn.is_paper_replay

    def _show_balance_unit(self, *_a) -> None:
        """The balance's unit as the replayed market counts money: its dollar quote itself (USD,
        USDT), or dollars converted to a coin quote."""
        ds = replay_datasets().get(self.dataset.currentData())
        quote = ds.quote if ds is not None else ""
        dollar = quote in ("USD", "USDT", "USDC", "BUSD", "FDUSD", "TUSD", "DAI")
        self.balance_unit.setText(quote if dollar else f"USD, converted to {quote or 'the quote'} at the first price")

    def load(self, conn):
        i = self.dataset.findData(conn.dataset)
        self.dataset.setCurrentIndex(max(i, 0))
        self.speed.setCurrentIndex(max(self.speed.findData(conn.speed), 0))
        self.balance.setValue(conn.starting_balance)
        self.fee.setValue(self.fee.minimum() if conn.fee is None else conn.fee * 100.0)
        self.show_error(None)

    def apply(self, conn):
        conn.dataset = self.dataset.currentData()
        conn.speed = self.speed.currentData()
        if self.balance.value() <= 0:
            raise FieldError("starting_balance", "must be more than 0")
        conn.starting_balance = float(self.balance.value())
        fee = self.fee.value()
        conn.fee = None if fee < 0 else fee / 100.0


# (key, label, minimum, maximum, decimals, step, unit, help, shown as % of the stored fraction)
_RISK_FIELDS = (
    ("max_position_fraction", "Max position size", 0.0, 1.0, 2, 0.05, "fraction of equity",
     "Largest position notional as a fraction of equity (0 < x <= 1)", False),
    ("max_open_positions", "Max open positions", 1, 1000, 0, 1, "", "Most positions open at once across symbols", False),
    ("max_order_notional", "Max order notional", 0.0, 1e12, 2, 100.0, "quote, 0 = no cap",
     "Largest value of one entry order, in the quote currency (exchange connections)", False),
    ("min_free_balance", "Min free balance", 0.0, 1e12, 2, 100.0, "quote",
     "Quote currency that must stay free after an entry (exchange connections)", False),
    ("max_leverage", "Max leverage", 0.01, 125.0, 2, 0.5, "x equity",
     "Open position notional after an entry, as a multiple of equity; refused above", False),
    ("daily_loss_limit", "Daily loss limit", 0.0, 99.0, 1, 1.0, "% of the day's start, 0 = off",
     "Realized + unrealized loss since 00:00 UTC; reached: no new entries until the next UTC day", True),
    ("max_drawdown", "Max drawdown breaker", 0.0, 99.0, 1, 1.0, "% below the peak, 0 = off",
     "Reached: the connection goes close-only and stays so, across restarts, until re-armed "
     "(Engine > Re-arm risk breaker, or cts-desktop risk rearm)", True),
    ("max_orders_per_minute", "Max orders per minute", 0, 10_000, 0, 1, "0 = no limit",
     "Entries sent in any rolling minute at most", False),
)


class RiskSection(DetailsSection):
    """Pre-trade risk limits and breakers (``RiskLimits``)."""

    def __init__(self, parent=None):
        super().__init__("Risk limits", parent)
        self.spins: Dict[str, Any] = {}
        for key, label, lo, hi, decimals, step, unit, help_text, _pct in _RISK_FIELDS:
            w = self.spins[key] = spin(lo, hi, decimals, step)
            self.add_field(key, label, w, unit, help_text)
            w.valueChanged.connect(self._changed)
        self.max_fraction = self.spins["max_position_fraction"]
        self.max_open = self.spins["max_open_positions"]

    def load(self, conn):
        defaults = RiskLimits()
        for key, *_rest, pct in _RISK_FIELDS:
            value = conn.risk.get(key, getattr(defaults, key))
            self.spins[key].setValue(float(value) * 100 if pct else value)
        self.show_error(None)

    def entered(self) -> Dict[str, Any]:
        """The limits as entered, not validated (fractions as fractions)."""
        out: Dict[str, Any] = {}
        for key, _l, _lo, _hi, decimals, *_rest, pct in _RISK_FIELDS:
            value = self.spins[key].value()
            out[key] = float(value) / 100 if pct else (int(value) if decimals == 0 else float(value))
        return out

    def validate(self) -> Dict[str, Any]:
        risk = self.entered()
        try:
            RiskLimits(**risk)
        except ValueError as exc:
            text = str(exc)
            field = next((k for k in self.spins if text.startswith(k)), "max_position_fraction")
            raise FieldError(field, text[len(field):].strip() if text.startswith(field) else text) from None
        return risk

    def apply(self, conn):
        conn.risk = dict(conn.risk, **self.validate())
