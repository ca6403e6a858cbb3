"""Headless runs: the same engine, no window, a summary on stdout.

A start that reconciled something with earlier runs (settled orders, booked fills, carried or
adjusted positions, adopted or listed orders, interrupted runs, a failure: close-only) prints the
review first (:mod:`cts_desktop.services.reconciliation`).

This is how the engine runs on a server and how CI proves the main job. Errors and warnings of
the engine's log go to stderr as they happen; with ``--verbose`` every engine event is printed on
stdout as it happens, one readable line each (:func:`event_line`): state changes, orders, fills,
positions and the activity log.
"""
from __future__ import annotations

import asyncio
import json
import signal
import sys
import time
from datetime import datetime, timezone
from typing import Optional

from ..core import events as ev
from ..engine.engine import format_summary
from ..engine.kill import KILL_REASON
from ..services.kill import KillError, KillService
from . import exit_codes


def _when(ts_ms: int) -> str:
    """Market time (ms UTC) as ``2022-01-03 14:05``; ``-`` when unknown (0)."""
    if not ts_ms:
        return "-"
    return datetime.fromtimestamp(ts_ms / 1000, tz=timezone.utc).strftime("%Y-%m-%d %H:%M")


def event_line(e: object) -> Optional[str]:
    """One readable line for an engine event, or None for the events not worth a line (account
    snapshots, equity points, progress: they come once a candle; the summary has the totals).

    Info log lines about orders, fills, positions and signals are left out: their events say the same.
    """
    if isinstance(e, ev.EngineStateChanged):
        return f"state      {e.state}" + (f" ({e.reason})" if e.reason else "")
    if isinstance(e, ev.OrderEvent):
        o = e.order
        price = f" @ {o.price:g}" if o.price is not None else ""
        filled = f", filled {o.filled:g} @ {o.average:g}" if o.filled and o.average is not None else ""
        error = f", error: {o.error}" if o.error else ""
        return (f"order      {_when(o.timestamp)} {o.side} {o.type} {o.amount:g} {o.symbol}{price} "
                f"[{o.clientOrderId}] {o.status}{filled} ({o.reason}){error}")
    if isinstance(e, ev.FillEvent):
        f = e.fill
        return (f"fill       {_when(f.timestamp)} {f.side} {f.amount:g} {f.symbol} @ {f.price:g}, "
                f"fee {f.fee:.6g} {f.fee_currency}".rstrip() + (f", position #{e.position_id}" if e.position_id else ""))
    if isinstance(e, ev.PositionEvent):
        p = e.position
        if p.closed_at is not None:
            return (f"position   {_when(p.closed_at)} #{p.id} {p.side} {p.symbol} closed @ {p.exit_price:g} "
                    f"({p.close_reason}), net P&L {p.net_pnl:+.6g}")
        return (f"position   {_when(p.opened_at)} #{p.id} {p.side} {p.amount:g} {p.symbol} @ {p.entry_price:g}"
                + (f", stop {p.stop_loss:g}" if p.stop_loss else "") + (f", target {p.take_profit:g}" if p.take_profit else ""))
    if isinstance(e, ev.SignalEvent):
        s = e.signal
        verdict = "accepted" if e.accepted else f"refused: {e.verdict}"
        return f"signal     {_when(s.timestamp)} {s.side} {s.symbol} ({s.intent}, {s.strategy or 'strategy'}) {verdict}"
    if isinstance(e, ev.LogEvent):
        if e.category in (ev.CAT_ORDER, ev.CAT_FILL, ev.CAT_POSITION, ev.CAT_SIGNAL) and e.level == "info":
            return None
        level = "" if e.level == "info" else f"{e.level.upper()} "
        return f"log        {_when(e.timestamp)} [{e.category}] {level}{e.message}"
    return None


def _kill_on_signals(killer: KillService, connection: str, out) -> list:
    """SIGTERM and SIGINT run the kill switch on ``connection`` (cancel, flatten as the setting
    says, stop) instead of leaving orders and positions behind. Returns a list that gets the
    signal's name when one came. Where the loop cannot take signal handlers (Windows), Ctrl+C
    keeps stopping the run as before."""
    came: list = []
    loop = asyncio.get_running_loop()

    def on_signal(signame: str) -> None:
        if came:
            return
        came.append(signame)
        print(f"{signame}: kill switch on {connection}", file=sys.stderr)

        async def kill() -> None:
            try:
                print((await killer.kill(connection)).line(), file=out)
            except KillError as exc:
                print(str(exc), file=sys.stderr)

        loop.create_task(kill())

    for sig in (signal.SIGTERM, signal.SIGINT):
        try:
            loop.add_signal_handler(sig, on_signal, sig.name)
        except (NotImplementedError, RuntimeError):
            break
    return came


def run_headless(services, connection: str, *, duration: Optional[float] = None, speed: Optional[str] = None,
                 verbose: bool = False, out=None) -> int:
    """Run ``connection`` until its data ends, ``duration`` seconds pass, or an error.

    Returns an exit code of :mod:`.exit_codes`: ``OK`` when the run stopped cleanly, ``FAILED``
    when the engine ended in error (the reason is on stderr), ``BAD_INPUT`` when the connection
    or its settings are unusable, ``UNREACHABLE`` when the exchange could not be reached at
    start, ``INTERRUPTED`` on SIGTERM/SIGINT (Ctrl+C) or ``cts-desktop kill``: the kill switch runs
    (open orders canceled, positions closed when the ``kill_flattens`` setting is on, engine
    stopped) and the summary is printed first. Kill requests from other processes are served
    while it runs (:mod:`cts_desktop.services.kill`).
    """
    out = out or sys.stdout
    conn = services.connection(connection)
    if speed:
        conn.speed = speed

    def on_event(e) -> None:
        if verbose:
            line = event_line(e)
            if line is not None:
                print(line, file=out)
        elif isinstance(e, ev.LogEvent) and e.level != "info":
            print(f"[{e.category}] {e.message}", file=sys.stderr)

    unsubscribe = services.bus.subscribe(on_event)
    failed_start: list = []

    async def go() -> int:
        t0 = time.perf_counter()
        eng = await services.start_engine(connection)
        if eng.state == ev.ERROR:
            failed_start.append(eng)
            return exit_codes.for_start_failure(eng.start_error)
        review = services.reconciliation_review(connection, eng.run_id) if eng.run_id else None
        if review is not None:  # what the start found about earlier runs, before anything else
            print("\n".join(review.lines()), file=out, flush=True)
        code = exit_codes.OK
        killer = KillService(services)
        stop_watching = asyncio.Event()
        watcher = asyncio.get_running_loop().create_task(killer.watch_requests(stop_watching))
        signalled = _kill_on_signals(killer, connection, out)
        try:
            if duration is not None:
                try:
                    await asyncio.wait_for(eng.wait(), timeout=duration)
                except asyncio.TimeoutError:
                    await eng.stop(f"duration of {duration:g} s reached")
            else:
                await eng.wait()
        except asyncio.CancelledError:
            await eng.stop("interrupted")
            code = exit_codes.INTERRUPTED
        finally:
            stop_watching.set()
            await watcher
        if signalled or eng.reason == KILL_REASON:
            code = exit_codes.INTERRUPTED
        elapsed = time.perf_counter() - t0
        summary = eng.summary()
        summary["wall_seconds"] = round(elapsed, 3)
        summary["state"] = eng.state
        summary["reason"] = eng.reason
        print(f"{connection}: {eng.state} ({eng.reason})", file=out)
        print(format_summary(summary), file=out)
        print("summary " + json.dumps(summary, sort_keys=True, default=str), file=out)
        return exit_codes.FAILED if eng.state == ev.ERROR else code

    try:
        code = asyncio.run(go())
    except KeyboardInterrupt:
        code = exit_codes.INTERRUPTED
    finally:
        unsubscribe()
        services.close()
    if failed_start:
        eng = failed_start[0]
        print(f"cts-desktop: error: {eng.reason or 'cannot start'}", file=sys.stderr)
    return code
