"""The only place where engine events become Qt signals.

The engines publish plain dataclass events on ``services.bus`` (see ``core/events.py``), possibly
thousands per second during a fast replay. :class:`EventBridge` subscribes to the bus, files each
event into a buffer in O(1) and, on a 100 ms timer, emits one signal per kind with everything
gathered since the last tick. A burst of thousands of events therefore costs each view one
update (at most ~10 refreshes per second), never one repaint per event.

Coalescing rules, per connection:

* account snapshots, progress and engine state: only the latest is kept (state changes are
  also emitted at once when they happen, because buttons must follow the engine immediately);
* positions and orders: the latest version per key (position id, client order id);
* log lines, fills and equity points: appended, emitted as one list per tick;
* candles (the Market tab's chart): appended, at most :data:`MAX_CANDLES` per connection and tick;
  beyond that only the newest are kept and the signal says the list is not complete (the view
  then reloads its history from the service instead of drawing a max-speed replay candle by candle).

Bus handlers run on the qasync loop, which is Qt's own thread, so no locking is needed.

Keeping the loop responsive while a replay streams at full speed: a table update costs the model
work now and a repaint (tens of milliseconds for a full table) on the next loop pass. So the timer
tick emits the light kinds (snapshot, progress, equity) every time, but the heavy ones (positions,
orders, fills, log lines) adaptively: one kind after the other until :data:`TICK_BUDGET_S` is
spent (the rest waits for the next tick), and after a round that cost ``c`` seconds, none for
``HOLD_FACTOR * c`` (capped at :data:`MAX_HOLD_S`). Cheap rounds (a paced replay) therefore still
refresh every tick; a max-speed replay refreshes the tables about once a second. :meth:`flush`
(state changes, history loads) always emits everything at once.
"""
from __future__ import annotations

import time
from typing import Callable, Dict, List, Optional, Tuple

from PySide6.QtCore import QObject, QTimer, Signal

from ..core import events as ev

REFRESH_MS = 100  # drain interval: at most 10 UI refreshes per second per view
TICK_BUDGET_S = 0.006  # heavy kinds emitted per tick until this much time is spent
HOLD_FACTOR = 40.0  # after heavy updates that cost c seconds, the next ones wait HOLD_FACTOR * c
MAX_HOLD_S = 1.0  # ... but never longer than this
MAX_CANDLES = 500  # candles kept per connection and tick (more: the newest, marked incomplete)


class EventBridge(QObject):
    """Coalesces bus events into Qt signals. Create one per window; call :meth:`close` when done.

    Signals (``connection`` is the connection name):

    * ``state_changed(connection, state, reason)``: an engine state from ``ENGINE_STATES``;
    * ``snapshot(AccountSnapshot)``: the latest account figures (quote currency);
    * ``progress(connection, done, total)``: candles replayed of the dataset's total;
    * ``positions_changed(connection, [Position])``: positions that changed since the last tick,
      latest version of each (a position with ``closed_at`` set has been closed);
    * ``orders_changed(connection, [Order])``: orders that changed, latest version of each;
    * ``fills(connection, [FillEvent])``: new fills in arrival order;
    * ``log_lines(connection, [LogEvent])``: new log lines in arrival order;
    * ``equity_points(connection, [(timestamp_ms, equity)])``: new equity curve points;
    * ``run_started(connection, run_id)``: a new run began (views clear what belonged to the last);
    * ``candles(connection, [CandleEvent], complete)``: closed candles the engine processed since the
      last tick, oldest first (``complete`` False: only the newest :data:`MAX_CANDLES` of more);
    * ``alerts([event])``: circuit-breaker trips, stale and resumed feeds, reconciliation results, in arrival
      order (rare: emitted with the light kinds, every tick).
    """

    state_changed = Signal(str, str, str)
    snapshot = Signal(object)
    progress = Signal(str, int, int)
    positions_changed = Signal(str, list)
    orders_changed = Signal(str, list)
    fills = Signal(str, list)
    log_lines = Signal(str, list)
    equity_points = Signal(str, list)
    run_started = Signal(str, int)
    alerts = Signal(list)
    candles = Signal(str, list, bool)
    request_budget = Signal(str, object)  # connection, the latest RequestBudgetChanged

    def __init__(self, bus, parent: Optional[QObject] = None, interval_ms: int = REFRESH_MS):
        super().__init__(parent)
        self._bus = bus
        self._snapshots: Dict[str, ev.AccountSnapshot] = {}
        self._progress: Dict[str, Tuple[int, int]] = {}
        self._positions: Dict[str, Dict[int, object]] = {}
        self._orders: Dict[str, Dict[str, object]] = {}
        self._fills: Dict[str, List[ev.FillEvent]] = {}
        self._logs: Dict[str, List[ev.LogEvent]] = {}
        self._equity: Dict[str, List[tuple]] = {}
        self._alerts: List[object] = []
        self._candles: Dict[str, List[ev.CandleEvent]] = {}
        self._candles_dropped: set = set()  # connections whose candles overflowed this tick
        self._budgets: Dict[Tuple[str, str], ev.RequestBudgetChanged] = {}
        self._dirty = False
        self._starting: set = set()  # connections between initializing and running
        self._dispatch: Dict[type, Callable] = {
            ev.LogEvent: self._on_log,
            ev.AccountSnapshot: self._on_snapshot,
            ev.EquityPoints: self._on_equity,
            ev.PositionEvent: self._on_position,
            ev.OrderEvent: self._on_order,
            ev.FillEvent: self._on_fill,
            ev.ProgressEvent: self._on_progress,
            ev.EngineStateChanged: self._on_state,
            ev.CircuitBreakerTripped: self._alerts.append,
            ev.FeedStale: self._alerts.append,
            ev.FeedResumed: self._alerts.append,
            ev.ReconciliationResult: self._alerts.append,
            ev.RequestBudgetChanged: self._on_budget,
            ev.CandleEvent: self._on_candle,
        }
        self._timer = QTimer(self)
        self._timer.setInterval(interval_ms)
        self._timer.timeout.connect(self._tick)
        self._hold_until = 0.0  # perf_counter time before which the heavy kinds wait
        self._round_cost = 0.0  # time spent on heavy kinds in the current round of ticks
        self._heavy = (self._emit_positions, self._emit_orders, self._emit_fills, self._emit_logs)
        self._timer.start()
        self._unsubscribe: Optional[Callable[[], None]] = bus.subscribe(self._on_event)

    # -- bus side (cheap: file the event, nothing else) -------------------------------------------
    def _on_event(self, event) -> None:
        handler = self._dispatch.get(type(event))
        if handler is not None:
            handler(event)
            self._dirty = True

    def _on_log(self, e: ev.LogEvent) -> None:
        self._logs.setdefault(e.connection, []).append(e)

    def _on_candle(self, e: ev.CandleEvent) -> None:
        buf = self._candles.setdefault(e.connection, [])
        buf.append(e)
        if len(buf) > 2 * MAX_CANDLES:  # amortised trim: O(1) per event
            del buf[:-MAX_CANDLES]
            self._candles_dropped.add(e.connection)

    def _on_budget(self, e: ev.RequestBudgetChanged) -> None:
        self._budgets[(e.connection, e.label)] = e

    def _on_snapshot(self, e: ev.AccountSnapshot) -> None:
        self._snapshots[e.connection] = e

    def _on_equity(self, e: ev.EquityPoints) -> None:
        self._equity.setdefault(e.connection, []).extend(e.points)

    def _on_position(self, e: ev.PositionEvent) -> None:
        self._positions.setdefault(e.connection, {})[e.position.id] = e.position

    def _on_order(self, e: ev.OrderEvent) -> None:
        self._orders.setdefault(e.connection, {})[e.order.clientOrderId] = e.order

    def _on_fill(self, e: ev.FillEvent) -> None:
        self._fills.setdefault(e.connection, []).append(e)

    def _on_progress(self, e: ev.ProgressEvent) -> None:
        self._progress[e.connection] = (e.done, e.total)

    def _on_state(self, e: ev.EngineStateChanged) -> None:
        # Deliver what was buffered under the old state first, so views see events in order.
        self.flush()
        if e.state == ev.INITIALIZING:
            self._starting.add(e.connection)
        elif e.state == ev.RUNNING and e.connection in self._starting:
            self._starting.discard(e.connection)
            self.run_started.emit(e.connection, int(e.run_id or 0))
        elif e.state in (ev.ERROR, ev.STOPPED):
            self._starting.discard(e.connection)
        self.state_changed.emit(e.connection, e.state, e.reason or "")

    # -- Qt side ------------------------------------------------------------------------------
    def flush(self) -> None:
        """Emit everything buffered, at once."""
        if not self._dirty:
            return
        self._dirty = False
        for emit in self._heavy:
            emit()
        self._emit_light()
        self._round_cost = 0.0

    def _tick(self) -> None:
        """The timer: light kinds every tick, heavy ones within the budget and hold (module doc)."""
        if not self._dirty:
            return
        now = time.perf_counter()
        pending = False
        if now >= self._hold_until:
            for emit in self._heavy:
                if time.perf_counter() - now >= TICK_BUDGET_S:
                    pending = True
                    break
                emit()
            end = time.perf_counter()
            self._round_cost += end - now
            if not pending:
                self._hold_until = end + min(MAX_HOLD_S, HOLD_FACTOR * self._round_cost)
                self._round_cost = 0.0
        self._emit_light()
        self._dirty = bool(pending or self._positions or self._orders or self._fills or self._logs)

    def _emit_positions(self) -> None:
        if self._positions:
            positions, self._positions = self._positions, {}
            for conn, by_id in positions.items():
                self.positions_changed.emit(conn, list(by_id.values()))

    def _emit_orders(self) -> None:
        if self._orders:
            orders, self._orders = self._orders, {}
            for conn, by_id in orders.items():
                self.orders_changed.emit(conn, list(by_id.values()))

    def _emit_fills(self) -> None:
        if self._fills:
            fills, self._fills = self._fills, {}
            for conn, items in fills.items():
                self.fills.emit(conn, items)

    def _emit_logs(self) -> None:
        if self._logs:
            logs, self._logs = self._logs, {}
            for conn, items in logs.items():
                self.log_lines.emit(conn, items)

    def _emit_light(self) -> None:
        if self._alerts:
            alerts = list(self._alerts)
            self._alerts.clear()  # in place: the dispatch table holds its append
            self.alerts.emit(alerts)
        if self._equity:
            equity, self._equity = self._equity, {}
            for conn, points in equity.items():
                self.equity_points.emit(conn, points)
        if self._candles:
            candles, self._candles = self._candles, {}
            for conn, items in candles.items():
                complete = conn not in self._candles_dropped and len(items) <= MAX_CANDLES
                self.candles.emit(conn, items[-MAX_CANDLES:], complete)
            self._candles_dropped.clear()
        if self._budgets:
            budgets, self._budgets = self._budgets, {}
            for (conn, _label), b in budgets.items():
                self.request_budget.emit(conn, b)
        if self._snapshots:
            snaps, self._snapshots = self._snapshots, {}
            for snap in snaps.values():
                self.snapshot.emit(snap)
        if self._progress:
            progress, self._progress = self._progress, {}
            for conn, (done, total) in progress.items():
                self.progress.emit(conn, done, total)

    @property
    def interval_ms(self) -> int:
        """The drain interval (ms)."""
        return self._timer.interval()

    def set_interval(self, interval_ms: int) -> None:
        """Change the drain interval (ms) at once (Settings > UI refresh interval)."""
        self._timer.setInterval(max(int(interval_ms), 1))

    def close(self) -> None:
        """Unsubscribe from the bus and stop the timer (idempotent)."""
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None
        self._timer.stop()
