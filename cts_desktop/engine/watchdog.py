"""Strategy steps off the event loop, with a time budget, for the exchange engines.

A strategy's ``on_candle`` is plain synchronous Python: if it hangs (an endless loop, a blocking
call), nothing can interrupt it. On the asyncio thread that would freeze every engine, the GUI and
the kill switch. So an exchange engine calls the strategies of each candle
(:meth:`TradingCore.strategy_results`) on its own :class:`StepWorker` thread and awaits them on the
loop; the loop stays free, and everything that touches the account stays on it. A step that
outlives its budget is reported, the engine holds new entries (a late signal would act on an old
price) and stops feeding candles until it returns; the kill path runs on the loop and never waits
for it. The worker is a daemon thread, so a strategy that never returns cannot keep the process
from exiting.

What a strategy publishes through its context while it runs off the loop (a log line) is handed
to the loop thread (:class:`LoopBus`), so bus handlers (the GUI bridge, headless printing) keep
running on the loop. The recorded-replay hot path does not use any of this (no thread hop per candle).
"""
from __future__ import annotations

import asyncio
import queue
import threading
import time
from typing import Any, Callable, Optional, Tuple

from ..core import events as ev
from ..core.models import Candle
from .bus import EventBus, Handler
from .core import TradingCore

class _Outcome:
    """A job's result or exception, and when it is there (for :meth:`StepWorker.quick_result`)."""

    __slots__ = ("finished", "result", "exc")

    def __init__(self) -> None:
        self.finished = threading.Event()
        self.result: Any = None
        self.exc: Optional[BaseException] = None


Job = Tuple[Callable[..., Any], Tuple[Any, ...], "asyncio.Future[Any]", asyncio.AbstractEventLoop, _Outcome]


class LoopBus(EventBus):
    """An :class:`EventBus` front for ``bus`` that publishes on ``loop``'s thread: called from
    another thread, the event is queued to the loop (in order); on the loop, it goes at once."""

    __slots__ = ("bus", "loop", "loop_thread")

    def __init__(self, bus: EventBus, loop: asyncio.AbstractEventLoop) -> None:
        super().__init__()
        self.bus = bus
        self.loop = loop
        self.loop_thread = threading.get_ident()

    def subscribe(self, handler: Handler) -> Callable[[], None]:
        return self.bus.subscribe(handler)

    @property
    def has_subscribers(self) -> bool:
        return self.bus.has_subscribers

    def publish(self, event: Any) -> None:
        if threading.get_ident() == self.loop_thread:
            self.bus.publish(event)
        elif not self.loop.is_closed():
            self.loop.call_soon_threadsafe(self.bus.publish, event)


class StepWorker:
    """One daemon thread that runs steps one at a time (``name``: the thread's name)."""

    def __init__(self, name: str) -> None:
        self._jobs: "queue.SimpleQueue[Optional[Job]]" = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._work, name=name, daemon=True)
        self._thread.start()
        self.busy = False  # a step is running (or queued)
        self._last = _Outcome()  # the last job submitted

    def submit(self, fn: Callable[..., Any], *args: Any) -> "asyncio.Future[Any]":
        """Run ``fn(*args)`` on the worker; the future resolves on the calling loop. Until then
        :meth:`quick_result` can take the result at once, on the calling thread."""
        loop = asyncio.get_running_loop()
        fut: "asyncio.Future[Any]" = loop.create_future()
        self.busy = True
        self._last = _Outcome()
        self._jobs.put((fn, args, fut, loop, self._last))
        return fut

    def quick_result(self, fut: "asyncio.Future[Any]", wait_s: float) -> Tuple[bool, Any]:
        """Block the calling thread at most ``wait_s`` (s) for the job just submitted: ``(True, its
        result)`` when it finished (its exception raised here), else ``(False, None)``: await ``fut``.
        A quick strategy's answer so skips two turns of the loop (under qasync each is a Qt event:
        ~0.3 ms with the window busy); the loop is held for ``wait_s`` at most."""
        last = self._last
        if not last.finished.wait(wait_s):
            return False, None
        fut.add_done_callback(_retrieved)  # its result is taken here; the future still resolves later
        result, exc = last.result, last.exc
        if exc is not None:
            raise exc
        return True, result

    def close(self) -> None:
        """Let the thread end after its current step (if that step ever returns)."""
        self._jobs.put(None)

    def _work(self) -> None:
        while True:
            job = self._jobs.get()
            if job is None:
                return
            fn, args, fut, loop, outcome = job
            try:
                result = fn(*args)
            except BaseException as exc:  # noqa: BLE001 - handed to the awaiting coroutine
                outcome.exc = exc
                outcome.finished.set()
                self._resolve(loop, fut, None, exc)
            else:
                outcome.result = result
                outcome.finished.set()
                self._resolve(loop, fut, result, None)

    def _resolve(self, loop: asyncio.AbstractEventLoop, fut: "asyncio.Future[Any]", result: Any,
                 exc: Optional[BaseException]) -> None:
        def done() -> None:
            self.busy = False
            if fut.done():
                return
            if exc is not None:
                fut.set_exception(exc)
            else:
                fut.set_result(result)

        if not loop.is_closed():
            try:
                loop.call_soon_threadsafe(done)
            except RuntimeError:  # the loop closed meanwhile: nobody awaits the step any more
                self.busy = False
        else:
            self.busy = False


def _retrieved(fut: "asyncio.Future[Any]") -> None:
    if not fut.cancelled():
        fut.exception()  # taken by quick_result already: not an unretrieved error


QUICK_WAIT_S = 0.0005  # how long the loop blocks for a quick strategy's answer before it awaits it (s)


async def timed_step(worker: StepWorker, core: TradingCore, symbol: str, candle: Candle, *, budget_s: float,
                     stopped: Callable[[], bool]) -> bool:
    """Process one candle: the account's steps on the loop, the strategies' calls
    (:meth:`TradingCore.strategy_results`) on ``worker``, awaited without blocking the loop, and
    their signals on the loop again (:meth:`TradingCore.after_strategies`, late ones refused while
    the budget hold lasts). So fills, kills and manual orders booked meanwhile never race the step.
    True once done; False when the engine was stopped while the strategies still ran over their
    ``budget_s`` (s): they are then deactivated, so nothing calls into them again (their signals
    are dropped). Exceptions of the step (not a strategy's: those stop the strategy) are raised here."""
    equity = core.before_strategies(symbol, candle)
    fut = worker.submit(core.strategy_results, symbol, candle)
    quick, results = worker.quick_result(fut, QUICK_WAIT_S)
    if quick:
        core.after_strategies(symbol, candle, equity, results)
        if core.breakers is not None:
            core.breakers.observe(core.portfolio.equity, candle[0])
        return True
    done, _ = await asyncio.wait({fut}, timeout=budget_s)
    if not done:
        started = time.monotonic() - budget_s
        names = ", ".join(r.name for r in core.runners if r.active) or "strategy"
        core.log(ev.CAT_ERROR, f"{names} is over its time budget of {budget_s:g} s on a {symbol} candle: new entries "
                               "are held and candles wait until it returns; the kill switch does not wait for it",
                 "error")
        if core.breakers is not None:
            core.breakers.hold("budget", f"{names} went over its time budget: its late signals are refused")
        while not fut.done():
            if stopped():
                for r in core.runners:
                    r.active = False
                return False
            await asyncio.wait({fut}, timeout=0.05)
        core.after_strategies(symbol, candle, equity, fut.result())  # under the hold: late entries refused
        core.log(ev.CAT_ENGINE, f"{names} returned after {time.monotonic() - started:.1f} s; entries allowed again",
                 "warning")
        if core.breakers is not None:
            core.breakers.release("budget")
    else:
        core.after_strategies(symbol, candle, equity, fut.result())
    if core.breakers is not None:
        core.breakers.observe(core.portfolio.equity, candle[0])
    return True
