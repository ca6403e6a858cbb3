"""Live engines first: while an exchange engine (live or paper on real market data) runs, a
replay at maximum speed must not hold the shared asyncio loop or the interpreter for long.

* :func:`slice_s`: the replay's slice of candle processing shrinks from its default (5 ms) to
  :data:`LIVE_SLICE_S` while any exchange engine runs, so a market-data event waits at most
  about that long for the loop.
* :func:`data_arrived` (a websocket update) and :func:`live_work` mark an exchange engine handling market data and sending its orders; a
  replay between two slices waits (:func:`yield_to_live`) until that work is done.
* The interpreter's thread switch interval drops to :data:`LIVE_SWITCH_S` meanwhile (Python's
  default is 5 ms): a database writer thread busy with a replay's records then hands the GIL
  back to the loop within that time.

The other half is in the store and the services: each exchange connection gets its own recorder
(writer thread and SQLite connection), a live order row is committed at once on the loop thread
(``Recorder.commit_order_now``, ``store/order_lane.py``) under this process's write gate
(``store/write_gate.py``: our writers queue on a lock, not in SQLite's sleeping busy handler, and
checkpoint outside it), the replays' recorder starts no commit while :func:`live_busy` (at most
20 ms a batch; ``services/engines.py``), and a request with tokens to spare in ccxt's bucket leaves
without a turn of the loop (``exchange/budget.py``). Process-wide; call :func:`exchange_engine_started`
and :func:`exchange_engine_stopped` in pairs.
"""
from __future__ import annotations

import asyncio
import sys
import threading
import time
from contextlib import contextmanager
from typing import Dict, Iterator, Optional, Tuple

LIVE_SLICE_S = 0.0005
LIVE_SWITCH_S = 0.0002

_lock = threading.Lock()
_running = 0
_saved_switch = sys.getswitchinterval()
_live_work = 0
_pending_until = 0.0  # perf_counter s: market data arrived for an exchange engine, not handled yet
LIVE_WAIT_STEP_S = 0.0002
PENDING_S = 0.005  # how long fresh market data holds replays back if no live work follows


def exchange_engine_started() -> None:
    """An exchange engine starts its run."""
    global _running, _saved_switch
    with _lock:
        if _running == 0:
            _saved_switch = sys.getswitchinterval()
            sys.setswitchinterval(min(_saved_switch, LIVE_SWITCH_S))
        _running += 1


def exchange_engine_stopped() -> None:
    """An exchange engine's run ended."""
    global _running
    with _lock:
        _running = max(0, _running - 1)
        if _running == 0:
            sys.setswitchinterval(_saved_switch)


def live_running() -> bool:
    """True while any exchange engine runs."""
    return _running > 0


def slice_s(default: float) -> float:
    """The replay's slice length (s): ``default``, or :data:`LIVE_SLICE_S` while an exchange
    engine runs."""
    return min(default, LIVE_SLICE_S) if _running else default


@contextmanager
def live_work() -> Iterator[None]:
    """While the block runs (an exchange engine handling a candle and sending its orders),
    replays hold back between their slices."""
    global _live_work, _pending_until
    _live_work += 1
    try:
        yield
    finally:
        _live_work -= 1
        if not _live_work:
            _pending_until = 0.0


async def yield_to_live() -> None:
    """Return once no exchange engine is in :func:`live_work` (at once when none is)."""
    while live_busy():
        await asyncio.sleep(LIVE_WAIT_STEP_S)


_newest: Dict[Tuple[int, str], int] = {}


def candle_update(key: Tuple[int, str], newest_open_ms: Optional[int]) -> None:
    """A stream's update of one symbol (``key``: the stream's id and the symbol) whose newest
    candle opens at ``newest_open_ms``: a newer one than before means a candle closed, so
    :func:`data_arrived`."""
    if newest_open_ms is None:
        return
    last = _newest.get(key)
    _newest[key] = newest_open_ms if last is None else max(last, newest_open_ms)
    if last is not None and newest_open_ms > last:
        data_arrived()


def live_busy() -> bool:
    """True while an exchange engine handles fresh market data or sends its orders."""
    return bool(_live_work) or _pending_until > time.perf_counter()


def data_arrived() -> None:
    """Market data reached an exchange engine (a websocket update): replays hold back until its
    :func:`live_work` is done, or :data:`PENDING_S` when none follows (an update of a forming candle)."""
    global _pending_until
    _pending_until = time.perf_counter() + PENDING_S
