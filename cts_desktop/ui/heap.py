"""Keeping the cyclic garbage collector's full passes short in a full app.

A full pass of Python's collector visits every tracked object alive: with 100,000 log lines and
60,000 positions on screen that is tens to hundreds of milliseconds in one block, and it comes
back each time enough new objects pile up. What a history load or a burst of log lines built
stays as long as the view shows it, so :func:`settle` moves it out of the collector's
generations (``gc.freeze``). Those objects are still freed by reference counting when the view
drops them (log lines and positions hold no reference cycles); only cyclic garbage alive at a
freeze would wait for the end of the process.
"""
from __future__ import annotations

import gc


def settle() -> None:
    """Exclude every object alive now from the collector's future passes (``gc.freeze``)."""
    gc.freeze()
