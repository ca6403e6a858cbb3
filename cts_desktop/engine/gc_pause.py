"""The garbage collector's old objects frozen while an engine runs.

A full (generation 2) collection walks every object in the process: with the app, its Qt objects,
ccxt's modules and the loaded candles that paused the loop for 8-60 ms (measured on the live order
benchmark inside the window) and for 26-46 ms while a GUI watched a max-speed replay. While any
engine runs, what was alive when it started is frozen (``gc.freeze``): a collection then walks
only what the run allocates. Replays also refreeze their own survivors once a second
(:func:`refreeze`); exchange engines, which run for days, do not (cyclic garbage frozen with them
would stay until the run ends). Process-wide, counted: the last run to end unfreezes.
"""
from __future__ import annotations

import gc
import time

_frozen_runs = 0  # engines running with the garbage collector's old objects frozen


def freeze_old_objects() -> None:
    """Move every object alive now (the loaded candles, the app) out of the collector's reach for
    the run: a full collection then walks only what the run allocates, instead of pausing the
    loop for tens of milliseconds over the whole heap. O(1); undone by :func:`unfreeze`."""
    global _frozen_runs
    _frozen_runs += 1
    gc.freeze()


_last_refreeze = 0.0
REFREEZE_S = 1.0


def refreeze() -> None:
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


def unfreeze() -> None:
    global _frozen_runs
    _frozen_runs -= 1
    if _frozen_runs <= 0:
        _frozen_runs = 0
        gc.unfreeze()  # back to the oldest generation: collected normally from now on
