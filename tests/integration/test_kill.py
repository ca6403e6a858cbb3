"""The kill switch against the local venue (real ccxt client, real SQLite): a strategy that hangs in
on_candle does not stop it from canceling every open order and closing the position; the paper
replay is flattened too; a breaker's refusal reaches the signal journal with its reason."""
from __future__ import annotations

import asyncio
import threading

import pytest

from cts_desktop.core import events as ev
from cts_desktop.core.models import BUY, Order
from cts_desktop.engine import strategies
from cts_desktop.engine.strategies.base import Param
from cts_desktop.engine.kill import KILL_REASON
from cts_desktop.services.kill import KillError, KillService
from cts_desktop.store import repositories as repo
from tests.integration.test_live_engine import SYM, Scripted, db_rows, make_engine, messages, step
from tests.venue.harness import API_KEY, API_SECRET
from tests.waits import until

pytestmark = pytest.mark.timeout(60)
RELEASE = threading.Event()  # the hung strategy waits on this; set only at the end of a test


class Hangs(Scripted):
    """Scripted, but on candle ``hang_on`` it blocks in on_candle until the test lets it go."""

    name = "test_hangs"
    params = Scripted.params + (Param("hang_on", int, 3),)

    def on_candle(self, ctx, symbol, candle):
        out = super().on_candle(ctx, symbol, candle)
        if self.n[symbol] == self.p["hang_on"]:
            RELEASE.wait()
        return out


strategies.register(Hangs)


@pytest.fixture
def services(dirs):
    from cts_desktop.services import AppServices

    s = AppServices(*dirs)
    yield s
    RELEASE.set()
    s.close()


def open_at_venue(v):
    return [o for o in v.state.orders.values() if o.is_open]


def test_kill_switch_with_a_hung_strategy_cancels_and_flattens(services, venue):
    RELEASE.clear()
    venue.add_account(API_KEY, API_SECRET, {"USDT": 10_000})
    eng = make_engine(services, venue, "venue live", live=True, strategy_budget_s=0.2,
                      params={"buy_on": "1", "sell_on": "", "size": 0.2, "hang_on": "2"})
    eng.conn.strategy = "test_hangs"
    killer = KillService(services)

    async def go():
        await eng.start()
        assert eng.state == ev.RUNNING, eng.reason
        await step(venue, eng, 1)
        assert SYM in eng.core.portfolio.open
        price = venue.price("BTCUSDT")
        for i in range(3):  # resting orders at the exchange, far from the price
            await eng.gateway.create_order(Order(f"manual-{i}", SYM, BUY, "limit", 0.002, price=round(price * 0.8, 2)))
        assert len(open_at_venue(venue)) == 3
        venue.advance(1, "BTCUSDT")  # candle 2: the strategy hangs in on_candle
        await until(lambda: any("over its time budget" in m for m in messages(services, "venue live")),
                    what="the over-budget report")
        assert eng.worker.busy and not RELEASE.is_set()
        assert "close 1 open position at market" in killer.plan(["venue live"])
        report = await killer.kill("venue live")
        return report

    report = asyncio.run(go())
    assert not RELEASE.is_set()  # the kill never waited for the strategy
    assert report.canceled == 3 and report.flattened == 1 and not report.left_open and not report.errors
    assert open_at_venue(venue) == []
    assert venue.balance(API_KEY, "BTC")[0] < 1e-5  # flat: at most dust under the lot step
    assert eng.state == ev.STOPPED and eng.reason == KILL_REASON
    assert not eng.core.portfolio.open
    closed = repo.closed_positions("venue live")
    assert [p.close_reason for p in closed] == [KILL_REASON]
    rows = db_rows(services, "select reason, state from orders where connection = ? order by id", "venue live")
    assert rows[-1] == (KILL_REASON, "filled")
    with pytest.raises(KillError, match="not running"):
        asyncio.run(killer.kill("venue live"))


def test_kill_switch_flattens_a_paper_run_on_exchange_candles(services, venue):
    eng = make_engine(services, venue, "venue paper", live=False, params={"buy_on": "1", "sell_on": "", "size": 0.2})

    async def go():
        await eng.start()
        await step(venue, eng, 2)  # the buy fills at candle 2's open
        assert SYM in eng.core.portfolio.open
        return await KillService(services).kill_all()

    (report,) = asyncio.run(go())
    assert report.flattened == 1 and report.state == ev.STOPPED
    assert not eng.core.portfolio.open and eng.reason == KILL_REASON


def test_a_breaker_refusal_is_in_the_signal_journal_with_its_reason(services, venue):
    eng = make_engine(services, venue, "venue paper", live=False, params={"buy_on": "1", "sell_on": "", "size": 0.2})
    eng.conn.risk = dict(eng.conn.risk, max_order_notional=100)

    async def go():
        await eng.start()
        await step(venue, eng, 1)
        await eng.stop()

    asyncio.run(go())
    assert not eng.core.orders
    rows = db_rows(services, "select accepted, verdict from signals where connection = ?", "venue paper")
    assert len(rows) == 1 and rows[0][0] == 0
    assert "exceeds the max order notional 100.00 USDT" in rows[0][1]
    assert any("rejected: order notional" in m for m in messages(services, "venue paper"))
