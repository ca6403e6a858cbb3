"""Stops that do not depend on the app, with the real ccxt binance client against the local venue
and a real SQLite store: the OCO rests at the venue after the entry, fires while the app is
stopped and closes the position once at the next start; a strategy's exit cancels it first; an
app-held stop fires on a ticker price before the candle closes."""
from __future__ import annotations

import asyncio
import sqlite3

import pytest

from cts_desktop.core import events as ev
from cts_desktop.core.models import BUY, FILLED, PENDING_CREATE, SELL, Order, Signal
from cts_desktop.engine import strategies
from cts_desktop.engine.live import ExchangeEngine
from cts_desktop.engine.strategies.base import Param, Strategy
from cts_desktop.exchange.ccxt_gateway import CcxtGateway
from cts_desktop.exchange.stops import cancel_protection, place_oco
from cts_desktop.services import AppServices
from cts_desktop.store.db import DB_FILENAME
from tests.venue.harness import API_KEY, API_SECRET, connection_for
from tests.waits import until

pytestmark = pytest.mark.timeout(60)
SECRETS = {"apiKey": API_KEY, "secret": API_SECRET}
SYM, VSYM = "BTC/USDT", "BTCUSDT"


class Protected(Strategy):
    """Buys on candle ``buy_on`` with a stop-loss and a take-profit; exits on ``sell_on``."""

    name = "test_protected"
    params = (Param("buy_on", int, 2), Param("sell_on", int, 0), Param("size", float, 0.05),
              Param("stop_loss", float, 0.02), Param("take_profit", float, 0.05), Param("timeframe", str, "5m"))

    def __init__(self, params=None):
        super().__init__(params)
        self.n = 0

    @property
    def warmup(self):
        return 0

    def on_candle(self, ctx, symbol, candle):
        self.n += 1
        if self.n == self.p["buy_on"]:
            return [Signal(candle[0], symbol, BUY, size=self.p["size"], stop_loss=self.p["stop_loss"] or None,
                           take_profit=self.p["take_profit"] or None, strategy=self.name)]
        if self.n == self.p["sell_on"] and ctx.position(symbol) is not None:
            return [Signal(candle[0], symbol, SELL, intent="exit", reason="scripted", strategy=self.name)]
        return None


strategies.register(Protected)


@pytest.fixture
def services(dirs):
    s = AppServices(*dirs)
    yield s
    s.close()


def make_engine(services, v, name, *, params=None, api_type="rest", **kw):
    conn = connection_for(v, name, live=True, strategy="test_protected", strategy_params=params or {},
                          rate_limit_per_second=1000, api_type=api_type)
    services.save_connection(conn)
    opts = dict(poll_interval=0.05, close_grace_ms=None, recv_window_ms=1000, settle_interval=0.05,
                max_settle_interval=0.2, timeout_ms=3000, reconcile_timeout_s=5,
                ws_retry_interval=0.1, max_ws_retry_interval=0.2, ws_sync_timeout=3.0)
    exchange_stops = kw.pop("exchange_stops", True)
    opts.update(kw)
    eng = ExchangeEngine(services.connection(name), bus=services.bus, recorder=services.recorder, secrets=SECRETS,
                         **opts)
    eng.protect_interval, eng.exchange_stops = 0.05, exchange_stops
    services.engines[name] = eng
    return eng


async def step(v, eng, n=1):
    for _ in range(n):
        seen = eng.core.candles_seen
        v.advance(1, VSYM)
        await until(lambda seen=seen: eng.core.candles_seen > seen or eng.state == ev.ERROR, what="the next candle")
        assert eng.state != ev.ERROR, eng.reason
    await until(lambda: not eng.core._inflight and all(o.state != PENDING_CREATE for o in eng.core.orders),
                what="the order round trips")


def rows(services, sql, *args):
    services.recorder.flush().result(10)
    con = sqlite3.connect(services.data_dir / DB_FILENAME)
    try:
        return con.execute(sql, args).fetchall()
    finally:
        con.close()


def open_legs(v):
    return sorted((o for o in v.state.orders.values() if o.is_open), key=lambda o: o.order_id)


async def armed_position(v, eng):
    """Run to the entry's fill and wait until its OCO rests at the venue; the position."""
    await step(v, eng, 2)
    await until(lambda: SYM in eng.core.portfolio.open and len(open_legs(v)) == 2, what="the OCO at the venue")
    return eng.core.portfolio.open[SYM]


# --------------------------------------------------------------------------- the venue's stop orders


def test_the_venue_holds_an_oco_with_one_reservation_and_expires_the_other_leg(venue):
    venue.add_account(API_KEY, API_SECRET, {"BTC": 1, "USDT": 0})
    price = venue.price(VSYM)

    async def go():
        gw = CcxtGateway(connection_for(venue, live=True), SECRETS)
        await gw.load_markets()
        tp = Order("t-tp", SYM, SELL, "limit_maker", 0.5, price=price * 1.05, reason="take-profit")
        sl = Order("t-sl", SYM, SELL, "stop_loss_limit", 0.5, price=price * 0.97, reason="stop-loss")
        await place_oco(gw, tp, sl, "t-list")
        assert tp.id and sl.id and tp.state == sl.state == "open"
        assert venue.balance(API_KEY, "BTC") == (0.5, 0.5)  # one reservation for both legs
        venue.set_price(VSYM, price * 0.96)  # through the stop
        await gw.fetch_order(sl)
        await gw.fetch_order(tp)
        # a second list, canceled as a whole
        tp2 = Order("t-tp2", SYM, SELL, "limit_maker", 0.2, price=price * 1.0, reason="take-profit")
        sl2 = Order("t-sl2", SYM, SELL, "stop_loss_limit", 0.2, price=price * 0.9, reason="stop-loss")
        await place_oco(gw, tp2, sl2, "t-list2")
        await cancel_protection(gw, [tp2, sl2], "t-list2")
        await gw.fetch_order(tp2)
        await gw.fetch_order(sl2)
        await gw.close()
        return tp, sl, tp2, sl2

    tp, sl, tp2, sl2 = asyncio.run(go())
    assert sl.state == FILLED and sl.filled == 0.5 and tp.state == "canceled"
    legs = {o.client_order_id: o for o in venue.state.orders.values()}
    assert legs["t-tp"].status == "EXPIRED" and float(legs["t-sl"].fills[0].price) == pytest.approx(sl.price)
    assert tp2.state == sl2.state == "canceled"
    free_btc, locked_btc = venue.balance(API_KEY, "BTC")
    assert (free_btc, locked_btc) == (0.5, 0.0)  # nothing stays reserved
    assert venue.balance(API_KEY, "USDT")[0] > 0


# --------------------------------------------------------------------------- live engine


def test_the_stop_lives_at_the_venue_and_closes_the_position_once_after_a_restart(services, venue):
    venue.add_account(API_KEY, API_SECRET, {"USDT": 10_000})
    eng = make_engine(services, venue, "stops live")

    async def first_run():
        await eng.start()
        assert eng.state == ev.RUNNING, eng.reason
        pos = await armed_position(venue, eng)
        await until(lambda: pos.protection == "exchange", what="the position marked as protected at the exchange")
        await eng.stop()
        return pos

    pos = asyncio.run(first_run())
    assert eng.state == ev.STOPPED
    tp, sl = open_legs(venue)  # left at the venue by the stop
    assert (tp.type, sl.type) == ("LIMIT_MAKER", "STOP_LOSS_LIMIT") and tp.order_list_id == sl.order_list_id
    assert float(sl.stop_price) == pytest.approx(pos.stop_loss) and float(tp.price) == pytest.approx(pos.take_profit)
    assert float(sl.orig_qty) == pytest.approx(pos.amount)
    assert rows(services, "select protection, stop_loss from positions where connection = ?", "stops live") == [
        ("exchange", pos.stop_loss)]
    # the app is stopped; the price falls through the stop: the venue sells
    venue.set_price(VSYM, pos.stop_loss * 0.99)
    assert sl.status == "FILLED" and tp.status == "EXPIRED"

    second = make_engine(services, venue, "stops live")

    async def second_run():
        await second.start()
        assert second.state == ev.RUNNING, second.reason
        await step(venue, second, 1)
        await second.stop()

    asyncio.run(second_run())
    sells = [o for o in venue.state.orders.values() if o.side == "SELL" and o.executed]
    assert len(sells) == 1  # the stop, and nothing else sold
    fills = rows(services, "select f.client_order_id, f.side, f.amount from fills f where f.connection = ? "
                           "order by f.id", "stops live")
    assert [f[1] for f in fills] == ["buy", "sell"]
    assert fills[1][0] == sl.client_order_id  # booked once, as the stop order's fill
    (row,) = rows(services, "select amount, closed_at is not null, close_reason from positions where connection = ?",
                  "stops live")
    assert row == (0.0, 1, "stop-loss")
    states = dict(rows(services, "select client_order_id, state from orders where connection = ?", "stops live"))
    assert states[sl.client_order_id] == "filled" and states[tp.client_order_id] == "canceled"
    # recorded as orders with their reason, linked to the position
    assert rows(services, "select reason, position_id from orders where connection = ? and reason != 'entry' "
                          "order by id", "stops live") == [("take-profit", pos.id), ("stop-loss", pos.id)]


def test_a_strategy_exit_cancels_the_oco_before_it_sells(services, venue):
    venue.add_account(API_KEY, API_SECRET, {"USDT": 10_000})
    eng = make_engine(services, venue, "stops exit", params={"buy_on": 2, "sell_on": 4})

    async def go():
        await eng.start()
        pos = await armed_position(venue, eng)
        await step(venue, eng, 2)
        await until(lambda: SYM not in eng.core.portfolio.open, what="the exit")
        await eng.stop()
        return pos

    pos = asyncio.run(go())
    assert not open_legs(venue)
    reasons = [(o.reason, o.state) for o in eng.core.orders]
    assert reasons == [("entry", "filled"), ("take-profit", "canceled"), ("stop-loss", "canceled"),
                       ("exit: scripted", "filled")]
    assert pos.close_reason == "exit: scripted"
    assert venue.balance(API_KEY, "BTC")[1] == 0.0  # nothing left reserved


@pytest.mark.parametrize("api_type", ["rest", "websocket"])
def test_an_app_held_stop_fires_on_a_price_update_before_the_candle_closes(services, venue, api_type):
    venue.add_account(API_KEY, API_SECRET, {"USDT": 10_000})
    eng = make_engine(services, venue, "stops app", exchange_stops=False, api_type=api_type)

    async def go():
        await eng.start()
        await step(venue, eng, 2)
        await until(lambda: SYM in eng.core.portfolio.open, what="the entry")
        pos = eng.core.portfolio.open[SYM]
        await until(lambda: pos.protection == "app", what="the stops held by the app")
        assert eng.data_source == api_type
        seen = eng.core.candles_seen
        venue.set_price(VSYM, pos.stop_loss * 0.995)  # the forming candle moves; none closes
        await until(lambda: SYM not in eng.core.portfolio.open, what="the stop-loss exit")
        assert eng.core.candles_seen == seen
        await eng.stop()
        return pos

    pos = asyncio.run(go())
    assert pos.close_reason == "stop-loss"
    assert [o.reason for o in eng.core.orders] == ["entry", "stop-loss"]
    assert not [o for o in venue.state.orders.values() if o.type.startswith(("STOP", "TAKE"))]
    tickers = [r for r in venue.requests if r[1].startswith("/api/v3/ticker")]
    if api_type == "rest":
        assert tickers  # polled from the ticker
    else:
        assert len(tickers) <= 1  # the forming candle is the price once the stream delivered one; a ticker may serve before


def test_a_restart_while_the_oco_rests_is_no_reconciliation_error_and_leaves_it_protecting(services, venue):
    venue.add_account(API_KEY, API_SECRET, {"USDT": 10_000})
    eng = make_engine(services, venue, "stops rest")

    async def run(e, arm):
        await e.start()
        assert e.state == ev.RUNNING, e.reason
        if arm:
            await armed_position(venue, e)
        else:
            await step(venue, e, 1)
        await e.stop()

    asyncio.run(run(eng, True))
    legs = open_legs(venue)
    second = make_engine(services, venue, "stops rest")
    asyncio.run(run(second, False))
    assert second.state == ev.STOPPED, second.reason
    assert open_legs(venue) == legs  # untouched: still protecting the coins
    assert [o for o in venue.state.orders.values() if o.side == "SELL" and o.executed] == []
    states = dict(rows(services, "select client_order_id, state from orders where connection = ?", "stops rest"))
    assert [states[o.client_order_id] for o in legs] == ["open", "open"]



def test_the_oco_is_replaced_when_the_position_changes_size(services, venue):
    venue.add_account(API_KEY, API_SECRET, {"USDT": 10_000})
    eng = make_engine(services, venue, "stops resize")

    async def go():
        await eng.start()
        pos = await armed_position(venue, eng)
        before = {o.order_id for o in open_legs(venue)}
        # the position shrinks (as when an exit fills in part, or it is resized to the wallet)
        pos.amount = round(pos.amount / 2, 5)
        await until(lambda: len(open_legs(venue)) == 2 and {o.order_id for o in open_legs(venue)} != before,
                    what="the OCO replaced")
        await eng.stop()
        return before, pos

    before, pos = asyncio.run(go())
    legs = open_legs(venue)
    assert all(float(o.orig_qty) == pytest.approx(pos.amount) for o in legs)
    assert all(venue.state.orders[i].status == "CANCELED" for i in before)
    assert venue.balance(API_KEY, "BTC")[1] == pytest.approx(pos.amount)  # reserved once, for the new size


def test_the_kill_switch_cancels_the_oco_and_flattens_without_rearming(services, venue):
    from cts_desktop.engine.kill import kill_engine

    venue.add_account(API_KEY, API_SECRET, {"USDT": 10_000})
    eng = make_engine(services, venue, "stops kill")

    async def go():
        await eng.start()
        await armed_position(venue, eng)
        report = await kill_engine(eng, flatten=True)
        return report

    report = asyncio.run(go())
    assert eng.state == ev.STOPPED
    assert report.flattened == 1 and not report.left_open and not report.errors, report.line()
    assert not open_legs(venue)
    assert venue.balance(API_KEY, "BTC") == (pytest.approx(0.0, abs=1e-5), 0.0)  # sold, nothing reserved
    assert [o.reason for o in eng.core.orders if o.reason in ("stop-loss", "take-profit")] == ["take-profit", "stop-loss"]
