"""Futures positions survive live restarts checked against the exchange's positions (the real ccxt
client with ``defaultType: swap`` against the local venue's USD-M routes, a real SQLite store): a
carried position reduced, closed or flipped at the exchange is updated with a record saying so; a
position at the exchange the app does not know is listed, not adopted; the same after an outage."""
from __future__ import annotations

import asyncio

import pytest

from cts_desktop.core import events as ev
from tests.integration.test_live_engine import SECRETS, messages
from tests.venue.harness import API_KEY, API_SECRET, connection_for
from tests.waits import until

pytestmark = pytest.mark.timeout(60)
FSYM, VSYM = "BTC/USDT:USDT", "BTCUSDT"


@pytest.fixture
def services(dirs):
    from cts_desktop.services import AppServices

    s = AppServices(*dirs)
    yield s
    s.close()


def _engine(services, venue, name, **params):
    """A live engine on the venue's BTCUSDT perpetual (a swap connection, as make_engine builds one)."""
    from cts_desktop.engine.live import ExchangeEngine

    conn = connection_for(venue, name, live=True, market_type="swap", symbols=[FSYM], strategy="test_scripted",
                          strategy_params={"buy_on": "", "sell_on": "", "size": 0.01, **params},
                          rate_limit_per_second=1000, starting_balance=10_000)
    services.save_connection(conn)
    eng = ExchangeEngine(services.connection(name), bus=services.bus, recorder=services.recorder, secrets=SECRETS,
                         poll_interval=0.05, close_grace_ms=None, recv_window_ms=1000, settle_interval=0.05,
                         max_settle_interval=0.2, timeout_ms=3000, reconcile_timeout_s=5)
    services.engines[name] = eng
    return eng


async def _step(venue, eng, n=1):
    for _ in range(n):
        seen = eng.core.candles_seen
        venue.advance(1, VSYM)
        await until(lambda seen=seen: eng.core.candles_seen > seen or eng.state == ev.ERROR, what="the next candle")
        assert eng.state != ev.ERROR, eng.reason
    await until(lambda: not eng.core._inflight or eng.state == ev.ERROR, what="the order round trips")


def _run(eng, venue, candles=0):
    async def go():
        await eng.start()
        assert eng.state == ev.RUNNING, eng.reason
        if candles:
            await _step(venue, eng, candles)
        await eng.stop()

    asyncio.run(go())
    assert eng.state == ev.STOPPED, eng.reason


def _funded(venue, usdt=10_000):
    venue.add_account(API_KEY, API_SECRET, {"USDT": 0})
    venue.state.futures.fund(API_KEY, usdt)


def _open_long(services, venue, name):
    """A first live run on the perpetual that buys on its first candle; returns the position."""
    first = _engine(services, venue, name, buy_on="1", size=0.05)
    _run(first, venue, candles=1)
    (opened,) = first.core.portfolio.open.values()
    assert opened.amount == pytest.approx(venue.state.futures.position(API_KEY)) and opened.amount > 0
    return first, opened


def _review(services, name, run_id):
    return services.reconciliation_review(name, run_id).lines()


def test_a_long_is_carried_then_reduced_then_closed_at_the_exchange(services, venue):
    _funded(venue)
    first, opened = _open_long(services, venue, "fut carry")
    assert any(path.startswith("/fapi/") for _, path in venue.requests)
    assert not any(path.startswith("/api/v3/order") for _, path in venue.requests)  # spot never asked
    second = _engine(services, venue, "fut carry")
    _run(second, venue)
    (carried,) = second.core.portfolio.open.values()
    assert (carried.amount, carried.entry_price) == (opened.amount, opened.entry_price)
    assert carried.meta["carried_from_run"] == first.run_id
    (row,) = second.reconciliation.positions
    assert row["action"] == "carried" and row["exchange_amount"] == pytest.approx(opened.amount)
    assert second.reconciliation.positions_listed == []

    # part of the position closed by hand at the exchange: the next run carries the rest, and says so
    venue.state.futures.trade_by_hand(API_KEY, "sell", 0.01)
    left = venue.state.futures.position(API_KEY)
    third = _engine(services, venue, "fut carry")
    _run(third, venue)
    (reduced,) = third.core.portfolio.open.values()
    assert reduced.amount == pytest.approx(left) and reduced.entry_price == opened.entry_price
    (row,) = third.reconciliation.positions
    assert row["action"] == "reduced" and row["recorded_amount"] == pytest.approx(opened.amount)
    assert f"reduced outside the app: the exchange's long is {left:g} BTC of {opened.amount:g}" in row["note"]
    assert any("reduced outside the app" in m for m in messages(services, "fut carry"))
    lines = _review(services, "fut carry", third.run_id)
    assert any(line.strip().startswith("reduced: long") for line in lines)
    assert any(f"exchange {left:g}" in line for line in lines)

    # the rest closed by hand: closed outside the app, nothing carried
    venue.state.futures.trade_by_hand(API_KEY, "sell", left)
    fourth = _engine(services, venue, "fut carry")
    _run(fourth, venue)
    assert not fourth.core.portfolio.open
    (row,) = fourth.reconciliation.positions
    assert row["action"] == "closed" and "the exchange holds no BTC/USDT:USDT position" in row["note"]
    fifth = _engine(services, venue, "fut carry")
    _run(fifth, venue)
    assert not fifth.core.portfolio.open and fifth.reconciliation.positions == []


def test_a_position_flipped_at_the_exchange_is_closed_and_the_other_side_listed(services, venue):
    _funded(venue)
    _first, opened = _open_long(services, venue, "fut flip")
    venue.state.futures.trade_by_hand(API_KEY, "sell", round(opened.amount + 0.01, 3))  # now short 0.01
    second = _engine(services, venue, "fut flip")
    _run(second, venue)
    assert not second.core.portfolio.open  # the short is not adopted
    (row,) = second.reconciliation.positions
    assert row["action"] == "closed" and "flipped outside the app: the exchange holds a short of 0.01 BTC" in row["note"]
    (listed,) = second.reconciliation.positions_listed
    assert (listed["side"], listed["amount"], listed["symbol"]) == ("short", pytest.approx(0.01), FSYM)
    assert second.reconciliation.ok
    lines = _review(services, "fut flip", second.run_id)
    assert any(line.strip().startswith("short 0.01 BTC/USDT:USDT") and "not this app's" in line for line in lines)


def test_a_position_opened_by_hand_is_listed_not_adopted(services, venue):
    _funded(venue)
    venue.state.futures.trade_by_hand(API_KEY, "buy", 0.02)
    eng = _engine(services, venue, "fut foreign")
    _run(eng, venue)
    assert not eng.core.portfolio.open and eng.reconciliation.positions == []
    (listed,) = eng.reconciliation.positions_listed
    assert (listed["side"], listed["amount"], listed["note"]) == ("long", pytest.approx(0.02),
                                                                  "not this app's, left as it is")
    assert "1 other position(s) at the exchange listed" in eng.reconciliation.detail()
    assert any("position at the exchange: long 0.02 BTC/USDT:USDT" in m for m in messages(services, "fut foreign"))
    lines = _review(services, "fut foreign", eng.run_id)
    assert any("Other positions at the exchange" in line for line in lines)
    assert venue.state.futures.position(API_KEY) == pytest.approx(0.02)  # left as it is


def test_after_an_outage_a_position_reduced_at_the_exchange_is_reduced_before_trading_on(services, venue):
    _funded(venue)
    eng = _engine(services, venue, "fut reconnect", buy_on="1", size=0.05)

    async def go():
        await eng.start()
        await _step(venue, eng, 1)  # candle 1: bought
        (pos,) = eng.core.portfolio.open.values()
        bought = pos.amount
        venue.faults.status(503, path="/fapi/v1/klines", count=2)  # the exchange is unreachable for a while
        venue.state.futures.trade_by_hand(API_KEY, "sell", 0.01)  # ...and the position is reduced by hand
        seen = eng.core.candles_seen
        venue.advance(1, VSYM)
        await until(lambda: eng.core.candles_seen > seen or eng.state == ev.ERROR, what="the next candle")
        assert eng.state == ev.RUNNING, eng.reason
        await eng.stop()
        return bought

    bought = asyncio.run(go())
    left = venue.state.futures.position(API_KEY)
    (pos,) = eng.core.portfolio.open.values()
    assert pos.amount == pytest.approx(left) and left < bought
    stored = services.reconciliation_review("fut reconnect", eng.run_id)
    assert stored is not None and stored.ok
    assert any(line.strip().startswith("reduced: long") for line in stored.lines())
    assert any("reconciliation after reconnecting" in m for m in messages(services, "fut reconnect"))


def test_after_an_outage_a_position_opened_by_hand_is_listed_and_the_run_trades_on(services, venue):
    _funded(venue)
    eng = _engine(services, venue, "fut outage")

    async def go():
        await eng.start()
        assert eng.state == ev.RUNNING, eng.reason
        venue.faults.status(503, path="/fapi/v1/klines", count=2)  # the exchange is unreachable for a while
        venue.state.futures.trade_by_hand(API_KEY, "sell", 0.01)  # ...and a short is opened by hand
        seen = eng.core.candles_seen
        venue.advance(1, VSYM)
        await until(lambda: eng.core.candles_seen > seen or eng.state == ev.ERROR, what="the next candle")
        assert eng.state == ev.RUNNING, eng.reason
        await eng.stop()

    asyncio.run(go())
    assert not eng.core.portfolio.open  # not adopted
    stored = services.reconciliation_review("fut outage", eng.run_id)
    assert stored is not None and stored.ok
    assert any("short 0.01 BTC/USDT:USDT" in line and "not this app's" in line for line in stored.lines())
    assert venue.state.futures.position(API_KEY) == pytest.approx(-0.01)
