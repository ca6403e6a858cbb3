"""The boxes of the details panel that need no exchange: the recorded market of a paper-replay
connection (:class:`ReplaySection`) and the pre-trade risk limits (:class:`RiskSection`)."""
from __future__ import annotations

from typing import Any, Dict

from PySide6.QtWidgets import QComboBox

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
        self.add_field("starting_balance", "Starting balance", self.balance, "USDT equivalent",
                       "Converted to the quote currency at the replay's first price where it is not a dollar")
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


class RiskSection(DetailsSection):
    """Pre-trade risk limits (``RiskLimits``)."""

    def __init__(self, parent=None):
        super().__init__("Risk limits", parent)
        self.max_fraction = spin(0.0, 1.0, 2, 0.05)
        self.add_field("max_position_fraction", "Max position size", self.max_fraction, "fraction of equity",
                       "Largest position notional as a fraction of equity (0 < x <= 1)")
        self.max_open = spin(1, 1000)
        self.add_field("max_open_positions", "Max open positions", self.max_open, "",
                       "Most positions open at once across symbols")
        self.max_fraction.valueChanged.connect(self._changed)
        self.max_open.valueChanged.connect(self._changed)

    def load(self, conn):
        self.max_fraction.setValue(float(conn.risk.get("max_position_fraction", 0.5)))
        self.max_open.setValue(int(conn.risk.get("max_open_positions", 3)))
        self.show_error(None)

    def entered(self) -> Dict[str, Any]:
        """The limits as entered, not validated."""
        return {"max_position_fraction": float(self.max_fraction.value()),
                "max_open_positions": int(self.max_open.value())}

    def validate(self) -> Dict[str, Any]:
        risk = self.entered()
        try:
            RiskLimits(**risk)
        except ValueError as exc:
            text = str(exc)
            field = "max_open_positions" if text.startswith("max_open") else "max_position_fraction"
            raise FieldError(field, text[len(field):].strip() if text.startswith(field) else text) from None
        return risk

    def apply(self, conn):
        conn.risk = dict(conn.risk, **self.validate())
