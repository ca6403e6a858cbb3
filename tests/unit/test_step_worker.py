"""StepWorker.quick_result: a quick step's answer is taken on the loop's thread at once; a slow one
is awaited as before (the loop is held at most the quick wait); an error of the step is raised."""
from __future__ import annotations

import asyncio
import threading

import pytest

from cts_desktop.engine.watchdog import StepWorker


def test_quick_slow_and_failing_steps():
    worker = StepWorker("test-step-worker")
    release = threading.Event()

    def boom():
        raise ValueError("step failed")

    async def main():
        fut = worker.submit(lambda: 41 + 1)
        assert worker.quick_result(fut, 1.0) == (True, 42)
        await fut  # still resolves on the loop, quietly
        slow = worker.submit(release.wait)
        assert worker.quick_result(slow, 0.001) == (False, None)  # over the quick wait: await it
        release.set()
        assert await asyncio.wait_for(slow, 5) is True
        failing = worker.submit(boom)
        with pytest.raises(ValueError, match="step failed"):
            worker.quick_result(failing, 1.0)
        with pytest.raises(ValueError):
            await failing

    try:
        asyncio.run(main())
    finally:
        worker.close()
