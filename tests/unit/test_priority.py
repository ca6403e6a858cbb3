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


def test_a_closing_candle_holds_replays_back_only_when_a_newer_candle_opens(monkeypatch):
    monkeypatch.setattr(priority, "PENDING_S", 3600.0)  # no expiry within the test, however slow the machine
    key = (12345, "BTC/USDT")
    priority.candle_update(key, 60_000)  # first sight: nothing closed yet
    assert not priority.live_busy()
    priority.candle_update(key, 60_000)  # the forming candle changed
    assert not priority.live_busy()
    priority.candle_update(key, 120_000)  # a newer candle opened: the previous one closed
    assert priority.live_busy()
    with priority.live_work():
        pass
    assert not priority.live_busy()  # the engine handled it


def test_binance_closed_kline_messages_are_recognised():
    from cts_desktop.exchange.capabilities import closes_candle

    closed = {"e": "kline", "s": "BTCUSDT", "k": {"t": 0, "x": True}}
    assert closes_candle("binance", closed) and closes_candle("binance", {"stream": "btcusdt@kline_5m", "data": closed})
    assert not closes_candle("binance", {"e": "kline", "k": {"x": False}})
    assert not closes_candle("kraken", closed) and not closes_candle("binance", [1, 2])
