"""Headless runs: the same engine, no window, a summary on stdout.

This is how the engine runs on a server and how CI proves the main job. Engine events are
printed to stderr as they happen (errors and warnings always; everything with ``--verbose``).
"""
from __future__ import annotations

import asyncio
import json
import sys
import time
from typing import Optional

from ..core import events as ev
from ..engine.engine import format_summary


def run_headless(services, connection: str, *, duration: Optional[float] = None, speed: Optional[str] = None,
                 verbose: bool = False, out=None) -> int:
    """Run ``connection`` until its data ends, ``duration`` seconds pass, or an error.

    Returns 0 when the run stopped cleanly, 1 when the engine ended in error (the reason is on
    stderr), 2 when the connection or its settings are unusable.
    """
    out = out or sys.stdout
    conn = services.connection(connection)
    if speed:
        conn.speed = speed

    def on_event(e) -> None:
        if isinstance(e, ev.LogEvent) and (verbose or e.level != "info"):
            print(f"[{e.category}] {e.message}", file=sys.stderr)

    unsubscribe = services.bus.subscribe(on_event)

    async def go() -> int:
        t0 = time.perf_counter()
        eng = await services.start_engine(connection)
        if eng.state == ev.ERROR:
            return 2
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
        elapsed = time.perf_counter() - t0
        summary = eng.summary()
        summary["wall_seconds"] = round(elapsed, 3)
        summary["state"] = eng.state
        summary["reason"] = eng.reason
        print(f"{connection}: {eng.state} ({eng.reason})", file=out)
        print(format_summary(summary), file=out)
        print("summary " + json.dumps(summary, sort_keys=True, default=str), file=out)
        return 1 if eng.state == ev.ERROR else 0

    try:
        code = asyncio.run(go())
    except KeyboardInterrupt:
        code = 1
    finally:
        unsubscribe()
        services.close()
    if code == 2:
        eng = services.engines.get(connection)
        print(f"cts-desktop: error: {eng.reason if eng else 'cannot start'}", file=sys.stderr)
    return code
