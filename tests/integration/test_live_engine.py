"""ExchangeEngine against the local venue with the real ccxt binance client and a real SQLite
store: paper trading on exchange candles, live orders, unknown outcomes, refusals, start-up
reconciliation and configuration errors."""
from __future__ import annotations

import asyncio
import sqlite3
import threading
import time

import pytest

from cts_desktop.core import events as ev
from cts_desktop.core.models import BUY, FAILED, FILLED, PENDING_CREATE, REJECTED, SELL, Order, Signal
from cts_desktop.core.risk import truncate_amount
from cts_desktop.engine import strategies
from cts_desktop.engine.live import ExchangeEngine
from cts_desktop.engine.strategies.base import Param, Strategy
from cts_desktop.exchange.ccxt_gateway import CcxtGateway
from cts_desktop.services import AppServices
from cts_desktop.store import repositories as repo
from cts_desktop.store.db import DB_FILENAME
from tests.venue.harness import API_KEY, API_SECRET, connection_for
from tests.waits import until

pytestmark = pytest.mark.timeout(60)
SECRETS = {"apiKey": API_KEY, "secret": API_SECRET}
SYM, VSYM = "BTC/USDT", "BTCUSDT"


class Scripted(Strategy):
    """Buys on the listed candle numbers and exits on others (counted per symbol, from 1)."""

    name = "test_scripted"
    params = (Param("buy_on", str, "2"), Param("sell_on", str, "4"), Param("size", float, 0.01),
              Param("timeframe", str, "5m"), Param("warmup_candles", int, 0))

    def __init__(self, params=None):
        super().__init__(params)
        self.n = {}
        self.buys = {int(x) for x in self.p["buy_on"].split(",") if x}
        self.sells = {int(x) for x in self.p["sell_on"].split(",") if x}
        self.seen = []

    @property
    def warmup(self):
        return self.p["warmup_candles"]

    def on_candle(self, ctx, symbol, candle):
        self.seen.append(candle[0])
        n = self.n[symbol] = self.n.get(symbol, 0) + 1
        if n in self.buys:
            return [Signal(candle[0], symbol, BUY, size=self.p["size"], reason=f"candle {n}", strategy=self.name)]
        if n in self.sells and ctx.position(symbol) is not None:
            return [Signal(candle[0], symbol, SELL, intent="exit", reason=f"candle {n}", strategy=self.name)]
        return None


strategies.register(Scripted)


@pytest.fixture
def services(dirs):
    s = AppServices(*dirs)
    yield s
    s.close()


def make_engine(services, v, name, *, live, params=None, secrets=SECRETS, **kw):
    conn = connection_for(v, name, live=live, strategy="test_scripted", strategy_params=params or {},
                          rate_limit_per_second=1000, starting_balance=10_000)
    services.save_connection(conn)
    opts = dict(poll_interval=0.05, close_grace_ms=None, recv_window_ms=1000, settle_interval=0.05,
                max_settle_interval=0.2, timeout_ms=3000, reconcile_timeout_s=5)
    opts.update(kw)
    eng = ExchangeEngine(services.connection(name), bus=services.bus, recorder=services.recorder,
                         secrets=secrets if live else None, **opts)
    services.engines[name] = eng
    return eng


def round_trips_over(eng) -> bool:
    """No live order is still being sent or waiting for its executions to be booked. (A paper
    order waits for the next candle's open by design.)"""
    core = eng.core
    return not eng.live or (not core._inflight and all(o.state != PENDING_CREATE for o in core.orders))


async def step(v, eng, n=1):
    """Close ``n`` more candles at the venue and wait until the engine has processed them and
    its orders' round trips are over."""
    for _ in range(n):
        seen = eng.core.candles_seen
        v.advance(1, VSYM)
        await until(lambda seen=seen: eng.core.candles_seen > seen or eng.state == ev.ERROR, what="the next candle")
        assert eng.state != ev.ERROR, eng.reason
    await until(lambda: round_trips_over(eng) or eng.state == ev.ERROR, what="the order round trips")


def venue_orders(v, cid):
    return [o for o in v.state.orders.values() if o.client_order_id == cid]


def db_rows(services, sql, *args):
    services.recorder.flush().result(10)
    con = sqlite3.connect(services.data_dir / DB_FILENAME)
    try:
        return con.execute(sql, args).fetchall()
    finally:
        con.close()


def messages(services, name):
    services.recorder.flush().result(10)
    return [e.message for e in repo.events(name)]


# --------------------------------------------------------------------------- wiring


def test_services_builds_an_exchange_engine_for_ccxt_connections(services, venue):
    services.save_connection(connection_for(venue, "venue paper", live=False))
    assert isinstance(services.engine("venue paper"), ExchangeEngine)
    assert type(services.engine("Paper - recorded market")).__name__ == "TradeEngine"


# --------------------------------------------------------------------------- (a) paper on real candles


def test_paper_mode_trades_on_exchange_candles_without_keys(services, venue):
    eng = make_engine(services, venue, "venue paper", live=False,
                      params={"buy_on": "2", "sell_on": "4", "size": 0.1, "warmup_candles": 3})
    path = venue.state.paths[VSYM]
    start = path.cursor

    async def go():
        await eng.start()
        assert eng.state == ev.RUNNING, eng.reason
        strategy = eng.core.runners[0].strategy
        # warm-up: the 3 candles before the forming one, no trading; the forming one is dropped
        assert strategy.seen == [path.candles[i][0] for i in range(start - 3, start)]
        assert eng.core.candles_seen == 0 and not eng.core.orders
        strategy.n.clear()  # count traded candles from here
        await step(venue, eng, 5)
        await eng.stop()

    asyncio.run(go())
    assert eng.state == ev.STOPPED
    fills = eng.core.fills
    assert [f.side for f in fills] == ["buy", "sell"]
    # signal on candle 2 (cursor start+1) fills at the open of candle 3; the exit at candle 5's open
    assert fills[0].price == pytest.approx(path.candles[start + 2][1], abs=0.006)
    assert fills[1].price == pytest.approx(path.candles[start + 4][1], abs=0.006)
    assert fills[0].id.startswith("paper-") and eng.summary()["trades"] == 1
    assert eng.core.portfolio.starting_balance == 10_000
    private = [r for r in venue.requests if r[1] in ("/api/v3/order", "/api/v3/account", "/api/v3/myTrades")]
    assert private == []  # public data only
    assert repo.latest_run("venue paper").mode == "paper"
    assert db_rows(services, "select count(*) from fills where connection = ?", "venue paper")[0][0] == 2


# --------------------------------------------------------------------------- (b) live round trip


def test_live_buy_and_sell_are_booked_like_paper_fills(services, venue):
    venue.add_account(API_KEY, API_SECRET, {"USDT": 10_000})  # no BTC: the sell must fit what the buy gave
    eng = make_engine(services, venue, "venue live", live=True, params={"buy_on": "2", "sell_on": "4", "size": 0.05})

    async def go():
        await eng.start()
        assert eng.state == ev.RUNNING, eng.reason
        assert eng.core.portfolio.starting_balance == 10_000  # the free USDT at the exchange
        await step(venue, eng, 2)
        buy = eng.core.orders[0]
        await until(lambda: buy.state == FILLED, what="the buy fill")
        pos = eng.core.portfolio.open[SYM]
        (vo,) = venue_orders(venue, buy.clientOrderId)
        assert buy.id == str(vo.order_id) and vo.status == "FILLED"
        trade = vo.fills[0]
        gross = float(trade.qty)
        # fee taken in BTC by the exchange: the position is what the wallet holds, on the lot step
        assert pos.amount == truncate_amount(gross - float(trade.commission), 1e-5)
        assert pos.entry_price == float(trade.price)
        assert venue.balance(API_KEY, "BTC")[0] >= pos.amount
        await step(venue, eng, 2)
        sell = eng.core.orders[1]
        await until(lambda: sell.state == FILLED, what="the sell fill")
        assert SYM not in eng.core.portfolio.open
        await eng.stop()
        return buy, sell

    buy, sell = asyncio.run(go())
    assert eng.state == ev.STOPPED
    assert sell.amount == eng.core.fills[0].amount  # sold exactly the booked position
    # the portfolio's cash agrees with the exchange's
    assert eng.core.portfolio.balance == pytest.approx(venue.balance(API_KEY, "USDT")[0], abs=1e-6)
    rows = db_rows(services, "select client_order_id, exchange_id, state, status from orders where connection = ? "
                             "order by id", "venue live")
    assert [(r[0], r[2], r[3]) for r in rows] == [(buy.clientOrderId, "filled", "closed"), (sell.clientOrderId, "filled", "closed")]
    assert all(r[1] for r in rows)
    fills = db_rows(services, "select fill_id, order_id, side from fills where connection = ? order by id", "venue live")
    trade_ids = [str(t.trade_id) for o in (buy, sell) for t in venue_orders(venue, o.clientOrderId)[0].fills]
    assert [f[0] for f in fills] == trade_ids and [f[2] for f in fills] == ["buy", "sell"]
    assert db_rows(services, "select count(*) from positions where connection = ? and closed_at is not null",
                   "venue live")[0][0] == 1
    log = "\n".join(messages(services, "venue live"))
    assert API_KEY not in log and API_SECRET not in log


# --------------------------------------------------------------------------- (c) lost response


def test_lost_response_is_settled_by_query_never_resent(services, venue):
    venue.add_account(API_KEY, API_SECRET, {"USDT": 10_000, "BTC": 1})
    eng = make_engine(services, venue, "venue lost", live=True, params={"buy_on": "2", "sell_on": "", "size": 0.05})
    venue.faults.lose_response(path="/api/v3/order", method="POST", count=1)

    async def go():
        await eng.start()
        assert eng.state == ev.RUNNING, eng.reason
        await step(venue, eng, 2)
        order = eng.core.orders[0]
        await until(lambda: order.state == FILLED, what="the order to be found and booked")
        await step(venue, eng, 1)  # a later candle: the settled order is not sent again meanwhile
        await eng.stop()
        return order

    order = asyncio.run(go())
    assert len(venue_orders(venue, order.clientOrderId)) == 1
    assert venue.requests.count(("POST", "/api/v3/order")) == 1
    assert len(eng.core.fills) == 1 and eng.core.portfolio.open[SYM].amount > 0
    assert any("outcome unknown" in m for m in messages(services, "venue lost"))
    assert db_rows(services, "select count(*) from fills where client_order_id = ?", order.clientOrderId)[0][0] == 1


# --------------------------------------------------------------------------- (d) refusals


def test_insufficient_balance_is_rejected_and_the_engine_carries_on(services, venue):
    acct = venue.add_account(API_KEY, API_SECRET, {"USDT": 10_000})
    eng = make_engine(services, venue, "venue poor", live=True, params={"buy_on": "2,3", "sell_on": "", "size": 0.05})

    async def go():
        await eng.start()
        assert eng.state == ev.RUNNING, eng.reason
        saved = acct.free["USDT"]
        acct.free["USDT"] = type(saved)(5)  # someone spent the money elsewhere
        await step(venue, eng, 2)
        first = eng.core.orders[0]
        await until(lambda: first.state == FAILED, what="the rejection")
        assert eng.state == ev.RUNNING
        acct.free["USDT"] = saved
        await step(venue, eng, 1)
        second = eng.core.orders[1]
        await until(lambda: second.state == FILLED, what="the next order")
        await eng.stop()
        return first, second

    first, second = asyncio.run(go())
    assert first.status == REJECTED and "Insufficient balance" in first.error
    assert venue_orders(venue, first.clientOrderId) == [] and len(venue_orders(venue, second.clientOrderId)) == 1
    row = db_rows(services, "select state, status, error from orders where client_order_id = ?", first.clientOrderId)[0]
    assert row[:2] == ("failed", "rejected") and "Insufficient balance" in row[2]
    assert eng.state == ev.STOPPED


def test_min_notional_refusal_is_rejected_with_the_exchange_reason(services, venue):
    venue.add_account(API_KEY, API_SECRET, {"USDT": 10_000})
    eng = make_engine(services, venue, "venue tiny", live=True, params={"buy_on": "2", "sell_on": "", "size": 0.0002})

    async def go():
        await eng.start()
        assert eng.state == ev.RUNNING, eng.reason
        eng.core.markets[SYM].min_cost = 0.0  # our copy of the rules is stale: the exchange decides
        await step(venue, eng, 2)
        order = eng.core.orders[0]
        await until(lambda: order.state == FAILED, what="the rejection")
        await step(venue, eng, 1)  # still running
        await eng.stop()
        return order

    order = asyncio.run(go())
    assert order.status == REJECTED and "minimum" in order.error and "MIN_NOTIONAL" in order.error
    assert eng.state == ev.STOPPED and not eng.core.fills


# --------------------------------------------------------------------------- (e) reconciliation


def _crashed_order(services, v, name, cid_suffix, *, at_venue, limit_price=None):
    """An order row left pending-create by an earlier run (as after a crash right after sending);
    with ``at_venue`` the exchange did receive it."""
    services.save_connection(connection_for(v, name, live=True, strategy="test_scripted"))
    run_id = services.recorder.begin_run(name, "live", strategy="test_scripted", currency="USDT", starting_balance=1000)
    order = Order(clientOrderId=f"cts-{run_id}-{cid_suffix}", symbol=SYM, side="buy",
                  type="limit" if limit_price else "market", amount=0.01, price=limit_price,
                  timestamp=int(time.time() * 1000))
    services.recorder.order(run_id, name, order)
    services.recorder.flush().result(10)
    if at_venue:
        async def send():
            async with CcxtGateway(connection_for(v, name, rate_limit_per_second=1000), SECRETS) as gw:
                await gw.create_order(Order(clientOrderId=order.clientOrderId, symbol=SYM, side="buy",
                                            type=order.type, amount=0.01, price=limit_price))
        asyncio.run(send())
    return run_id, order.clientOrderId


def test_restart_reconciles_orders_left_in_flight(services, venue):
    venue.add_account(API_KEY, API_SECRET, {"USDT": 10_000})
    run_id, filled_cid = _crashed_order(services, venue, "venue crash", "1", at_venue=True)
    lost_run, lost_cid = _crashed_order(services, venue, "venue crash", "2", at_venue=False)
    # an order a paper run of the same connection left open never reached the exchange: ignored
    paper_run = services.recorder.begin_run("venue crash", "paper", currency="USDT", starting_balance=1000)
    services.recorder.order(paper_run, "venue crash", Order(clientOrderId=f"cts-{paper_run}-1", symbol=SYM, side="buy",
                                                            type="market", amount=0.01, id="paper-x", state="open"))
    services.recorder.flush().result(10)
    eng = make_engine(services, venue, "venue crash", live=True, params={"buy_on": "", "sell_on": ""})

    async def go():
        await eng.start()
        await eng.stop()

    asyncio.run(go())
    assert eng.state == ev.STOPPED, eng.reason
    (vo,) = venue_orders(venue, filled_cid)
    rows = dict((r[0], r[1:]) for r in db_rows(
        services, "select client_order_id, state, exchange_id, run_id, error from orders where connection = ?",
        "venue crash"))
    assert rows[filled_cid][:3] == ("filled", str(vo.order_id), run_id)
    # the never-received order failed by the rule: two not-found answers W apart (W in the reason)
    window = eng.unknown_order_window_ms() / 1000
    assert rows[lost_cid][0] == "failed"
    assert f"the exchange never received it (not found {window:g} s after the request expired)" in rows[lost_cid][3]
    assert venue.requests.count(("GET", "/api/v3/order")) >= 3  # the filled order once, the lost one twice
    fills = db_rows(services, "select fill_id, run_id, client_order_id from fills where connection = ?", "venue crash")
    assert fills == [(str(vo.fills[0].trade_id), run_id, filled_cid)]
    # the earlier run's position (from the fill booked at this start) is carried in, equal to the
    # wallet; the starting balance is the free USDT plus its entry notional
    (pos,) = eng.core.portfolio.open.values()
    wallet_btc = sum(venue.balance(API_KEY, "BTC"))
    # (the latest live run before this one, which would have carried run_id's position on)
    assert pos.amount == pytest.approx(wallet_btc) and pos.meta["carried_from_run"] == lost_run
    assert eng.core.portfolio.starting_balance == pytest.approx(
        venue.balance(API_KEY, "USDT")[0] + pos.amount * pos.entry_price)
    report = eng.reconciliation
    assert [p["action"] for p in report.positions] == ["carried"] and len(report.fills) == 1
    assert {o["client_order_id"] for o in report.settled} == {filled_cid, lost_cid}
    assert set(report.interrupted) == {run_id, lost_run, paper_run}  # left "running" by the earlier runs
    assert venue.requests.count(("POST", "/api/v3/order")) == 1  # nothing resent

    # a second start finds nothing to reconcile and books nothing twice
    again = make_engine(services, venue, "venue crash", live=True, params={"buy_on": "", "sell_on": ""})

    async def go2():
        await again.start()
        await again.stop()

    asyncio.run(go2())
    assert again.state == ev.STOPPED and not again.reconciled
    assert db_rows(services, "select count(*) from fills where connection = ?", "venue crash")[0][0] == 1
    (pos2,) = again.core.portfolio.open.values()  # carried on again, from the run that carried it
    assert (pos2.amount, pos2.entry_price) == pytest.approx((pos.amount, pos.entry_price))
    assert pos2.meta["carried_from_run"] == eng.run_id


def test_unsettleable_order_makes_the_run_close_only(services, venue):
    venue.add_account(API_KEY, API_SECRET, {"USDT": 10_000})
    _, cid = _crashed_order(services, venue, "venue stuck", "1", at_venue=True)
    venue.faults.status(500, path="/api/v3/order", method="GET")  # the exchange cannot answer queries
    eng = make_engine(services, venue, "venue stuck", live=True, reconcile_timeout_s=1.0,
                      params={"buy_on": "1", "sell_on": ""})

    async def go():
        await eng.start()
        assert eng.state == ev.RUNNING, eng.reason  # not an error: it trades close-only
        await step(venue, eng, 1)  # candle 1: a buy signal, refused
        await eng.stop()

    asyncio.run(go())
    held = eng.core.breakers.holds["reconciliation"]
    assert held.startswith(f"close-only: reconciliation failed: cannot reconcile order {cid}:")
    assert "Traceback" not in held and not eng.reconciliation.ok
    refused = db_rows(services, "select accepted, verdict from signals where connection = ?", "venue stuck")
    assert refused == [(0, held)]
    assert venue.requests.count(("POST", "/api/v3/order")) == 1  # only the earlier run's order
    stored = db_rows(services, "select ok, detail from reconciliations where run_id = ?", eng.run_id)
    assert stored == [(0, eng.reconciliation.detail())] and "FAILED, close-only" in stored[0][1]


def test_order_still_open_at_the_exchange_is_adopted(services, venue):
    venue.add_account(API_KEY, API_SECRET, {"USDT": 10_000})
    price = venue.price(VSYM)
    _, cid = _crashed_order(services, venue, "venue open", "1", at_venue=True, limit_price=round(price * 0.9, 2))
    eng = make_engine(services, venue, "venue open", live=True, params={"buy_on": "", "sell_on": ""})

    async def go():
        await eng.start()
        assert eng.state == ev.RUNNING, eng.reason
        assert eng.core._inflight[SYM].clientOrderId == cid  # followed by the new run
        await eng.stop()

    asyncio.run(go())
    assert [o["client_order_id"] for o in eng.reconciliation.adopted] == [cid] and eng.reconciliation.ok
    assert db_rows(services, "select run_id from orders where client_order_id = ?", cid) == [(eng.run_id,)]


# --------------------------------------------------------------------------- (f) configuration errors


def test_unknown_symbol_gives_a_clear_error(services, venue):
    conn = connection_for(venue, "venue foo", live=False, symbols=["FOO/USDT"], strategy="test_scripted",
                          rate_limit_per_second=1000)
    services.save_connection(conn)
    eng = services.engine("venue foo")
    asyncio.run(eng.start())
    assert eng.state == ev.ERROR and "does not list FOO/USDT" in eng.reason
    assert services.engine_state("venue foo") == ev.ERROR


def test_live_without_credentials_and_unreachable_exchange(services, venue):
    eng = make_engine(services, venue, "venue nokeys", live=True, secrets={})
    asyncio.run(eng.start())
    assert eng.state == ev.ERROR and "live trading refused" in eng.reason and "has no credentials" in eng.reason
    venue.add_account(API_KEY, API_SECRET, {"USDT": 10_000})
    venue.stop()
    eng = make_engine(services, venue, "venue down", live=False)
    asyncio.run(eng.start())
    assert eng.state == ev.ERROR and "Cannot reach" in eng.reason and "Traceback" not in eng.reason


@pytest.mark.parametrize("hand_edit, refused", [
    ({"last_test": {}}, "has not been tested"),
    ({"last_test": {"ok": False, "error_kind": "auth"}}, "failed (auth)"),
    ({"live_confirmation": {}}, "never confirmed"),
    ({"last_test": {"ok": True, "credentials_fingerprint": "0" * 64}}, "changed since the last passing test"),
])
def test_a_hand_edited_live_switch_cannot_send_an_order(services, venue, hand_edit, refused):
    """`"live": true` written into connections.json without a passing test and the typed confirmation
    for the current credentials: the engine refuses before it sends a single request."""
    venue.add_account(API_KEY, API_SECRET, {"USDT": 10_000})
    conn = connection_for(venue, "venue hand", live=True, strategy="test_scripted",
                          strategy_params={"buy_on": "1,2", "sell_on": ""}, **hand_edit)
    services.save_connection(conn)
    seen = len(venue.requests)
    eng = ExchangeEngine(services.connection("venue hand"), bus=services.bus, recorder=services.recorder,
                         secrets=SECRETS, poll_interval=0.05, timeout_ms=3000)
    asyncio.run(eng.start())
    assert eng.state == ev.ERROR and "live trading refused" in eng.reason and refused in eng.reason
    assert venue.requests[seen:] == []  # not even the markets were asked for


# --------------------------------------------------------------------------- pause


def test_candles_closed_during_a_pause_are_not_traded(services, venue):
    eng = make_engine(services, venue, "venue pause", live=False, params={"buy_on": "1,2,3", "sell_on": ""})
    # a witness: a second engine on the same venue and loop that is not paused
    witness = make_engine(services, venue, "venue witness", live=False, params={"buy_on": "", "sell_on": ""})
    logged = []
    services.bus.subscribe(lambda e: logged.append(e.message)
                           if isinstance(e, ev.LogEvent) and e.connection == "venue pause" else None)

    async def go():
        await eng.start()
        await witness.start()
        strategy = eng.core.runners[0].strategy
        eng.pause()
        eng.set_speed("max")  # no effect on an exchange
        venue.advance(2, VSYM)
        # (2 candles at once: the older one arrives a timeframe late, warm-up only: see test_feeds_watchdog)
        await until(lambda: witness.core.candles_seen + witness.feed.late_candles == 2,
                    what="the witness to process the 2 candles")
        assert strategy.seen == [] and eng.state == ev.PAUSED
        eng.resume()
        await until(lambda: any("2 candles closed during the pause: fed without trading" in m for m in logged),
                    what="the catch-up")
        assert len(strategy.seen) == 2
        assert eng.core.candles_seen == 0 and not eng.core.orders  # seen by the strategy, not traded
        await witness.stop()
        await step(venue, eng, 1)  # candle 3: traded
        await eng.stop()

    asyncio.run(go())
    assert len(eng.core.orders) == 1 and eng.core.orders[0].reason == "entry"


# --------------------------------------------------------------------------- the strategy's thread


def test_the_strategy_thread_runs_strategy_code_only(services, venue):
    """An exchange engine calls its strategies on a worker thread (their time budget), and only
    them: the account (fills, positions, risk verdicts, orders, records, events) is touched on the
    engine's loop alone, so nothing the loop books meanwhile races a candle's step. Every call made
    on the worker thread during a live round trip is listed here and checked."""
    venue.add_account(API_KEY, API_SECRET, {"USDT": 10_000})
    eng = make_engine(services, venue, "venue worker", live=True, params={"buy_on": "2", "sell_on": "4", "size": 0.05})
    on_worker = set()

    def profile(frame, event, arg):
        if event == "call" and threading.current_thread().name.startswith("cts-strategy"):
            module = frame.f_globals.get("__name__", "")
            if module.startswith("cts_desktop."):
                on_worker.add(f"{module}.{frame.f_code.co_name}")

    threading.setprofile(profile)  # threads started from here on: the engine's worker

    async def go():
        await eng.start()
        assert eng.state == ev.RUNNING, eng.reason
        await step(venue, eng, 5)
        await eng.stop()

    try:
        asyncio.run(go())
    finally:
        threading.setprofile(None)
    assert [o.state for o in eng.core.orders] == [FILLED, FILLED]
    assert "cts_desktop.engine.core.strategy_results" in on_worker  # the profile saw the worker
    allowed = {"cts_desktop.engine.watchdog._work", "cts_desktop.engine.watchdog._resolve",
               "cts_desktop.engine.core.strategy_results", "cts_desktop.engine.core.position",
               "cts_desktop.core.models.__init__", "cts_desktop.core.models.__post_init__"}
    assert on_worker <= allowed, sorted(on_worker - allowed)
