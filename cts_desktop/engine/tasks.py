"""Ending the engine's background tasks (feeds, streams, watchdogs, order followers) one way."""
from __future__ import annotations

import asyncio
import logging
from typing import Any, Iterable, Optional

log = logging.getLogger(__name__)


async def end_task(task: "Optional[asyncio.Task[Any]]", what: str = "a background task") -> None:
    """Cancel ``task`` (None: nothing) and wait until it has ended. A failure it ended with was
    reported by the task itself; here it is only logged at debug level, as ``what``."""
    if task is None:
        return
    task.cancel()
    try:
        await task
    except asyncio.CancelledError:
        pass  # what cancel() asked for
    except Exception:  # noqa: BLE001 - the task reported its failure itself; this is only its end
        log.debug("%s ended with an error", what, exc_info=True)


async def end_tasks(tasks: "Iterable[asyncio.Task[Any]]", what: str = "a background task") -> None:
    """:func:`end_task` for each of ``tasks``, all canceled first."""
    tasks = list(tasks)
    for t in tasks:
        t.cancel()
    for t in tasks:
        await end_task(t, what)
