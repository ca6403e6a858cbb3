"""Order updates by websocket (engine/order_stream.py) against the local venue's user data
stream with the real ccxt.pro client: a fill is booked once whichever path sees it first, the
stream or the REST cross-check that keeps running; fills the stream never delivers are found
by REST."""
from __future__ import annotations

import asyncio

import pytest

from cts_desktop.core import events as ev
from cts_desktop.core.models import FILLED
from cts_desktop.engine.live import ExchangeEngine
from tests.integration.test_live_engine import (  # noqa: F401 - services is a fixture
    SECRETS, SYM, db_rows, messages, services, step, venue_orders)
from tests.venue.harness import API_KEY, API_SECRET, connection_for
from tests.waits import until

pytestmark = pytest.mark.timeout(60)


def ws_live_engine(services, venue, name):
    conn = connection_for(venue, name, live=True, api_type="websocket", strategy="test_scripted",
                          strategy_params={"buy_on": "2", "sell_on": "4", "size": 0.05}, rate_limit_per_second=1000)
    services.save_connection(conn)
    eng = ExchangeEngine(services.connection(name), bus=services.bus, recorder=services.recorder, secrets=SECRETS,
                         poll_interval=0.05, close_grace_ms=None, recv_window_ms=1000, settle_interval=0.05,
                         max_settle_interval=0.2, timeout_ms=3000, reconcile_timeout_s=5, ws_retry_interval=0.1,
                         max_ws_retry_interval=0.2, ws_sync_timeout=3.0)
    services.engines[name] = eng
    return eng


def round_trip(venue, eng):
    async def go():
        await eng.start()
        assert eng.state == ev.RUNNING, eng.reason
        await until(lambda: eng.order_stream is not None and venue.server.user.conns, what="the order stream")
        await step(venue, eng, 2)
        buy = eng.core.orders[0]
        await until(lambda: buy.state == FILLED and SYM in eng.core.portfolio.open, what="the buy fill")
        await step(venue, eng, 2)
        sell = eng.core.orders[1]
        await until(lambda: sell.state == FILLED and SYM not in eng.core.portfolio.open, what="the sell fill")
        await eng.stop()
        return buy, sell
    return asyncio.run(go())


def assert_booked_once(services, venue, eng, name, orders):
    trade_ids = [str(t.trade_id) for o in orders for t in venue_orders(venue, o.clientOrderId)[0].fills]
    assert sorted(f.id for f in eng.core.fills) == sorted(trade_ids)  # each execution once
    rows = db_rows(services, "select fill_id from fills where connection = ? order by id", name)
    assert sorted(r[0] for r in rows) == sorted(trade_ids)
    assert eng.core.portfolio.balance == pytest.approx(venue.balance(API_KEY, "USDT")[0], abs=1e-6)


def test_watch_orders_books_a_fill_once_with_the_rest_cross_check_running(services, venue):
    venue.add_account(API_KEY, API_SECRET, {"USDT": 10_000})
    # REST reads of the executions answer 0.5 s late: the stream sees each fill first, and REST
    # then reads the same trades (its cross-check) without booking them again
    venue.faults.delay(0.5, path="/api/v3/myTrades")
    eng = ws_live_engine(services, venue, "venue stream")
    buy, sell = round_trip(venue, eng)
    assert eng.state == ev.STOPPED, eng.reason
    assert eng.order_stream is not None and eng.order_stream.booked == 2  # the stream booked both fills
    assert venue.requests.count(("GET", "/api/v3/myTrades")) >= 2  # and REST read them too
    assert venue.server.user.events_sent >= 4  # NEW + TRADE of each order
    assert_booked_once(services, venue, eng, "venue stream", (buy, sell))
    log = "\n".join(messages(services, "venue stream"))
    assert "following the account's executions by websocket" in log
    assert API_KEY not in log and API_SECRET not in log


def test_fills_the_stream_never_delivers_are_booked_by_rest(services, venue):
    venue.add_account(API_KEY, API_SECRET, {"USDT": 10_000})
    venue.server.user.muted.add(API_KEY)  # the account's events are lost on the way
    eng = ws_live_engine(services, venue, "venue muted")
    buy, sell = round_trip(venue, eng)
    assert eng.state == ev.STOPPED, eng.reason
    assert eng.order_stream is not None and eng.order_stream.booked == 0
    assert_booked_once(services, venue, eng, "venue muted", (buy, sell))
