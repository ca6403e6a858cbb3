"""Live Trading tab: engine commands, replay speed and progress, account figures, equity chart."""
from __future__ import annotations

from typing import Dict, Optional

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (QComboBox, QFrame, QGridLayout, QHBoxLayout, QLabel, QTabWidget, QVBoxLayout,
                               QWidget)

from ..store.settings import SPEEDS
from . import fmt
from .charts import EquityChart
from .widgets import EngineControls, ProgressLine, StatCard, StatePill, tone

# (key, title, tooltip)
CARDS = (
    ("balance", "Balance", "Cash balance in the account's quote currency (realized P&L and fees included)"),
    ("equity", "Equity", "Balance plus the unrealized P&L of open positions"),
    ("total_pnl", "Total P&L", "Equity minus the starting balance"),
    ("realized_pnl", "Realized P&L", "P&L of closed positions, gross of fees"),
    ("unrealized_pnl", "Unrealized P&L", "P&L of open positions at the last price"),
    ("fees", "Fees", "Every fee paid this run"),
    ("trades", "Trades", "Closed positions this run"),
    ("win_rate", "Win rate", "Share of closed positions with positive net P&L"),
    ("max_drawdown", "Max drawdown", "Largest fall of equity from its running peak"),
    ("open_positions", "Open positions", "Positions open now"),
)


class LiveTab(QWidget):
    """``speed_changed(speed)`` is emitted when the user picks a replay speed (a key of SPEEDS)."""

    speed_changed = Signal(str)

    def __init__(self, actions, parent=None):
        super().__init__(parent)
        self.controls = EngineControls(actions)
        self.state = StatePill()
        self.speed = QComboBox()
        self.speed.setObjectName("SpeedCombo")
        for key in SPEEDS:
            self.speed.addItem(key, key)
        self.speed.setToolTip("Replay speed: a multiple of real time, or max (as fast as possible)")
        self.speed.activated.connect(lambda _i: self.speed_changed.emit(self.speed.currentData()))
        self.progress = ProgressLine(height=8)  # value() / setValue() in per mille
        self.progress_text = QLabel("No replay yet")
        self.progress_text.setObjectName("Hint")
        self.live_badge = QLabel()
        self.live_badge.setObjectName("LiveIndicator")
        self.stale_badge = QLabel()  # symbols whose market data is stale (the feed watchdog)
        self.stale_badge.setObjectName("StaleFeeds")
        self.stale_badge.setVisible(False)

        top = QHBoxLayout()
        top.setSpacing(10)
        top.addWidget(self.controls)
        top.addSpacing(8)
        sp = QLabel("Speed")
        sp.setObjectName("FieldLabel")
        top.addWidget(sp)
        top.addWidget(self.speed)
        top.addSpacing(8)
        top.addWidget(self.state)
        top.addStretch(1)

        prog = QVBoxLayout()
        prog.setSpacing(3)
        prog.addWidget(self.progress)
        under = QHBoxLayout()
        under.addWidget(self.progress_text, 1)
        under.addWidget(self.stale_badge)
        under.addSpacing(8)
        under.addWidget(self.live_badge)
        prog.addLayout(under)

        self.cards: Dict[str, StatCard] = {}
        grid = QGridLayout()
        grid.setHorizontalSpacing(10)
        grid.setVerticalSpacing(10)
        for i, (key, title, tip) in enumerate(CARDS):
            card = StatCard(title, tip=tip)
            self.cards[key] = card
            grid.addWidget(card, i // 5, i % 5)
        for c in range(5):
            grid.setColumnStretch(c, 1)

        self.chart = EquityChart()
        chart_frame = QFrame()
        chart_frame.setObjectName("ChartFrame")
        cl = QVBoxLayout(chart_frame)
        cl.setContentsMargins(8, 6, 8, 8)
        head = QHBoxLayout()
        t = QLabel("Equity curve")
        t.setObjectName("SectionTitle")
        head.addWidget(t)
        head.addStretch(1)
        self.chart_info = QLabel()
        self.chart_info.setObjectName("Hint")
        head.addWidget(self.chart_info)
        cl.addLayout(head)
        cl.addWidget(self.chart, 1)

        lay = QVBoxLayout(self)
        lay.setContentsMargins(12, 10, 12, 10)
        lay.setSpacing(10)
        lay.addLayout(top)
        lay.addLayout(prog)
        lay.addLayout(grid)
        # The chart and, added by the window, the analytics panel share the lower half.
        self.views = QTabWidget()
        self.views.setObjectName("LiveViews")
        self.views.setDocumentMode(True)
        self.views.addTab(chart_frame, "Equity curve")
        lay.addWidget(self.views, 1)
        self.set_live_connections([])

    def add_view(self, widget: QWidget, title: str) -> None:
        """Another page next to the equity chart (the analytics panel)."""
        self.views.addTab(widget, title)

    # -- updates ----------------------------------------------------------------------------------
    def set_speed(self, speed: str) -> None:
        i = self.speed.findData(speed)
        if i >= 0:
            self.speed.setCurrentIndex(i)

    def set_state(self, state: str, reason: str = "") -> None:
        self.state.set_state(state, reason)

    def set_live_connections(self, names) -> None:
        names = list(names)
        if names:
            self.live_badge.setText("● LIVE: " + ", ".join(names))
            self.live_badge.setProperty("live", True)
        else:
            self.live_badge.setText("● Paper trading: no live connections")
            self.live_badge.setProperty("live", False)
        self.live_badge.style().unpolish(self.live_badge)
        self.live_badge.style().polish(self.live_badge)

    def set_stale_feeds(self, stale: Dict[str, list]) -> None:
        """Show the badge for stale market data: connection -> its stale symbols (empty: hidden)."""
        parts = [f"{', '.join(sorted(syms))} ({name})" for name, syms in sorted(stale.items()) if syms]
        self.stale_badge.setVisible(bool(parts))
        self.stale_badge.setText(f"⚠ Stale market data: {'; '.join(parts)}: new entries blocked" if parts else "")
        self.stale_badge.setToolTip("No new market data within the connection's limit: new entries are blocked on "
                                    "these symbols, exits still go out. It clears when data flows again.")

    def set_progress(self, done: int, total: int, market_ts: int = 0) -> None:
        frac = done / total if total else 0.0
        self.progress.setValue(int(frac * 1000))
        when = f"  ·  market time {fmt.utc_ms(market_ts)} UTC" if market_ts else ""
        self.progress_text.setText(f"{done:,} of {total:,} candles replayed ({frac:.0%}){when}")

    def set_progress_text(self, text: str) -> None:
        self.progress_text.setText(text)

    def show_figures(self, f: Optional[dict]) -> None:
        """Fill the cards from an ``AccountSnapshot``-like dict (see :func:`figures_of`)."""
        if not f:
            for card in self.cards.values():
                card.set("–", "", "")
            return
        cur = f.get("currency", "")
        c = self.cards
        c["balance"].set(fmt.money(f.get("balance"), cur), "", cur)
        c["equity"].set(fmt.money(f.get("equity"), cur), "", cur)
        start = f.get("starting_balance")
        for key in ("total_pnl", "realized_pnl", "unrealized_pnl"):
            v = f.get(key)
            sub = cur
            if key == "total_pnl" and start and v is not None:
                sub = f"{cur}  ({fmt.pct(v / start, sign=True)})"
            c[key].set(fmt.money(v, cur, sign=True), tone(v), sub)
        c["fees"].set(fmt.money(f.get("fees"), cur), "", cur)
        trades = f.get("trades")
        c["trades"].set("–" if trades is None else f"{trades:,}", "",
                        f"{f['wins']:,} won" if f.get("wins") is not None else "closed positions")
        wr = f.get("win_rate")
        c["win_rate"].set(fmt.pct(wr, decimals=1), "", "of closed positions")
        mdd = f.get("max_drawdown")
        c["max_drawdown"].set(fmt.pct(-mdd if mdd else 0.0, decimals=2) if mdd is not None else "–",
                              "down" if mdd else "", "from the equity peak")
        op = f.get("open_positions")
        c["open_positions"].set("–" if op is None else str(op), "", "now")
        if cur and self.chart.currency != cur:
            self.chart.set_currency(cur)
        if start:
            self.chart.set_starting_balance(start)

    def update_chart_info(self) -> None:
        n = self.chart.point_count
        self.chart_info.setText(f"{n:,} points  ·  last {self.chart.describe_last()}" if n else "")


def figures_of(snapshot=None, summary: Optional[dict] = None, starting_balance: Optional[float] = None) -> dict:
    """The card figures from an ``AccountSnapshot`` or a run summary dict (``engine.summary()``)."""
    if snapshot is not None:
        f = {k: getattr(snapshot, k) for k in ("currency", "balance", "equity", "realized_pnl", "unrealized_pnl",
                                               "fees", "total_pnl", "trades", "wins", "win_rate", "max_drawdown",
                                               "open_positions")}
    else:
        f = dict(summary or {})
    if starting_balance is not None:
        f["starting_balance"] = starting_balance
    return f
