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


def test_moving_the_stops_replaces_both_legs(services, venue):
    from cts_desktop.engine import move_stops

    _funded(venue)
    eng = make_engine(services, venue, "fut move")

    async def go():
        await eng.start()
        pos = await armed(venue, eng)
        old = resting(venue)
        new_sl, new_tp = round(pos.stop_loss * 0.99, 1), round(pos.take_profit * 1.01, 1)
        await move_stops.move(eng, FSYM, new_sl, new_tp)
        await until(lambda: sorted(float(a.trigger) for a in resting(venue)) == [new_sl, new_tp],
                    what="the legs replaced")
        assert all(a.status == "CANCELED" for a in old)
        assert all(float(a.quantity) == pytest.approx(pos.amount) for a in resting(venue))
        await eng.stop()

    asyncio.run(go())
    assert eng.state == ev.STOPPED, eng.reason


def test_resting_legs_are_taken_over_at_a_restart_and_the_take_profit_closes_the_position(services, venue):
    _funded(venue)
    first = make_engine(services, venue, "fut restart")

    async def one():
        await first.start()
        await armed(venue, first)
        await first.stop()

    asyncio.run(one())
    legs = resting(venue)
    assert len(legs) == 2  # stopping leaves them protecting the position
    second = make_engine(services, venue, "fut restart", buy_on=0)

    async def two():
        await second.start()
        assert second.state == ev.RUNNING, second.reason
        assert second.reconciliation.ok, second.reconciliation.error
        (pos,) = second.core.portfolio.open.values()
        await until(lambda: pos.protection == "exchange", what="the legs adopted")
        assert resting(venue) == legs  # taken over, not placed again
        tp = next(a for a in legs if a.order_type == "TAKE_PROFIT_MARKET")
        venue.set_price(VSYM, round(float(tp.trigger) * 1.01, 1))  # the market rises through the target
        await until(lambda: FSYM not in second.core.portfolio.open, what="the take-profit booked")
        await until(lambda: resting(venue) == [], what="the stop-loss canceled")
        await second.stop()

    asyncio.run(two())
    assert venue.state.futures.position(API_KEY) == 0


def test_a_stop_that_fired_while_the_app_was_stopped_is_booked_once_and_the_other_leg_canceled(services, venue):
    _funded(venue)
    first = make_engine(services, venue, "fut away")

    async def one():
        await first.start()
        await armed(venue, first)
        await first.stop()

    asyncio.run(one())
    sl = next(a for a in resting(venue) if a.order_type == "STOP_MARKET")
    venue.set_price(VSYM, round(float(sl.trigger) * 0.99, 1))  # the stop fires while the app is stopped
    assert sl.status == "FINISHED" and venue.state.futures.position(API_KEY) == 0
    second = make_engine(services, venue, "fut away", buy_on=0)

    async def two():
        await second.start()
        assert second.state == ev.RUNNING, second.reason
        assert second.reconciliation.ok, second.reconciliation.error
        assert not second.core.portfolio.open
        await until(lambda: resting(venue) == [], what="the take-profit of the closed position canceled")
        await second.stop()

    asyncio.run(two())
    fills = rows(services, "select f.run_id from fills f join orders o on o.client_order_id = f.client_order_id "
                           "and o.connection = f.connection where o.reason = 'stop-loss' and f.connection = ?", "fut away")
    assert fills == [(first.run_id,)]  # booked once, to the run that placed it
    closed = rows(services, "select close_reason from positions where run_id = ? and closed_at is not null", first.run_id)
    assert closed == [("stop-loss",)]


def test_the_kill_switch_cancels_the_legs_resting_apart_and_flattens(services, venue):
    from cts_desktop.engine.kill import kill_engine

    _funded(venue)
    eng = make_engine(services, venue, "fut kill")

    async def go():
        await eng.start()
        await armed(venue, eng)
        report = await kill_engine(eng)
        return report

    report = asyncio.run(go())
    assert report.canceled >= 2 and not report.errors, report.errors
    assert resting(venue) == [] and venue.state.futures.position(API_KEY) == 0
    assert ("GET", "/fapi/v1/openAlgoOrders") in venue.requests


def test_a_position_reduced_by_hand_while_stopped_gets_new_legs_for_the_rest(services, venue):
    _funded(venue)
    first = make_engine(services, venue, "fut resize")

    async def one():
        await first.start()
        await armed(venue, first)
        await first.stop()

    asyncio.run(one())
    old = resting(venue)
    venue.state.futures.trade_by_hand(API_KEY, "sell", 0.01)
    left = venue.state.futures.position(API_KEY)
    second = make_engine(services, venue, "fut resize", buy_on=0)

    async def two():
        await second.start()
        assert second.reconciliation.ok, second.reconciliation.error
        (pos,) = second.core.portfolio.open.values()
        assert pos.amount == pytest.approx(left)
        await until(lambda: len(resting(venue)) == 2 and all(a not in old for a in resting(venue)),
                    what="new legs for the reduced position")
        assert all(float(a.quantity) == pytest.approx(left) for a in resting(venue))
        assert all(a.status == "CANCELED" for a in old)
        await second.stop()

    asyncio.run(two())


def test_a_strategy_exit_cancels_both_legs_first(services, venue):
    _funded(venue)
    eng = make_engine(services, venue, "fut exit", sell_on=3)

    async def go():
        await eng.start()
        await armed(venue, eng)
        legs = resting(venue)
        await step(venue, eng, 2)  # candle 3: the strategy exits
        await until(lambda: FSYM not in eng.core.portfolio.open, what="the exit booked")
        assert all(a.status == "CANCELED" for a in legs) and resting(venue) == []
        await eng.stop()

    asyncio.run(go())
    assert venue.state.futures.position(API_KEY) == 0
    reasons = [r for (r,) in rows(services, "select reason from orders where connection = ? and state = 'filled' "
                                            "order by id", "fut exit")]
    assert reasons == ["entry", "exit: scripted"], reasons  # the legs never executed
