"""The life cycle every engine shares: its states, its commands, how a run ends.

States::

    idle -> initializing -> running <-> paused
                               |            |
                               v            v
                            stopping -> stopped          (any state) -> error (with its reason)

:class:`EngineLifecycle` holds the state machine and the commands (``start``, ``stop``,
``pause``, ``resume``, ``wait``), the run's end (summary, last records, flush) and its log. The
replay engine (:mod:`.engine`) and the exchange engine (:mod:`.live`) derive from it and supply
only ``_initialize`` (load data, create the run and the :class:`~.core.TradingCore`) and
``_run`` (feed candles until stopped). A failure of either becomes the ``error`` state with a
human reason; the app around the engine stays up in every case.
"""
from __future__ import annotations

import asyncio
import logging
import time
from typing import Any, Dict, Optional, Protocol

from ..core import events as ev
from ..store.recorder import Recorder
from ..store.settings import SPEEDS, ConnectionConfig
from .bus import EventBus
from .core import TradingCore

log = logging.getLogger(__name__)


class LogFn(Protocol):
    """Writes one line of the run's activity log (``level``: info, warning, error)."""

    def __call__(self, category: str, message: str, level: str = "info") -> None: ...


class EngineError(Exception):
    """A command that the engine's current state does not allow, or a failed start."""


def describe_error(exc: BaseException) -> str:
    """A human reason for ``exc``: its message (a KeyError's without the quotes), else its type."""
    text = str(exc) or type(exc).__name__
    if isinstance(exc, KeyError) and exc.args:
        text = str(exc.args[0])
    return text


class EngineLifecycle:
    """State machine and commands of one connection's engine (see the module docstring).

    ``recorder`` may be None (nothing is stored). ``mode`` names the run kind in the database
    (``"paper-replay"``, ``"paper"``, ``"live"``).
    """

    def __init__(self, conn: ConnectionConfig, *, bus: Optional[EventBus] = None,
                 recorder: Optional[Recorder] = None, mode: str):
        self.conn = conn
        self.name = conn.name
        self.bus = bus or EventBus()
        self.recorder = recorder
        self.mode = mode
        self.state = ev.IDLE
        self.reason = ""
        self.start_error: Optional[BaseException] = None  # why the last start() failed (exit codes, dialogs)
        self.core: Optional[TradingCore] = None
        self.run_id: Optional[int] = None
        self._task: Optional[asyncio.Task[None]] = None
        self._resume = asyncio.Event()
        self._resume.set()
        self._stop_requested = False
        self._stop_reason = "stopped"
        self.started_wall: Optional[float] = None
        self.last_update_wall: Optional[float] = None

    # -- what a concrete engine supplies ---------------------------------------------------------
    async def _initialize(self) -> None:
        """Load what the run needs and create ``core``; raise to fail the start."""
        raise NotImplementedError

    async def _run(self) -> None:
        """Feed candles until stopped; end with :meth:`_finish` or :meth:`_fail`."""
        raise NotImplementedError

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
        """Hold the run; orders and positions stay as they are. Raises :class:`EngineError`."""
        if self.state != ev.RUNNING:
            raise EngineError(f"{self.name}: can only pause a running engine (it is {self.state})")
        self._resume.clear()
        self._set_state(ev.PAUSED)
        self._log(ev.CAT_ENGINE, "paused")

    def resume(self) -> None:
        """Continue a paused run. Raises :class:`EngineError`."""
        if self.state != ev.PAUSED:
            raise EngineError(f"{self.name}: can only resume a paused engine (it is {self.state})")
        self._set_state(ev.RUNNING)
        self._log(ev.CAT_ENGINE, "resumed")
        self._resume.set()

    def set_speed(self, speed: str) -> None:
        """Check ``speed`` (a key of :data:`SPEEDS`; raises :class:`EngineError` otherwise). An
        engine that runs in real time ignores it; the replay engine applies it."""
        if speed not in SPEEDS:
            raise EngineError(f"unknown speed {speed!r}; choose one of {', '.join(SPEEDS)}")

    async def wait(self) -> None:
        """Until the run task ends (stopped, finished or error)."""
        if self._task is not None:
            await asyncio.shield(self._task)

    @property
    def active(self) -> bool:
        return self.state in (ev.INITIALIZING, ev.RUNNING, ev.PAUSED, ev.STOPPING)

    # -- progress and the end of a run ------------------------------------------------------------
    def _progress(self, total: int) -> None:
        """A commit point after a slice of candles: records, how far the run got, a progress event."""
        core = self.core
        assert core is not None
        self.last_update_wall = time.time()
        if self.recorder is not None and self.run_id is not None and core.last_ts:
            # A commit point: the slice's records and how far it got, in one batch.
            self.recorder.progress(self.run_id, core.last_ts)
            self.recorder.flush()
        if self.bus.has_subscribers:
            self.bus.publish(ev.ProgressEvent(self.name, core.candles_seen, total, core.last_ts))

    async def _finish(self, state: str, reason: str) -> None:
        core = self.core
        summary = self.summary()
        if core is not None:
            core.stop()
            if self.bus.has_subscribers:
                core.publish_snapshot()
            self._log(ev.CAT_ENGINE, f"{reason}: " + format_summary(summary))
        if self.recorder is not None and self.run_id is not None:
            self.recorder.end_run(self.run_id, state, reason, summary)
            try:
                await asyncio.wrap_future(self.recorder.flush())
            except Exception as exc:  # noqa: BLE001 - whatever the database raised is the reason
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
            except Exception:  # noqa: BLE001 - a strategy's on_stop; the first error is the one reported
                log.exception("stopping the core after an error failed")
        if self.recorder is not None and self.run_id is not None:
            self.recorder.end_run(self.run_id, "error", reason, self.summary())
            try:
                await asyncio.wrap_future(self.recorder.flush())
            except Exception:  # noqa: BLE001 - the engine error is what must be reported
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

    _describe = staticmethod(describe_error)

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


def format_summary(s: Dict[str, Any]) -> str:
    """One human line of a run summary."""
    if not s:
        return "no data processed"
    wr = "-" if s.get("win_rate") is None else f"{s['win_rate']:.1%}"
    cur = s.get("currency", "")
    return (f"{s['candles']} candles, {s['trades']} trades, total P&L {s['total_pnl']:+.8g} {cur} "
            f"(fees {s['fees']:.8g}), win rate {wr}, max drawdown {s['max_drawdown']:.2%}, "
            f"equity at end {s['equity']:.8g} {cur}")
