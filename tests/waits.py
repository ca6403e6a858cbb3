"""Waiting in tests: poll a condition until a deadline, never sleep a fixed time.

A fixed sleep is either too short on a loaded machine (the test flakes) or too long everywhere
(the suite crawls), and a check after it proves nothing about what happened during it. Wait for
the event itself: :func:`wait_for` (plain code, threads, subprocesses) and :func:`until`
(inside a coroutine on the loop that does the work). GUI tests use ``qtbot.waitUntil``.

To check that something did *not* happen, first wait for a later event that proves the code got
past the point where it would have happened (a later candle processed, a request answered, an
event logged), then assert the negative.
"""
from __future__ import annotations

import asyncio
import time
from typing import Callable, TypeVar

T = TypeVar("T")

TIMEOUT_S = 10.0  # generous: a deadline only matters when the test is failing anyway
POLL_S = 0.01


def _expired(what: str, timeout: float) -> AssertionError:
    return AssertionError(f"timed out after {timeout:g} s waiting for {what}")


def wait_for(cond: Callable[[], T], timeout: float = TIMEOUT_S, what: str = "the condition") -> T:
    """Call ``cond()`` until it returns something truthy and return that; raise AssertionError
    naming ``what`` if ``timeout`` seconds pass first. Blocks the calling thread."""
    deadline = time.monotonic() + timeout
    while True:
        value = cond()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise _expired(what, timeout)
        time.sleep(POLL_S)


async def until(cond: Callable[[], T], timeout: float = TIMEOUT_S, what: str = "the condition") -> T:
    """:func:`wait_for` for coroutines: polls without blocking the event loop, so tasks on the
    same loop keep running while it waits."""
    deadline = time.monotonic() + timeout
    while True:
        value = cond()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise _expired(what, timeout)
        await asyncio.sleep(POLL_S)
