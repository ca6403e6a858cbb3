"""Live engines first (engine/priority.py): replays take shorter slices while an exchange engine
runs and hold back while one handles market data and sends its orders."""
from __future__ import annotations

import asyncio
import sys

from cts_desktop.engine import priority


def test_shorter_slices_and_switch_interval_only_while_an_exchange_engine_runs():
    before = sys.getswitchinterval()
    assert priority.slice_s(0.005) == 0.005 and not priority.live_running()
    priority.exchange_engine_started()
    priority.exchange_engine_started()
    try:
        assert priority.slice_s(0.005) == priority.LIVE_SLICE_S
        assert sys.getswitchinterval() <= priority.LIVE_SWITCH_S + 1e-9
        priority.exchange_engine_stopped()
        assert priority.live_running()  # one is still running
    finally:
        priority.exchange_engine_stopped()
    assert not priority.live_running() and priority.slice_s(0.005) == 0.005
    assert sys.getswitchinterval() == before


def test_a_replay_waits_until_the_live_work_is_done():
    async def main():
        order = []
        release = asyncio.Event()

        async def live():
            with priority.live_work():
                await release.wait()
                order.append("live order sent")

        async def replay():
            await priority.yield_to_live()
            order.append("replay slice")

        live_task = asyncio.ensure_future(live())
        await asyncio.sleep(0)  # the live engine is inside its work
        replay_task = asyncio.ensure_future(replay())
        for _ in range(20):
            await asyncio.sleep(0)
        assert not replay_task.done()  # held back
        release.set()
        await asyncio.wait_for(asyncio.gather(live_task, replay_task), 10)
        assert order == ["live order sent", "replay slice"]
        await asyncio.wait_for(priority.yield_to_live(), 10)  # nothing live: no wait

    asyncio.run(main())
