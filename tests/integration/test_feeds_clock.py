"""The exchange's clock jumps during a live run (the venue's serverTime shifted by 5 s): the
gateway re-measures the offset on the -1021 refusal, retries once, and the run carries on
with its position watched, instead of stopping with it open."""
from __future__ import annotations

import asyncio

import pytest

from cts_desktop.core import events as ev
from cts_desktop.core.models import FILLED
from tests.integration.test_live_engine import SYM, make_engine, messages, services, step  # noqa: F401 - fixture
from tests.venue.harness import API_KEY, API_SECRET
from tests.waits import until

pytestmark = pytest.mark.timeout(60)


@pytest.mark.parametrize("jump_ms", [5_000, -5_000])
def test_clock_jump_of_5_s_keeps_the_run_alive(services, venue, jump_ms):
    venue.add_account(API_KEY, API_SECRET, {"USDT": 10_000})
    eng = make_engine(services, venue, "venue clock", live=True, params={"buy_on": "2", "sell_on": "4", "size": 0.05})

    async def go():
        await eng.start()
        assert eng.state == ev.RUNNING, eng.reason
        await step(venue, eng, 2)
        buy = eng.core.orders[0]
        await until(lambda: buy.state == FILLED, what="the buy fill")
        venue.set_clock_offset(jump_ms)  # the exchange's clock jumps; recvWindow is 1 s in these tests
        await step(venue, eng, 2)
        sell = eng.core.orders[1]
        await until(lambda: sell.state == FILLED or eng.state == ev.ERROR, what="the sell fill")
        assert eng.state == ev.RUNNING, eng.reason
        assert SYM not in eng.core.portfolio.open
        assert abs(eng.gateway.clock.offset_ms - jump_ms) < 1_000  # measured, and signing uses it
        await eng.stop()

    asyncio.run(go())
    assert eng.state == ev.STOPPED
    refused = [r for r in venue.server.requests if r == ("POST", "/api/v3/order")]
    assert len(refused) == 3  # buy; sell refused for its timestamp; the same sell once more after the re-sync
    assert len([o for o in venue.state.orders.values()]) == 2
    assert not any("clock" in m.lower() and "error" in m.lower() for m in messages(services, "venue clock"))
