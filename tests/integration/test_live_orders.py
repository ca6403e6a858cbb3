"""The order manager against the local venue with the real ccxt client and a real SQLite store:
entries filling in parts (nothing else sent on the symbol meanwhile), clientOrderIds of two data
dirs on one API key, the adoption check, fees in BNB and refused exits."""
from __future__ import annotations

import asyncio

import pytest

from cts_desktop.services.kill import KillService, request_resume

from cts_desktop.core import events as ev
from cts_desktop.core.models import FILLED, PARTIALLY_FILLED, PENDING_CREATE, Order
from cts_desktop.core.order_state import NOT_OURS
from cts_desktop.engine.orders import OrderSender
from cts_desktop.exchange.ccxt_gateway import CcxtGateway
from cts_desktop.services import AppServices
from cts_desktop.store.installation import ORDER_PREFIX_RE, order_id_prefix
from tests.integration.test_live_engine import SECRETS, SYM, VSYM, db_rows, make_engine, messages, venue_orders
from tests.venue.harness import API_KEY, API_SECRET, connection_for
from tests.waits import until

pytestmark = pytest.mark.timeout(90)


@pytest.fixture
def services(dirs):
    s = AppServices(*dirs)
    yield s
    s.close()


async def candle(v, *engines):
    """Close one more candle at the venue and wait until every engine has processed it."""
    seen = [e.core.candles_seen for e in engines]
    v.advance(1, VSYM)
    await until(lambda: all(e.core.candles_seen > s or e.state == ev.ERROR for e, s in zip(engines, seen)),
                what="the next candle")
    for e in engines:
        assert e.state != ev.ERROR, e.reason


def wallet(v, asset):
    free, locked = v.balance(API_KEY, asset)
    return free + locked


# --------------------------------------------------------------------------- partial fills


def test_entry_filling_in_parts_keeps_exits_back_until_it_is_filled(services, venue):
    acct = venue.add_account(API_KEY, API_SECRET, {"USDT": 10_000})
    acct.fill_parts = 4
    eng = make_engine(services, venue, "venue parts", live=True,
                      params={"buy_on": "2", "sell_on": "3,4,6", "size": 0.05})

    async def go():
        await eng.start()
        assert eng.state == ev.RUNNING, eng.reason
        await candle(venue, eng)
        await candle(venue, eng)  # candle 2: the entry goes out, 1 of 4 parts fills at once
        entry = eng.core.orders[0]
        await until(lambda: entry.state == PARTIALLY_FILLED and len(eng.core.fills) == 1, what="the first part")
        assert SYM in eng.core.portfolio.open  # a position from the first part
        await candle(venue, eng)  # candle 3: part 2; the strategy's exit is held back
        await candle(venue, eng)  # candle 4: part 3; exit held back again
        assert len(eng.core.orders) == 1 and entry.state != FILLED
        await candle(venue, eng)  # candle 5: last part
        await until(lambda: entry.state == FILLED and not eng.core._inflight, what="the entry to fill")
        assert len(eng.core.fills) == 4
        await candle(venue, eng)  # candle 6: the exit goes out, itself in parts
        await until(lambda: len(eng.core.orders) == 2 and eng.core.orders[1].id, what="the exit at the venue")
        exit_ = eng.core.orders[1]
        for _ in range(3):
            await candle(venue, eng)
        await until(lambda: exit_.state == FILLED and not eng.core._inflight, what="the exit to fill")
        await eng.stop()
        return entry, exit_

    entry, exit_ = asyncio.run(go())
    assert [(o.side, o.reason) for o in eng.core.orders] == [("buy", "entry"), ("sell", "exit: candle 6")]
    sent = [o for o in venue.state.orders.values() if o.account == API_KEY]
    assert [o.side for o in sent] == ["BUY", "SELL"]  # nothing else went out
    assert exit_.amount == pytest.approx(sum(f.amount for f in eng.core.fills[:4]))
    assert SYM not in eng.core.portfolio.open and not eng.core.portfolio.open
    assert all(p.side == "long" for p in eng.core.portfolio.closed)
    trade_ids = {str(t.trade_id) for o in sent for t in o.fills}
    booked = [r[0] for r in db_rows(services, "select fill_id from fills where connection = ?", "venue parts")]
    assert len(trade_ids) == 8 and sorted(booked) == sorted(trade_ids)  # every part booked once
    # no short, nothing left over but dust: each of the 4 buy fills is booked net of its BTC fee
    # and truncated to the 1e-5 lot step, so at most one step of dust per fill stays in the wallet
    assert 0 <= wallet(venue, "BTC") < 4e-5
    log = "\n".join(messages(services, "venue parts"))
    assert log.count("already in flight") == 2


# --------------------------------------------------------------------------- two data dirs, one key


def test_two_data_dirs_with_one_key_never_book_each_others_orders(tmp_path, venue):
    """Two data dirs of one installation trade on one API key, one after the other (one process
    binds one database at a time); each one's first order times out (response lost) and is
    looked up by its client id. Run numbers and sequence numbers repeat across the two
    databases; the client ids do not, so neither books the other's order."""
    venue.add_account(API_KEY, API_SECRET, {"USDT": 20_000})
    config = tmp_path / "config"
    results = []
    for data, size in ((tmp_path / "a", 0.05), (tmp_path / "b", 0.02)):
        svc = AppServices(data, config)
        try:
            eng = make_engine(svc, venue, "venue key", live=True, params={"buy_on": "2", "sell_on": "", "size": size},
                              order_prefix=order_id_prefix(data, config))
            venue.faults.lose_response(path="/api/v3/order", method="POST", count=1)

            async def go(eng=eng):
                await eng.start()
                assert eng.state == ev.RUNNING, eng.reason
                await candle(venue, eng)
                await candle(venue, eng)
                order = eng.core.orders[0]
                await until(lambda: order.state == FILLED and not eng.core._inflight, what="the order found and booked")
                await eng.stop()
                return order

            order = asyncio.run(go())
            results.append((order, eng.run_id, db_rows(svc, "select fill_id, order_id from fills"), len(eng.core.fills)))
        finally:
            svc.close()
    (oa, run_a, fills_a, na), (ob, run_b, fills_b, nb) = results
    assert run_a == run_b  # the same run number in both databases...
    assert oa.clientOrderId != ob.clientOrderId and oa.clientOrderId[:9] == ob.clientOrderId[:9]  # ...not the same id
    for o in (oa, ob):
        assert ORDER_PREFIX_RE.match(o.clientOrderId[:14]) and len(o.clientOrderId) <= 36
    assert venue.requests.count(("POST", "/api/v3/order")) == 2
    (va,), (vb,) = venue_orders(venue, oa.clientOrderId), venue_orders(venue, ob.clientOrderId)
    assert oa.id == str(va.order_id) and ob.id == str(vb.order_id) and va.orig_qty != vb.orig_qty
    assert fills_a == [(str(va.fills[0].trade_id), str(va.order_id))] and na == 1
    assert fills_b == [(str(vb.fills[0].trade_id), str(vb.order_id))] and nb == 1


def test_an_order_found_by_client_id_with_another_side_or_amount_is_flagged_never_booked(venue):
    venue.add_account(API_KEY, API_SECRET, {"USDT": 10_000, "BTC": 1})
    conn = connection_for(venue, "venue foreign", rate_limit_per_second=1000)

    class Ledger:
        booked, rejected = [], []

        def book(self, order, fill):
            self.booked.append(fill)

        def reject(self, order, reason):
            self.rejected.append(reason)

        def working(self, order):
            pass

        def settled(self, order):
            pass

    async def go():
        async with CcxtGateway(conn, SECRETS) as gw:
            await gw.load_markets()
            # another client's order under the client id we are about to look up
            await gw.create_order(Order(clientOrderId="ctsshared-1-1", symbol=SYM, side="sell", type="market",
                                        amount=0.02))
            ours = Order(clientOrderId="ctsshared-1-1", symbol=SYM, side="buy", type="market", amount=0.01)
            sender = OrderSender(gw, gw.markets(), recorder=None, log=lambda *a: None, secrets=(),
                                 settle_interval=0.01, max_settle_interval=0.05)
            ledger = Ledger()
            await sender.settle(ours, ledger, deadline=None)
            return ours, ledger

    ours, ledger = asyncio.run(go())
    assert ours.flag.startswith(NOT_OURS) and "side sell" in ours.flag and "amount 0.02" in ours.flag
    assert ours.filled == 0 and ours.state == "failed" and ledger.booked == [] and ledger.rejected


# --------------------------------------------------------------------------- fees in BNB


def test_fees_paid_in_bnb_are_converted_to_the_quote_and_booked(services, venue):
    venue.add_account(API_KEY, API_SECRET, {"USDT": 10_000, "BNB": 2})
    venue.state.enable_bnb_fees(250.0)
    eng = make_engine(services, venue, "venue bnb", live=True, params={"buy_on": "2", "sell_on": "", "size": 0.05})

    async def go():
        await eng.start()
        assert eng.state == ev.RUNNING, eng.reason
        await candle(venue, eng)
        await candle(venue, eng)
        order = eng.core.orders[0]
        await until(lambda: order.state == FILLED and eng.core.fills, what="the buy booked")
        await eng.stop()
        return order

    order = asyncio.run(go())
    (vo,) = venue_orders(venue, order.clientOrderId)
    trade = vo.fills[0]
    assert trade.commission_asset == "BNB"
    (fill,) = eng.core.fills
    assert fill.fee_currency == "USDT" and fill.fee == pytest.approx(float(trade.commission) * 250.0, rel=1e-9)
    assert fill.amount == float(trade.qty)  # no fee taken from the coins: the whole amount is held
    assert eng.core.portfolio.fees == pytest.approx(fill.fee)
    assert db_rows(services, "select fee, fee_currency from fills") == [(pytest.approx(fill.fee), "USDT")]


# --------------------------------------------------------------------------- refused exits


def _bought(services, venue, name, sell_on):
    acct = venue.add_account(API_KEY, API_SECRET, {"USDT": 10_000})
    eng = make_engine(services, venue, name, live=True, params={"buy_on": "2", "sell_on": sell_on, "size": 0.05})
    return acct, eng


async def _entry(venue, eng):
    await eng.start()
    assert eng.state == ev.RUNNING, eng.reason
    await candle(venue, eng)
    await candle(venue, eng)
    entry = eng.core.orders[0]
    await until(lambda: entry.state == FILLED and not eng.core._inflight, what="the entry")
    return eng.core.portfolio.open[SYM]


def test_exit_refused_after_coins_sold_by_hand_is_resized_to_the_wallet(services, venue):
    acct, eng = _bought(services, venue, "venue hand part", "3")

    async def go():
        pos = await _entry(venue, eng)
        held = pos.amount
        acct.free["BTC"] -= type(acct.free["BTC"])(str(round(held / 2, 5)))  # half sold by hand
        await candle(venue, eng)  # candle 3: the exit is refused, the wallet read, the exit resized and resent
        await until(lambda: SYM not in eng.core.portfolio.open and not eng.core._inflight, what="the position closed")
        await eng.stop()
        return held

    held = asyncio.run(go())
    refused, resent = eng.core.orders[1], eng.core.orders[2]
    assert refused.state == "failed" and "insufficient" in refused.error.lower()
    assert resent.state == FILLED and resent.amount == pytest.approx(held - round(held / 2, 5), abs=1e-5)
    (closed,) = eng.core.portfolio.closed
    assert closed.exit_amount == pytest.approx(resent.amount)
    assert venue.requests.count(("POST", "/api/v3/order")) == 3
    assert wallet(venue, "BTC") < 1e-5
    log = "\n".join(messages(services, "venue hand part"))
    assert "adjusted from" in log and "outside the app" in log


def test_exit_refused_with_less_than_the_minimum_left_closes_the_position_outside_the_app(services, venue):
    acct, eng = _bought(services, venue, "venue hand all", "3")

    async def go():
        await _entry(venue, eng)
        acct.free["BTC"] = type(acct.free["BTC"])("0.00001")  # nearly all sold by hand
        await candle(venue, eng)
        await until(lambda: SYM not in eng.core.portfolio.open and not eng.core._inflight, what="the position closed")
        await candle(venue, eng)  # a later candle: nothing more is sent
        await eng.stop()

    asyncio.run(go())
    (closed,) = eng.core.portfolio.closed
    assert closed.close_reason == "closed outside the app"
    assert len(eng.core.orders) == 2 and venue.requests.count(("POST", "/api/v3/order")) == 2
    rows = db_rows(services, "select close_reason from positions where connection = ?", "venue hand all")
    assert rows == [("closed outside the app",)]


def test_exits_refused_again_and_again_stop_after_the_limit_and_pause_the_symbol(services, venue):
    acct, eng = _bought(services, venue, "venue refused", "3")
    paused = []
    services.bus.subscribe(lambda e: paused.append(e) if isinstance(e, ev.SymbolPaused) else None)
    insufficient = '{"code":-2010,"msg":"Account has insufficient balance for requested action."}'

    async def go():
        await _entry(venue, eng)
        venue.faults.status(400, insufficient, path="/api/v3/order", method="POST")  # every order refused
        await candle(venue, eng)
        await until(lambda: SYM in eng.core.paused, what="the symbol paused")
        posts = venue.requests.count(("POST", "/api/v3/order"))
        eng.core.runners[0].strategy.buys.add(5)
        await candle(venue, eng)
        await candle(venue, eng)  # candle 5: an entry signal on the paused symbol is refused
        assert venue.requests.count(("POST", "/api/v3/order")) == posts
        venue.faults.clear()
        # the trader resumes it the way `cts-desktop risk resume NAME SYMBOL` does from another process:
        # a request file in the data dir, answered by the process running the engine
        services.engines["venue refused"] = eng
        killer = KillService(services)
        assert killer.paused("venue refused") == {SYM: eng.core.paused[SYM]}
        asked = asyncio.get_running_loop().run_in_executor(
            None, lambda: request_resume(services.data_dir, "venue refused", SYM, timeout=20))
        await until(lambda: killer.control.requests(), what="the resume request")
        assert await killer.serve_requests() == 1
        assert await asked == [f"venue refused: {SYM} resumed: entries and exits allowed again"]
        assert SYM not in eng.core.paused
        await eng.stop()
        return posts

    posts = asyncio.run(go())
    assert posts == 1 + 3  # the entry, then the exit refused 3 times (2 re-sends with back-off)
    assert [e.symbol for e in paused] == [SYM] and "3 exits in a row" in paused[0].reason
    assert SYM in eng.core.portfolio.open  # the coins are still there: nothing was closed by guess
    log = "\n".join(messages(services, "venue refused"))
    assert "paused" in log and "resumed" in log
