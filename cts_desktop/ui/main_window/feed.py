"""What the tabs show of the connection on screen: its history from the store when it is selected
(:meth:`ConnectionFeed.load_history`), then its engine's events as the bridge delivers them (a new
run, account snapshots, replay progress, positions, orders, log lines, equity points). Events of
other connections are ignored here (the Connections list follows them on its own)."""
from __future__ import annotations

import logging
from typing import Optional

from PySide6.QtCore import QTimer

from ...core import events as ev
from .. import fmt, heap
from ..chart_data import Columns
from ..live import figures_of
from ..reconciliation_dialog import show_reconciliation

log = logging.getLogger(__name__)

ACTIVE_STATES = (ev.INITIALIZING, ev.RUNNING, ev.PAUSED, ev.STOPPING)


class ConnectionFeed:
    """Feeds ``win``'s Live Trading, Positions and Activity tabs for ``win.current``."""

    def __init__(self, win):
        self.win = win
        self.services = win.services
        self.starting_balance: Optional[float] = None
        # Open positions sorted on a live column (price, P&L) take a snapshot's prices on a turn
        # of the loop of their own: 10,000 of them re-sort then, not in the bridge's tick that
        # also applies the positions and the log lines (one block of each, not one of all).
        # Otherwise the prices apply at once (a separate turn would cost a second repaint).
        self._prices: dict = {}
        self._prices_timer = QTimer(win)
        self._prices_timer.setSingleShot(True)
        self._prices_timer.setInterval(0)
        self._prices_timer.timeout.connect(self._apply_prices)
        self.stale: dict = {}  # connection -> symbols whose market data is stale (the Live tab's badge)

    def wire(self, bridge) -> None:
        bridge.run_started.connect(self.on_run_started)
        bridge.snapshot.connect(self.on_snapshot)
        bridge.progress.connect(self.on_progress)
        bridge.positions_changed.connect(self.on_positions)
        bridge.orders_changed.connect(self.on_orders)
        bridge.log_lines.connect(self.on_log)
        bridge.equity_points.connect(self.on_equity)
        bridge.alerts.connect(self.on_alerts)
        bridge.request_budget.connect(self.on_budget)
        bridge.state_changed.connect(self._stale_on_state)

    def on_alerts(self, events: list) -> None:
        """Stale / resumed market data: the Live tab's badge follows every connection's feeds."""
        for e in events:
            if isinstance(e, ev.FeedStale):
                self.stale.setdefault(e.connection, set()).add(e.symbol)
            elif isinstance(e, ev.FeedResumed):
                self.stale.get(e.connection, set()).discard(e.symbol)
        self.win.live_tab.set_stale_feeds(self.stale)

    def _stale_on_state(self, name: str, state: str, _reason: str) -> None:
        """An engine that is not running has no feed to be stale."""
        if state not in ACTIVE_STATES and self.stale.pop(name, None):
            self.win.live_tab.set_stale_feeds(self.stale)

    def _summary(self, name: str) -> dict:
        try:
            return self.services.last_summary(name) or {}
        except Exception:  # noqa: BLE001 - a store read for display must not break the window
            log.warning("reading the last run summary of %s failed", name, exc_info=True)
            return {}

    def _show_summary(self, summary: dict, curve) -> None:
        self.starting_balance = summary.get("starting_balance")
        live = self.win.live_tab
        chart = live.chart
        chart.set_currency(summary.get("currency", ""))
        chart.set_starting_balance(self.starting_balance)
        chart.set_points(curve)

    # -- history ----------------------------------------------------------------------------------
    def load_history(self) -> None:
        """(Re)load the current connection's positions, log, equity curve and figures from services."""
        win = self.win
        name = win.current
        if name is None:
            return
        win.refresh_analytics()
        win.bridge.flush()  # whatever was buffered is older than what we load now
        self._prices.clear()
        win.activity_tab.budget.clear()  # the next connection's budget comes with its next request
        try:
            summary = self.services.last_summary(name) or {}
            win.positions_tab.load(self.services.open_positions(name), self.services.closed_positions(name))
            win.activity_tab.load(self.services.events(name))
            curve = Columns(*self.services.equity_columns(name))
        except Exception as exc:  # noqa: BLE001 - a store problem must not take the window down
            log.exception("loading the history of %s failed", name)
            win.notify(f"Could not load the history of {name}: {exc}")
            return
        self._show_summary(summary, curve)
        win.live_tab.update_chart_info()
        win.live_tab.show_figures(figures_of(summary=summary) if summary else None)
        win.activity_tab.set_figures(summary.get("trades"), summary.get("last_candle_ts") or 0)
        self._show_last_run(name)
        heap.settle()  # what was just loaded stays: keep it out of the GC's full passes

    def _show_last_run(self, name: str) -> None:
        win = self.win
        run = None
        try:
            run = self.services.latest_run(name)
        except Exception:  # noqa: BLE001 - a store read for display must not break the window
            log.warning("reading the latest run of %s failed", name, exc_info=True)
        replay = getattr(win.live_tab, "replay", True)
        if run is None:
            win.toolbar_info.setText("no runs yet")
            win.live_tab.set_progress_text("No replay yet: press Start." if replay else
                                           "Not running: press Start to trade on the exchange's market data.")
            win.live_tab.progress.setValue(0)
            return
        reason = run.reason
        when = fmt.utc_ms(run.started_at)
        win.toolbar_info.setText(f"last run #{run.id}: {run.dataset or run.mode}, {run.state}"
                                 f"{' (' + reason + ')' if reason else ''}, started {when}")
        upto = "replayed to" if replay else "last candle"
        replayed = f"  ·  {upto} {fmt.utc_ms(run.last_candle_ts)} UTC" if run.last_candle_ts else ""
        win.live_tab.set_progress_text(f"Last run #{run.id} {run.state}{': ' + reason if reason else ''}{replayed}")
        win.live_tab.progress.setValue(1000 if reason == "end of data" else 0)

    # -- live events ------------------------------------------------------------------------------
    def on_run_started(self, name: str, run_id: int) -> None:
        win = self.win
        show_reconciliation(win, self.services, name, run_id)  # what the start found, when anything
        if name != win.current:
            return
        win.positions_tab.new_run()
        self._prices.clear()
        summary = self._summary(name)
        self._show_summary(summary, Columns(*self.services.equity_columns(name)))
        win.live_tab.chart.set_time_span(self.services.replay_span(name))
        win.live_tab.update_chart_info()
        win.live_tab.show_figures(figures_of(summary=summary) if summary else None)
        win.toolbar_info.setText(f"run #{run_id} running")

    def on_snapshot(self, snap) -> None:
        win = self.win
        if snap.connection != win.current:
            return
        win.live_tab.show_figures(figures_of(snap, starting_balance=self.starting_balance))
        if win.positions_tab.open_model.live_sorted:
            self._prices.update(snap.prices)
            if not self._prices_timer.isActive():
                self._prices_timer.start()
        else:
            win.positions_tab.update_prices(snap.prices)
        win.activity_tab.set_figures(snap.trades, snap.timestamp)
        if win.shown_state in ACTIVE_STATES:
            win.activity_tab.set_last_update(self.services.engine(snap.connection).last_update_wall)

    def _apply_prices(self) -> None:
        prices, self._prices = self._prices, {}
        if prices:
            self.win.positions_tab.update_prices(prices)

    def on_progress(self, name: str, done: int, total: int) -> None:
        win = self.win
        if name != win.current:
            return
        if not total:  # an exchange engine: no end to replay towards, its feed instead
            win.live_tab.set_progress_text(self.services.feed_status(name))
            win.status_progress.setText("")
            return
        eng = self.services.engine(name)
        ts = eng.core.last_ts if getattr(eng, "core", None) is not None else 0
        win.live_tab.set_progress(done, total, ts)
        win.status_progress.setText(f"{done / total:.0%} replayed")
        win.activity_tab.set_last_update(eng.last_update_wall)

    def on_positions(self, name: str, positions: list) -> None:
        if name == self.win.current:
            self.win.positions_tab.apply_positions(positions)

    def on_orders(self, name: str, orders: list) -> None:
        if name == self.win.current:
            self.win.positions_tab.apply_orders(orders)

    def on_budget(self, name: str, b) -> None:
        if name == self.win.current:
            self.win.activity_tab.budget.set_budget(b.used, b.limit, b.state, b.until, b.label)

    def on_log(self, name: str, lines: list) -> None:
        if name == self.win.current:
            self.win.activity_tab.append(lines)

    def on_equity(self, name: str, points: list) -> None:
        if name == self.win.current:
            self.win.live_tab.chart.append_points(points)
            self.win.live_tab.update_chart_info()
