"""Application services: what the UI and the headless runner use, and nothing below it.

One :class:`AppServices` per process wires the store (settings file, trade database, recorder)
to one engine per connection (:class:`~cts_desktop.engine.engine.TradeEngine` or
:class:`~cts_desktop.engine.live.ExchangeEngine`) and the event bus the
engines publish on. The UI calls these methods (engine commands are coroutines, run on the
qasync loop) and listens to :attr:`bus` through ``ui/bridge.py``; it never reaches an exchange.
"""
from __future__ import annotations

import functools
import logging
from array import array
from pathlib import Path
from typing import TYPE_CHECKING, Any, Dict, List, Optional, Tuple

from ..core.events import LogEvent
from ..core.models import Position
from ..engine.backtest import BacktestResult
from ..engine.bus import EventBus
from ..engine import priority
from ..engine.engine import TradeEngine
from ..engine.lifecycle import EngineLifecycle
from ..store import repositories as repo
from ..store.db import Run, open_database
from ..store.installation import order_id_prefix
from ..store.recorder import Recorder
from ..store.settings import ConnectionConfig, SettingsStore
from ..store.stop_rows import end_leftover_stops
from .app_settings import AppSettingsService
from .formatting import fmt_time
from .reconciliation import ReconciliationReview, latest_review

if TYPE_CHECKING:
    from .market import MarketService

log = logging.getLogger(__name__)


class AppServices:
    """Opens the settings and the database; raises ``SettingsError``/``StoreError`` with a clear
    message when either is unusable (unwritable directory, corrupt file, newer schema)."""

    def __init__(self, data_dir: Path, config_dir: Path):
        self.data_dir = Path(data_dir)
        self.config_dir = Path(config_dir)
        self.settings = SettingsStore(self.config_dir).load()
        self.app_settings = AppSettingsService(self.config_dir)  # preferences (settings.json)
        self.app_settings.subscribe(self._app_settings_changed)
        self.db = open_database(self.data_dir)
        self.bus = EventBus()
        self.recorder = Recorder(self.db, batched=True)
        self.recorder.hold = priority.live_busy  # replays' commits wait while a live order is committed and sent
        # one recorder (writer thread, SQLite connection) per exchange connection: a live order row
        # is committed before sending without queueing behind a replay's records
        self.lanes: Dict[str, Recorder] = {}
        self.engines: Dict[str, EngineLifecycle] = {}
        self.replay_data_dir: Optional[Path] = None  # tests point replays at other candle files

    # -- connections ----------------------------------------------------------------------------
    def connections(self) -> List[ConnectionConfig]:
        return list(self.settings.connections.values())

    def connection(self, name: str) -> ConnectionConfig:
        """Raises ``KeyError`` naming the known connections."""
        return self.settings.get(name)

    def save_connection(self, conn: ConnectionConfig) -> None:
        self.settings.put(conn)

    def prefetch(self, name: str) -> None:
        """Load a replay connection's candles into memory on a background thread, so that its
        Start does not parse files while the window is being watched. No-op for other
        connections; errors are left for the engine's start to report."""
        import threading

        from ..exchange import replay

        conn = self.settings.connections.get(name)
        if conn is None or not conn.is_paper_replay:
            return
        threading.Thread(target=replay.prefetch, args=(conn.dataset, self.replay_data_dir),
                         name="cts-prefetch", daemon=True).start()

    # -- engines --------------------------------------------------------------------------------
    def engine(self, name: str) -> EngineLifecycle:
        """The engine of connection ``name`` (created idle on first use)."""
        eng = self.engines.get(name)
        if eng is None or (not eng.active and eng.conn is not self.settings.connections.get(name)):
            eng = self._new_engine(name)
            self.engines[name] = eng
        return eng

    def _new_engine(self, name: str) -> EngineLifecycle:
        """A TradeEngine for paper replays, an ExchangeEngine for a ccxt exchange (paper or live;
        in live mode it reads the credentials from the OS keyring when it starts)."""
        conn = self.connection(name)
        if conn.is_paper_replay:
            return TradeEngine(conn, bus=self.bus, recorder=self.recorder, data_dir=self.replay_data_dir)
        from ..engine.live import ExchangeEngine

        lane = self.lanes.get(name) or self.lanes.setdefault(name, Recorder(self.db, batched=True))
        return ExchangeEngine(conn, bus=self.bus, recorder=lane, poll_interval=self.app_settings.poll_interval(),
                              order_prefix=order_id_prefix(self.data_dir, self.config_dir))

    def _app_settings_changed(self, _values: dict, changed: List[str]) -> None:
        """A new REST polling interval reaches running exchange engines (used from their next poll)."""
        if "poll_interval_s" in changed:
            for eng in self.engines.values():
                if hasattr(eng, "poll_interval"):
                    eng.poll_interval = self.app_settings.poll_interval()

    def engine_state(self, name: str) -> str:
        eng = self.engines.get(name)
        return eng.state if eng is not None else "idle"

    def feed_status(self, name: str) -> str:
        """What a running exchange engine (paper or live on real market data) is doing, in words:
        where its candles come from, how many it has traded on, the last closed candle and when
        the next decision falls (a candle's close, UTC). Empty for replays and idle engines."""
        eng = self.engines.get(name)
        tf_ms = getattr(eng, "tf_ms", 0)
        core = getattr(eng, "core", None)
        if eng is None or not tf_ms or core is None:
            return ""
        conn = self.connection(name)
        where = f"{conn.exchange}{' testnet' if conn.testnet else ''}, {getattr(eng, 'data_source', 'rest')}"
        n = core.candles_seen
        text = f"{'LIVE' if conn.live else 'Paper'} on {where} market data  ·  {n:,} candle{'' if n == 1 else 's'}"
        if core.last_ts:
            nxt = core.last_ts + 2 * tf_ms  # the candle after the last closed one closes then
            text += (f"  ·  last candle {fmt_time(core.last_ts)} UTC  ·  next decision at "
                     f"{fmt_time(nxt)[-5:]} UTC")
        return text

    async def start_engine(self, name: str) -> EngineLifecycle:
        """Start (or restart after a stop/error) the engine of ``name``; returns it once running
        or in error (see ``engine.reason``)."""
        eng = self.engine(name)
        if not eng.active and eng.state != "idle":
            eng = self._new_engine(name)
            self.engines[name] = eng
        if not eng.active:  # stops from the ticket a crashed run left open: canceled, with the reason
            end_leftover_stops(name)
        await eng.start()
        return eng

    async def stop_engine(self, name: str) -> None:
        eng = self.engines.get(name)
        if eng is not None:
            await eng.stop()

    def pause_engine(self, name: str) -> None:
        self.engine(name).pause()

    def resume_engine(self, name: str) -> None:
        self.engine(name).resume()

    def set_speed(self, name: str, speed: str) -> None:
        conn = self.connection(name)
        eng = self.engines.get(name)
        if eng is not None and eng.active:
            eng.set_speed(speed)
        conn.speed = speed
        self.settings.save()

    async def stop_all(self, reason: str = "app closing") -> None:
        """Stop every engine (``reason`` is logged as why); open positions stay as they are."""
        for eng in list(self.engines.values()):
            await eng.stop(reason)
        market = self.__dict__.get("market")
        if market is not None:
            await market.close()  # the Market tab's public gateways

    @functools.cached_property
    def market(self) -> "MarketService":
        """The Market tab's chart history, overlays, watchlists and order books (made on first use)."""
        from .market import MarketService

        return MarketService(self)

    # -- history (reads) ------------------------------------------------------------------------
    def open_positions(self, name: str) -> List[Position]:
        eng = self.engines.get(name)
        if eng is not None and eng.core is not None:
            return list(eng.core.portfolio.open.values())
        return repo.open_positions(name)

    def closed_positions(self, name: str, limit: int = 5000) -> List[Position]:
        return repo.closed_positions(name, limit)

    def events(self, name: str, limit: int = 5000) -> List[LogEvent]:
        return repo.events(name, limit)

    def latest_run(self, name: str) -> Optional[Run]:
        return repo.latest_run(name)

    def reconciliation_review(self, name: str, run_id: Optional[int] = None) -> Optional[ReconciliationReview]:
        """What the start of run ``run_id`` (default: the latest) reconciled, or None (:mod:`.reconciliation`)."""
        return latest_review(name, run_id)

    def equity_curve(self, name: str) -> List[Tuple[int, float]]:
        """The equity curve of the running engine, or of the latest run in the database."""
        eng = self.engines.get(name)
        if eng is not None and eng.core is not None:
            return list(eng.core.curve)
        run = repo.latest_run(name)
        return repo.equity_curve(run.id) if run is not None else []

    def equity_columns(self, name: str) -> Tuple[array, array]:
        """:meth:`equity_curve` as two columns, ``(timestamps_ms, equity)`` (``array('q')`` /
        ``array('d')``, quote): what the equity chart loads, without a tuple per point."""
        eng = self.engines.get(name)
        if eng is not None and eng.core is not None:
            curve = eng.core.curve
            return array("q", [p[0] for p in curve]), array("d", [p[1] for p in curve])
        run = repo.latest_run(name)
        return repo.equity_columns(run.id) if run is not None else (array("q"), array("d"))

    def last_summary(self, name: str) -> Dict[str, Any]:
        eng = self.engines.get(name)
        if eng is not None and eng.core is not None:
            return eng.summary()
        run = repo.latest_run(name)
        return repo.run_summary(run) if run is not None else {}

    def replay_span(self, name: str) -> Optional[Tuple[int, int]]:
        """``(first, last)`` candle open times (ms) of the running replay of ``name``, or None
        (not a replay, or not started): the chart fixes its time axis to it."""
        eng = self.engines.get(name)
        source = getattr(eng, "source", None) if eng is not None else None
        if source is None or not getattr(source, "series", None):
            return None
        return (min(s.start for s in source.series.values()), max(s.end for s in source.series.values()))

    def run_result(self, name: str) -> Optional[BacktestResult]:
        """The running engine's run (or the latest stored run of ``name``) as a
        :class:`~cts_desktop.engine.backtest.BacktestResult`, with its full analytics
        (:class:`~cts_desktop.core.metrics.Metrics`): what the Live Trading tab's analytics and
        exports show. None when the connection has no run yet."""
        from ..core.metrics import compute_metrics

        eng = self.engines.get(name)
        if eng is not None and eng.core is not None:
            core = eng.core
            pf = core.portfolio
            positions = list(pf.closed) + list(pf.open.values())
            curve = list(core.curve)
            return BacktestResult(
                run_id=eng.run_id, currency=pf.currency, starting_balance=pf.starting_balance,
                candles=core.candles_seen, elapsed_s=0.0,
                metrics=compute_metrics(positions, curve, pf.starting_balance, pf.unrealized_pnl),
                positions=positions, fills=list(core.fills), curve=curve, strategy_error=core.failed_reason)
        run = repo.latest_run(name)
        if run is None:
            return None
        positions = repo.run_positions(run.id)
        curve = repo.equity_curve(run.id)
        unrealized = sum(p.unrealized_pnl for p in positions if p.closed_at is None)
        summary = repo.run_summary(run)
        return BacktestResult(
            run_id=run.id, currency=run.currency, starting_balance=run.starting_balance,
            candles=int(summary.get("candles", len(curve))), elapsed_s=0.0,
            metrics=compute_metrics(positions, curve, run.starting_balance, unrealized),
            positions=positions, fills=[], curve=curve,
            strategy_error=run.reason if run.state == "error" else "")

    # -- shutdown -------------------------------------------------------------------------------
    def close(self) -> None:
        """Flush and close the database (after the engines have stopped)."""
        try:
            for lane in self.lanes.values():
                lane.close()
            self.recorder.close()
        finally:
            self.db.close()
