"""One connection's card on the Dashboard: exchange, PAPER / LIVE, engine state and progress or
feed line, balance, equity, open positions, today's P&L, last update, feed health, and Start /
Stop / Kill. It only draws a :class:`~cts_desktop.services.dashboard.Card`; its buttons emit the
connection's name (the tab runs the commands through the services)."""
from __future__ import annotations

import time
from typing import Dict, Optional

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QFrame, QGridLayout, QHBoxLayout, QLabel, QPushButton, QSizePolicy, QVBoxLayout

from ...services.dashboard import Card, feed_health
from .. import fmt
from ..widgets import ElidedLabel, ProgressLine, StatePill, repolish, tone

FIGURES = (("balance", "Balance"), ("equity", "Equity"), ("today", "Today's P&L"), ("positions", "Open positions"))
CARD_WIDTH = 380  # the narrowest a card gets; the grid puts as many side by side as fit


class ConnectionCard(QFrame):
    """The card of connection ``name``; :meth:`show_card` draws its figures, :meth:`set_stale` its
    feed health, :meth:`tick_age` the "updated … ago" line (once a second)."""

    start_clicked = Signal(str)
    stop_clicked = Signal(str)
    kill_clicked = Signal(str)
    open_clicked = Signal(str)

    def __init__(self, name: str, parent=None):
        super().__init__(parent)
        self.name = name
        self.setObjectName("DashCard")
        self.setMinimumWidth(CARD_WIDTH)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)  # never squeezed
        self.card: Optional[Card] = None
        self.stale: set = set()
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 12)
        lay.setSpacing(6)
        self.mode_strip = QLabel()  # a coloured strip across the top: LIVE (real money) or PAPER
        self.mode_strip.setObjectName("DashMode")
        self.mode_strip.setAlignment(Qt.AlignmentFlag.AlignCenter)
        lay.addWidget(self.mode_strip)
        body = QVBoxLayout()
        body.setContentsMargins(14, 2, 14, 0)
        body.setSpacing(6)
        lay.addLayout(body)
        head = QHBoxLayout()
        self.title = ElidedLabel(name)
        self.title.setObjectName("DashName")
        self.state = StatePill()
        head.addWidget(self.title, 1)
        head.addWidget(self.state)
        body.addLayout(head)
        self.exchange = ElidedLabel()
        self.exchange.setObjectName("Hint")
        body.addWidget(self.exchange)
        self.activity = ElidedLabel()
        self.activity.setObjectName("DashActivity")
        body.addWidget(self.activity)
        self.detail = ElidedLabel()  # the rest of a feed line: last candle, next decision
        self.detail.setObjectName("Hint")
        body.addWidget(self.detail)
        self.progress = ProgressLine(height=5)
        keep = self.progress.sizePolicy()
        keep.setRetainSizeWhenHidden(True)  # every card the same height, replay or not
        self.progress.setSizePolicy(keep)
        body.addWidget(self.progress)
        grid = QGridLayout()
        grid.setHorizontalSpacing(18)
        grid.setVerticalSpacing(0)
        self.values: Dict[str, QLabel] = {}
        for i, (key, label) in enumerate(FIGURES):
            t = QLabel(label.upper())
            t.setObjectName("StatTitle")
            if i >= 2:
                t.setContentsMargins(0, 8, 0, 0)  # room between the two rows of figures
            v = QLabel("–")
            v.setObjectName("DashValue")
            v.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            grid.addWidget(t, (i // 2) * 2, i % 2)
            grid.addWidget(v, (i // 2) * 2 + 1, i % 2)
            self.values[key] = v
        body.addLayout(grid)
        foot = QHBoxLayout()
        self.updated = QLabel()
        self.updated.setObjectName("Hint")
        self.feed = QLabel()
        self.feed.setObjectName("DashFeed")
        foot.addWidget(self.updated, 1)
        foot.addWidget(self.feed)
        body.addLayout(foot)
        buttons = QHBoxLayout()
        self.start_button = self._button("▶  Start", "DashStart", self.start_clicked)
        self.stop_button = self._button("■  Stop", "DashStop", self.stop_clicked)
        self.kill_button = self._button("Kill", "DashKill", self.kill_clicked)
        self.kill_button.setToolTip("Kill switch on this connection only: cancel its open orders, close its "
                                    "positions (as the settings say) and stop its engine; asks first")
        self.open_button = self._button("Details ›", "DashOpen", self.open_clicked)
        self.open_button.setToolTip("Show this connection in the Live Trading, Positions and Activity tabs")
        for b in (self.start_button, self.stop_button, self.open_button):
            buttons.addWidget(b)
        buttons.addStretch(1)
        buttons.addWidget(self.kill_button)
        body.addLayout(buttons)

    def _button(self, text: str, name: str, signal) -> QPushButton:
        b = QPushButton(text)
        b.setObjectName(name)
        b.setAutoDefault(False)
        b.clicked.connect(lambda _c=False: signal.emit(self.name))
        return b

    # -- drawing ----------------------------------------------------------------------------------
    def show_card(self, card: Card) -> None:
        """Draw ``card`` (the service's figures of this connection)."""
        self.card = card
        live = card.live
        self.mode_strip.setText("LIVE  ·  real money" if live else "PAPER  ·  simulated orders")
        if self.property("live") != live:
            self.setProperty("live", live)
            self.mode_strip.setProperty("live", live)
            repolish(self)
            repolish(self.mode_strip)
        self.state.set_state(card.state, card.reason)
        self.exchange.setText(card.exchange)
        line = card.activity or (card.reason if card.state == "error" else "")
        first, _sep, rest = line.partition("  ·  ")
        self.activity.setText(first)
        self.detail.setText(rest)
        self.progress.setVisible(card.progress is not None)
        self.progress.set_fraction(card.progress or 0.0)
        cur = card.currency
        self.values["balance"].setText(fmt.money(card.balance, cur, unit=True))
        self.values["equity"].setText(fmt.money(card.equity, cur, unit=True))
        self._set_tone(self.values["today"], fmt.money(card.today_pnl, cur, sign=True, unit=True),
                       tone(card.today_pnl))
        self.values["today"].setToolTip(f"Equity change since 00:00 UTC of {card.day}" if card.day else "")
        self.values["positions"].setText(str(card.open_positions) if card.summary else "–")
        self.start_button.setEnabled(not card.running)
        self.stop_button.setEnabled(card.running and card.state != "stopping")
        self.kill_button.setEnabled(card.running and card.state != "stopping")
        self.set_stale(self.stale)
        self.tick_age()

    @staticmethod
    def _set_tone(label: QLabel, text: str, value_tone: str) -> None:
        label.setText(text)
        if label.property("tone") != value_tone:
            label.setProperty("tone", value_tone)
            repolish(label)

    def set_stale(self, symbols: set) -> None:
        """The feed health: ``symbols`` without market data (empty: fine)."""
        self.stale = set(symbols)
        state = self.card.state if self.card is not None else "idle"
        text = feed_health(self.stale, state)
        self.feed.setText(text)
        kind = "stale" if text.startswith("stale") else "ok" if text == "feed ok" else ""
        if self.feed.property("health") != kind:
            self.feed.setProperty("health", kind)
            repolish(self.feed)

    def tick_age(self, now: Optional[float] = None) -> None:
        """The "updated HH:MM:SS (n s ago)" line, from the engine's last update (wall clock)."""
        t = self.card.last_update if self.card is not None else None
        if not t:
            running = self.card is not None and self.card.running
            self.updated.setText("waiting for the first update" if running else "not run in this session")
            return
        self.updated.setText(f"updated {fmt.wall_clock(t)} ({fmt.ago(t, now or time.time())})")

    def figures(self) -> Dict[str, str]:
        """What the card shows, by :data:`FIGURES` key (tests, screenshots)."""
        return {k: v.text() for k, v in self.values.items()}
