"""Stops that do not depend on the app on perpetual futures, with the real ccxt binance client
(``defaultType: swap``) against the local venue's USD-M routes and a real SQLite store: after the
entry the stop-loss and the take-profit rest at the venue as two reduce-only trigger orders (Binance's
algo orders); the price moves through the stop, the exchange closes the position, the engine books
it once and cancels the take-profit; they are replaced when the stops move, and an earlier run's
legs still resting are taken over at a restart."""
from __future__ import annotations

import asyncio

import pytest

from cts_desktop.core import events as ev
from cts_desktop.engine.live import ExchangeEngine
from tests.integration.test_exchange_stops import Protected, rows  # noqa: F401 - registers test_protected
from tests.venue.harness import API_KEY, API_SECRET, connection_for
from tests.waits import until

pytestmark = pytest.mark.timeout(60)
SECRETS = {"apiKey": API_KEY, "secret": API_SECRET}
FSYM, VSYM = "BTC/USDT:USDT", "BTCUSDT"


@pytest.fixture
def services(dirs):
    from cts_desktop.services import AppServices

    s = AppServices(*dirs)
    yield s
    s.close()


def make_engine(services, venue, name, **params):
    conn = connection_for(venue, name, live=True, market_type="swap", symbols=[FSYM], strategy="test_protected",
                          strategy_params={"buy_on": 1, "size": 0.05, **params}, rate_limit_per_second=1000)
    services.save_connection(conn)
    eng = ExchangeEngine(services.connection(name), bus=services.bus, recorder=services.recorder, secrets=SECRETS,
                         poll_interval=0.05, close_grace_ms=None, recv_window_ms=1000, settle_interval=0.05,
                         max_settle_interval=0.2, timeout_ms=3000, reconcile_timeout_s=5)
    eng.protect_interval = 0.05
    services.engines[name] = eng
    return eng


def resting(venue):
    """The venue's conditional orders still waiting for their trigger, oldest first."""
    return sorted((a for a in venue.state.futures.algos.values() if a.status == "NEW"), key=lambda a: a.algo_id)


async def step(venue, eng, n=1):
    for _ in range(n):
        seen = eng.core.candles_seen
        venue.advance(1, VSYM)
        await until(lambda seen=seen: eng.core.candles_seen > seen or eng.state == ev.ERROR, what="the next candle")
        assert eng.state != ev.ERROR, eng.reason
    await until(lambda: not eng.core._inflight, what="the order round trips")


async def armed(venue, eng):
    await step(venue, eng, 1)
    await until(lambda: FSYM in eng.core.portfolio.open and len(resting(venue)) == 2, what="the legs at the venue")
    return eng.core.portfolio.open[FSYM]


def _funded(venue):
    venue.add_account(API_KEY, API_SECRET, {"USDT": 0})
    venue.state.futures.fund(API_KEY, 10_000)


def test_the_stops_rest_at_the_exchange_and_the_stop_closes_the_position_once(services, venue):
    _funded(venue)
    eng = make_engine(services, venue, "fut stops")

    async def go():
        await eng.start()
        assert eng.state == ev.RUNNING, eng.reason
        pos = await armed(venue, eng)
        assert pos.protection == "exchange"
        held = venue.state.futures.position(API_KEY)
        assert held > 0 and pos.amount == pytest.approx(held)
        sl, tp = sorted(resting(venue), key=lambda a: a.order_type)
        assert (sl.order_type, sl.side, sl.reduce_only, float(sl.quantity)) == ("STOP_MARKET", "SELL", True,
                                                                              pytest.approx(held))
        assert (tp.order_type, tp.side, tp.reduce_only, float(tp.quantity)) == ("TAKE_PROFIT_MARKET", "SELL", True,
                                                                                pytest.approx(held))
        assert float(sl.trigger) == pytest.approx(pos.stop_loss) and float(tp.trigger) == pytest.approx(pos.take_profit)
        assert ("POST", "/fapi/v1/algoOrder") in venue.requests
        assert not any(p.startswith("/api/v3/orderList") for _, p in venue.requests)  # no OCO on futures

        venue.set_price(VSYM, round(float(sl.trigger) * 0.99, 1))  # the market falls through the stop
        assert sl.status == "FINISHED" and venue.state.futures.position(API_KEY) == 0
        await until(lambda: FSYM not in eng.core.portfolio.open, what="the stop booked")
        await until(lambda: tp.status == "CANCELED", what="the take-profit canceled")
        (closed,) = [p for p in eng.core.portfolio.closed if p.symbol == FSYM]
        assert closed.exit_price == pytest.approx(float(sl.trigger))
        await step(venue, eng, 1)  # nothing is armed again, nothing booked twice
        assert resting(venue) == []
        await eng.stop()
        return closed

    closed = asyncio.run(go())
    assert eng.state == ev.STOPPED, eng.reason
    fills = rows(services, "select f.side, f.amount from fills f join orders o on o.client_order_id = f.client_order_id "
                           "and o.connection = f.connection where o.reason = 'stop-loss' and f.connection = ?", "fut stops")
    assert len(fills) == 1 and fills[0][0] == "sell" and fills[0][1] == pytest.approx(closed.max_amount)
    states = dict(rows(services, "select reason, state from orders where connection = ? and reason in "
                                 "('stop-loss', 'take-profit')", "fut stops"))
    assert states == {"stop-loss": "filled", "take-profit": "canceled"}
