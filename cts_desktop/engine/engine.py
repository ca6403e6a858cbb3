"""The replay engine: one connection's paper replay of recorded candles, on the asyncio loop
(qasync runs it inside Qt).

The states and commands are :class:`~cts_desktop.engine.lifecycle.EngineLifecycle`'s.
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
import itertools
import json
import logging
import time
from pathlib import Path
from typing import TYPE_CHECKING, Iterator, Optional, Tuple

from ..core import events as ev
from ..core.accounting import Portfolio
from ..core.models import Candle
from ..core.risk import RiskLimits
from ..store.recorder import Recorder
from ..store.settings import SPEEDS, ConnectionConfig
from . import priority
from .bus import EventBus
from .core import TradingCore
from .gc_pause import freeze_old_objects, refreeze, unfreeze
from .lifecycle import EngineError, EngineLifecycle, format_summary
from .strategies import build_strategies, strategies_from_specs

if TYPE_CHECKING:
    from ..exchange.replay import ReplaySource

__all__ = ["TradeEngine", "EngineError", "format_summary", "SLICE_S"]

Stream = Iterator[Tuple[str, Candle]]  # (symbol, candle), in time order

log = logging.getLogger(__name__)

SLICE_S = 0.005  # longest stretch of candle processing before yielding to the loop (s)


async def _yield_to_loop() -> None:
    """Give the loop a full turn. Twice ``sleep(0)``: a timer that fell due while we were working
    is moved to the ready queue behind our own wake-up, so one bare ``sleep(0)`` would run another
    slice before it; the second turn lets it (and the Qt events qasync dispatches) go first."""
    await asyncio.sleep(0)
    await asyncio.sleep(0)


class TradeEngine(EngineLifecycle):
    """Runs one connection's paper replay. ``recorder`` may be None (nothing is stored).

    ``data_dir`` overrides where the replay's candle files are read from (tests use it to point
    at a corrupt file). A replay stops at the end of its data; headless ``--duration`` uses wall
    time instead via :meth:`stop`.
    """

    def __init__(self, conn: ConnectionConfig, *, bus: Optional[EventBus] = None,
                 recorder: Optional[Recorder] = None, data_dir: Optional[Path] = None, mode: str = "paper-replay"):
        super().__init__(conn, bus=bus, recorder=recorder, mode=mode)
        self.data_dir = data_dir
        self.source: Optional[ReplaySource] = None
        self.speed = SPEEDS.get(conn.speed, 0.0)
        self.resume_after: Optional[int] = None  # ms: candles up to here only warm the strategies

    def set_speed(self, speed: str) -> None:
        """Change the replay speed (a key of :data:`SPEEDS`) while running."""
        super().set_speed(speed)
        self.speed = SPEEDS[speed]
        self.conn.speed = speed

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
        if self.recorder is not None and self.run_id is not None:  # killed runs: interrupted / resumed
            from .carryover import note_replay_start

            run_id, resumed = self.run_id, resume is not None
            self.reconciliation = await loop.run_in_executor(
                None, lambda: note_replay_start(conn.name, run_id, resumed=resumed, state=resume))
            if not self.reconciliation.empty():
                self.bus.publish(ev.ReconciliationResult(conn.name, 0, 0, self.reconciliation.detail()))
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
        stream: Stream = source.stream()
        if self.resume_after is not None:
            stream = await self._warm_up(core, stream, self.resume_after)
        freeze_old_objects()
        try:
            await self._replay(core, stream, source.total)
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
        except Exception as exc:  # noqa: BLE001 - whatever ends the run becomes the error state
            log.exception("engine %s failed", self.name)
            await self._fail(self._describe(exc))
        finally:
            unfreeze()

    async def _replay(self, core: TradingCore, stream: Stream, total: int) -> None:
        """Feed ``stream`` until it ends or a stop; raises when the strategies or the recorder failed."""
        pending: Optional[Tuple[str, Candle]] = None  # a candle read but not yet processed (real-time pacing)
        while True:
            if not self._resume.is_set():
                await self._resume.wait()
            if self._stop_requested:
                return
            if core.failed_reason:
                raise _StrategiesFailed(core.failed_reason)
            if self.recorder is not None and self.recorder.error is not None:
                raise self.recorder.error
            if self.speed <= 0:  # as fast as possible, in time slices
                deadline = time.perf_counter() + priority.slice_s(SLICE_S)  # shorter while a live engine runs
                if pending is not None:
                    core.on_candle(*pending)
                    pending = None
                finished = self._fast_slice(core, stream, deadline)
                self._progress(total)
                if finished:
                    return
                await _yield_to_loop()
                await priority.yield_to_live()
            else:  # paced: candles of one timestamp, then wait for the next
                ts, pending = self._paced_step(core, stream, pending)
                if ts is None:
                    return
                self._progress(total)
                if pending is None:
                    return
                await self._wait_for_next(pending[1][0] - ts)

    def _fast_slice(self, core: TradingCore, stream: Stream, deadline: float) -> bool:
        """Candles until ``deadline`` (perf_counter s), a strategy failure or a stop; True when
        the stream is exhausted."""
        on_candle = core.on_candle
        perf = time.perf_counter
        every = 16 if priority.live_running() else 64  # candles between two looks at the clock
        n = 0
        for item in stream:
            on_candle(item[0], item[1])
            n += 1
            if n >= every:
                n = 0
                if perf() >= deadline or core.failed_reason or self._stop_requested:
                    return False
        return True

    @staticmethod
    def _paced_step(core: TradingCore, stream: Stream, pending: Optional[Tuple[str, Candle]]
                    ) -> Tuple[Optional[int], Optional[Tuple[str, Candle]]]:
        """The candles of one timestamp (starting with ``pending``): ``(that timestamp, the first
        candle of the next one)``; ``(None, None)`` when the stream had nothing left."""
        if pending is None:
            pending = next(stream, None)
            if pending is None:
                return None, None
        ts = pending[1][0]
        core.on_candle(*pending)
        for item in stream:
            if item[1][0] != ts:
                return ts, item
            core.on_candle(item[0], item[1])
        return ts, None

    @staticmethod
    async def _warm_up(core: TradingCore, stream: Stream, until_ts: int) -> Stream:
        """Feed the candles up to ``until_ts`` to the strategies only (in slices); return the
        stream positioned at the first candle to trade."""
        warm = core.warm
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
        refreeze()
        super()._progress(total)


class _StrategiesFailed(Exception):
    pass
