"""The trade engine of one connection, on the asyncio loop (qasync runs it inside Qt).

States::

    idle -> initializing -> running <-> paused
                               |            |
                               v            v
                            stopping -> stopped          (any state) -> error (with its reason)

``start()`` loads the data and the strategy off the loop (file reads run in a worker thread),
creates the run record and begins replaying. A replay that reaches the end of its data stops
the engine cleanly (reason "end of data"). A strategy exception stops that strategy with its
traceback in the log; when no strategy is left the engine goes to ``error`` with the reason.
The app around it stays up in every case.

This module never imports Qt and never blocks the loop: candles are processed in slices of at
most :data:`SLICE_S` seconds of wall time, then the loop gets control back.
"""
from __future__ import annotations

import asyncio
import gc
import json
import logging
import time
from typing import Any, Dict, List, Optional

from ..core import events as ev
from ..core.accounting import Portfolio
from ..core.risk import RiskLimits
from ..store.settings import SPEEDS, ConnectionConfig
from . import strategies as strategy_registry
from .bus import EventBus
from .core import TradingCore

log = logging.getLogger(__name__)

SLICE_S = 0.005  # longest stretch of candle processing before yielding to the loop (s)


async def _yield_to_loop() -> None:
    """Give the loop a full turn. Twice ``sleep(0)``: a timer that fell due while we were working
    is moved to the ready queue behind our own wake-up, so one bare ``sleep(0)`` would run another
    slice before it; the second turn lets it (and the Qt events qasync dispatches) go first."""
    await asyncio.sleep(0)
    await asyncio.sleep(0)


_frozen_runs = 0  # replays running with the garbage collector's old objects frozen


def _freeze_old_objects() -> None:
    """Move every object alive now (the loaded candles, the app) out of the collector's reach for
    the run: a full collection then walks only what the run allocates, instead of pausing the
    loop for tens of milliseconds over the whole heap. O(1); undone by :func:`_unfreeze`."""
    global _frozen_runs
    _frozen_runs += 1
    gc.freeze()


_last_refreeze = 0.0
REFREEZE_S = 1.0


def _refreeze() -> None:
    """During a run, freeze what survived since the last freeze, at most once a second: the
    run's own long-lived objects (positions, log events, curve points) then never make a full
    collection walk them either (measured: 26-46 ms gen-2 pauses on the loop's thread while a GUI
    watched a max-speed replay). Cyclic garbage made during the run waits for the run's end."""
    global _last_refreeze
    if _frozen_runs > 0:
        now = time.monotonic()
        if now - _last_refreeze >= REFREEZE_S:
            _last_refreeze = now
            gc.freeze()


def _unfreeze() -> None:
    global _frozen_runs
    _frozen_runs -= 1
    if _frozen_runs <= 0:
        _frozen_runs = 0
        gc.unfreeze()  # back to the oldest generation: collected normally from now on


class EngineError(Exception):
    """A command that the engine's current state does not allow, or a failed start."""


def build_strategies(conn: ConnectionConfig) -> list:
    """The connection's strategy instances, each with ``symbols`` (a set, or None for all);
    raises ``KeyError``/``ParamError`` naming the strategy and field."""
    return strategies_from_specs(conn.strategy_specs())


def strategies_from_specs(specs: List[dict]) -> list:
    out = []
    for spec in specs:
        inst = strategy_registry.get(spec["strategy"])(dict(spec.get("params", {})))
        inst.symbols = set(spec["symbols"]) if spec.get("symbols") else None
        out.append(inst)
    return out


class TradeEngine:
    """Runs one connection's paper replay. ``recorder`` may be None (nothing is stored).

    ``data_dir`` overrides where the replay's candle files are read from (tests use it to point
    at a corrupt file). ``max_candles`` stops the replay early (tests, headless ``--duration``
    uses wall time instead via :meth:`stop`).
    """

    def __init__(self, conn: ConnectionConfig, *, bus: Optional[EventBus] = None, recorder=None,
                 data_dir=None, mode: str = "paper-replay"):
        self.conn = conn
        self.name = conn.name
        self.bus = bus or EventBus()
        self.recorder = recorder
        self.data_dir = data_dir
        self.mode = mode
        self.state = ev.IDLE
        self.reason = ""
        self.core: Optional[TradingCore] = None
        self.source = None
        self.run_id: Optional[int] = None
        self._task: Optional[asyncio.Task] = None
        self._resume = asyncio.Event()
        self._resume.set()
        self._stop_requested = False
        self.speed = SPEEDS.get(conn.speed, 0.0)
        self.started_wall: Optional[float] = None
        self.last_update_wall: Optional[float] = None
        self._stop_reason = "stopped"
        self.resume_after: Optional[int] = None  # ms: candles up to here only warm the strategies
        self.start_error: Optional[BaseException] = None  # why the last start() failed (exit codes, dialogs)

    # -- commands -----------------------------------------------------------------------------
    async def start(self) -> None:
        """Initialize and begin the run. Returns once running (or in error: see ``reason``).

        Raises :class:`EngineError` when the engine is already active.
        """
        if self.state in (ev.INITIALIZING, ev.RUNNING, ev.PAUSED, ev.STOPPING):
            raise EngineError(f"{self.name}: engine is already {self.state}")
        self._stop_requested = False
        self.start_error = None
        self._resume.set()
        self._set_state(ev.INITIALIZING)
        try:
            await self._initialize()
        except Exception as exc:  # noqa: BLE001 - any start failure becomes the error state
            self.start_error = exc
            await self._fail(self._describe(exc))
            return
        self._set_state(ev.RUNNING)
        self._task = asyncio.get_running_loop().create_task(self._run(), name=f"engine:{self.name}")

    async def stop(self, reason: str = "stopped by user") -> None:
        """Stop the run (from running or paused) and wait until it has stopped."""
        if self.state not in (ev.RUNNING, ev.PAUSED, ev.INITIALIZING):
            return
        self._stop_requested = True
        self._stop_reason = reason
        self._resume.set()
        if self._task is not None:
            await asyncio.shield(self._task)

    def pause(self) -> None:
        """Hold the replay; orders and positions stay as they are. Raises :class:`EngineError`."""
        if self.state != ev.RUNNING:
            raise EngineError(f"{self.name}: can only pause a running engine (it is {self.state})")
        self._resume.clear()
        self._set_state(ev.PAUSED)
        self._log(ev.CAT_ENGINE, "paused")

    def resume(self) -> None:
        """Continue a paused replay. Raises :class:`EngineError`."""
        if self.state != ev.PAUSED:
            raise EngineError(f"{self.name}: can only resume a paused engine (it is {self.state})")
        self._set_state(ev.RUNNING)
        self._log(ev.CAT_ENGINE, "resumed")
        self._resume.set()

    def set_speed(self, speed: str) -> None:
        """Change the replay speed (a key of :data:`SPEEDS`) while running."""
        if speed not in SPEEDS:
            raise EngineError(f"unknown speed {speed!r}; choose one of {', '.join(SPEEDS)}")
        self.speed = SPEEDS[speed]
        self.conn.speed = speed

    async def wait(self) -> None:
        """Until the run task ends (stopped, finished or error)."""
        if self._task is not None:
            await asyncio.shield(self._task)

    @property
    def active(self) -> bool:
        return self.state in (ev.INITIALIZING, ev.RUNNING, ev.PAUSED, ev.STOPPING)

    # -- internals ----------------------------------------------------------------------------
    async def _initialize(self) -> None:
        from ..exchange.replay import ReplaySource, get_dataset

        conn = self.conn
        if not conn.is_paper_replay:
            raise EngineError(f"{conn.name}: exchange {conn.exchange!r} needs the exchange gateway, "
                              "which this engine does not drive yet")
        strategies = build_strategies(conn)  # validates parameters first: cheap and the likeliest error
        limits = RiskLimits(**conn.risk)
        dataset = get_dataset(conn.dataset)
        loop = asyncio.get_running_loop()
        source = await loop.run_in_executor(None, ReplaySource, dataset, self.data_dir)
        quote_per_usd = await loop.run_in_executor(None, source.quote_per_usd)
        self.source = source
        balance = conn.starting_balance * quote_per_usd
        resume = None
        if self.recorder is not None:
            from ..store import repositories as repo

            run = await loop.run_in_executor(None, repo.unfinished_run, conn.name, self.mode, dataset.key)
            if run is not None:
                # The app stopped under this run: carry it on with its own parameters.
                saved = json.loads(run.params)
                specs = saved["strategies"] if "strategies" in saved else [{"strategy": run.strategy, "params": saved}]
                strategies = strategies_from_specs(specs)
                balance = run.starting_balance
                resume = await loop.run_in_executor(None, repo.resume_state, run.id)
                self.run_id = run.id
                self.resume_after = run.last_candle_ts
            else:
                self.run_id = await asyncio.wrap_future(self.recorder.begin_run_future(
                    conn.name, self.mode, dataset=dataset.key, strategy="+".join(x.name for x in strategies),
                    params={"strategies": [{"strategy": x.name, "params": x.p, "symbols": sorted(x.symbols or [])}
                                           for x in strategies]},
                    currency=source.quote, starting_balance=balance))
        fee = conn.fee
        self.core = TradingCore(
            conn.name, source.markets, strategies, portfolio=Portfolio(balance, source.quote), limits=limits,
            data_timeframe_ms=source.timeframe_ms, default_size=strategies[0].p.get("size", 0.2), fee=fee,
            bus=self.bus, recorder=self.recorder, run_id=self.run_id,
        )
        if resume is not None:
            self.core.restore(resume)
            self._log(ev.CAT_ENGINE, f"resuming run #{self.run_id} after an unclean stop: "
                                     f"{len(resume['open_orders'])} order(s) in flight, "
                                     f"{sum(1 for p in resume['positions'] if p.closed_at is None)} open position(s), "
                                     f"{resume['fills']} fill(s) kept; replay continues after candle "
                                     f"{self.resume_after}", "warning")
        for w in source.warnings[:5]:
            self._log(ev.CAT_ENGINE, f"data: {w}", "warning")
        if resume is None:
            self._log(ev.CAT_ENGINE, f"started run #{self.run_id or '-'}: {dataset.title}, strategy "
                                     f"{'; '.join(f'{x.name} {x.p}' for x in strategies)}, balance {balance:.8g} {source.quote}, speed {conn.speed}")
        self.core.start()
        self.started_wall = time.time()

    async def _run(self) -> None:
        core, source = self.core, self.source
        assert core is not None and source is not None
        total = source.total
        stream = source.stream()
        on_candle = core.on_candle
        if self.resume_after is not None:
            stream = await self._warm_up(stream, self.resume_after)
        perf = time.perf_counter
        pending = None  # a candle read but not yet processed (real-time pacing)
        _freeze_old_objects()
        try:
            while True:
                if not self._resume.is_set():
                    await self._resume.wait()
                if self._stop_requested:
                    break
                if core.failed_reason:
                    raise _StrategiesFailed(core.failed_reason)
                if self.recorder is not None and self.recorder.error is not None:
                    raise self.recorder.error
                speed = self.speed
                deadline = perf() + SLICE_S
                finished = False
                if speed <= 0:  # as fast as possible, in time slices
                    if pending is not None:
                        on_candle(*pending)
                        pending = None
                    n = 0
                    for item in stream:
                        on_candle(item[0], item[1])
                        n += 1
                        if n >= 64:
                            n = 0
                            if perf() >= deadline or core.failed_reason or self._stop_requested:
                                break
                    else:
                        finished = True
                    self._progress(total)
                    if finished:
                        break
                    await _yield_to_loop()
                else:  # paced: candles of one timestamp, then wait for the next
                    if pending is None:
                        pending = next(stream, None)
                        if pending is None:
                            break
                    ts = pending[1][0]
                    on_candle(*pending)
                    pending = None
                    for item in stream:
                        if item[1][0] != ts:
                            pending = item
                            break
                        on_candle(item[0], item[1])
                    self._progress(total)
                    if pending is None:
                        break
                    await self._wait_for_next(pending[1][0] - ts)
            if core.failed_reason:
                raise _StrategiesFailed(core.failed_reason)
            reason = self._stop_reason if self._stop_requested else "end of data"
            self._set_state(ev.STOPPING, reason)
            await self._finish("stopped", reason)
        except asyncio.CancelledError:
            await self._finish("stopped", "cancelled")
            raise
        except _StrategiesFailed as exc:
            await self._fail(str(exc))
        except Exception as exc:  # noqa: BLE001
            log.exception("engine %s failed", self.name)
            await self._fail(self._describe(exc))
        finally:
            _unfreeze()

    async def _warm_up(self, stream, until_ts: int):
        """Feed the candles up to ``until_ts`` to the strategies only (in slices); return the
        stream positioned at the first candle to trade."""
        warm = self.core.warm
        perf = time.perf_counter
        deadline = perf() + SLICE_S
        first = None
        for symbol, candle in stream:
            if candle[0] > until_ts:
                first = (symbol, candle)
                break
            warm(symbol, candle)
            if perf() >= deadline:
                await asyncio.sleep(0)
                deadline = perf() + SLICE_S
        if first is None:
            return iter(())
        import itertools
        return itertools.chain([first], stream)

    async def _wait_for_next(self, delta_ms: int) -> None:
        """Wait the replay time to the next candle, ``delta_ms`` of market time at the current
        speed; a speed change applies at once, a pause holds the clock, a stop ends the wait."""
        waited = 0.0
        while not self._stop_requested:
            if not self._resume.is_set():
                await self._resume.wait()
                continue
            speed = self.speed
            if speed <= 0:
                return
            need = delta_ms / 1000.0 / speed
            if waited >= need:
                return
            t0 = time.monotonic()
            await asyncio.sleep(min(need - waited, 0.05))
            waited += time.monotonic() - t0

    def _progress(self, total: int) -> None:
        _refreeze()
        core = self.core
        self.last_update_wall = time.time()
        if self.recorder is not None and self.run_id is not None and core.last_ts:
            # A commit point: the slice's records and how far it got, in one batch.
            self.recorder.progress(self.run_id, core.last_ts)
            self.recorder.flush()
        if self.bus._handlers:
            self.bus.publish(ev.ProgressEvent(self.name, core.candles_seen, total, core.last_ts))

    async def _finish(self, state: str, reason: str) -> None:
        core = self.core
        summary = self.summary()
        if core is not None:
            core.stop()
            if self.bus._handlers:
                core.publish_snapshot()
            self._log(ev.CAT_ENGINE, f"{reason}: " + format_summary(summary))
        if self.recorder is not None and self.run_id is not None:
            self.recorder.end_run(self.run_id, state, reason, summary)
            try:
                await asyncio.wrap_future(self.recorder.flush())
            except Exception as exc:  # noqa: BLE001
                self.state = ev.ERROR
                self.reason = f"could not save the run: {exc}"
                self.bus.publish(ev.EngineStateChanged(self.name, ev.ERROR, self.reason, self.run_id))
                return
        self._set_state(ev.STOPPED, reason)

    async def _fail(self, reason: str) -> None:
        self.reason = reason
        self._log(ev.CAT_ERROR, f"engine error: {reason}", "error")
        if self.core is not None:
            try:
                self.core.stop()
            except Exception:  # noqa: BLE001
                log.exception("stopping the core after an error failed")
        if self.recorder is not None and self.run_id is not None:
            self.recorder.end_run(self.run_id, "error", reason, self.summary())
            try:
                await asyncio.wrap_future(self.recorder.flush())
            except Exception:  # noqa: BLE001
                log.exception("flushing after an engine error failed")
        self._set_state(ev.ERROR, reason)

    def _set_state(self, state: str, reason: str = "") -> None:
        self.state = state
        if reason or state in (ev.RUNNING, ev.INITIALIZING):
            self.reason = reason
        self.bus.publish(ev.EngineStateChanged(self.name, state, reason, self.run_id))

    def _log(self, category: str, message: str, level: str = "info") -> None:
        if self.core is not None:
            self.core.log(category, message, level)
            return
        wall = time.time()
        if self.recorder is not None:
            self.recorder.event(self.run_id, self.name, 0, category, level, message, wall)
        self.bus.publish(ev.LogEvent(self.name, 0, category, message, level, wall))

    @staticmethod
    def _describe(exc: BaseException) -> str:
        text = str(exc) or type(exc).__name__
        if isinstance(exc, KeyError) and exc.args:
            text = str(exc.args[0])
        return text

    def summary(self) -> Dict[str, Any]:
        """Run figures: trades, P&L (quote), win rate and max drawdown (fractions), equity at end."""
        core = self.core
        if core is None:
            return {}
        s = core.snapshot()
        return {
            "connection": self.name, "run_id": self.run_id, "currency": s.currency,
            "candles": core.candles_seen, "trades": s.trades, "orders": len(core.orders), "fills": len(core.fills),
            "starting_balance": core.portfolio.starting_balance, "balance": s.balance, "equity": s.equity,
            "realized_pnl": s.realized_pnl, "unrealized_pnl": s.unrealized_pnl, "fees": s.fees,
            "total_pnl": s.total_pnl, "win_rate": s.win_rate, "max_drawdown": s.max_drawdown,
            "open_positions": s.open_positions, "last_candle_ts": s.timestamp,
        }


class _StrategiesFailed(Exception):
    pass


def format_summary(s: Dict[str, Any]) -> str:
    """One human line of a run summary."""
    if not s:
        return "no data processed"
    wr = "-" if s.get("win_rate") is None else f"{s['win_rate']:.1%}"
    cur = s.get("currency", "")
    return (f"{s['candles']} candles, {s['trades']} trades, total P&L {s['total_pnl']:+.8g} {cur} "
            f"(fees {s['fees']:.8g}), win rate {wr}, max drawdown {s['max_drawdown']:.2%}, "
            f"equity at end {s['equity']:.8g} {cur}")
