"""Positions survive live restarts (the real ccxt client against the local venue, a real SQLite
store): carried with entry, stops and strategy; reduced or closed when coins were sold by hand at
the exchange (with a record saying so); orders at the exchange with our prefix that the database
does not know adopted, others listed; the review stored and readable."""
from __future__ import annotations

import asyncio

import pytest

from cts_desktop.core import events as ev
from cts_desktop.core.models import Order
from cts_desktop.exchange.ccxt_gateway import CcxtGateway
from cts_desktop.services import AppServices
from tests.integration.test_live_engine import SECRETS, SYM, VSYM, make_engine, messages, step
from tests.venue.harness import API_KEY, API_SECRET, connection_for

pytestmark = pytest.mark.timeout(60)


@pytest.fixture
def services(dirs):
    s = AppServices(*dirs)
    yield s
    s.close()


def _run(eng, venue, candles=0):
    async def go():
        await eng.start()
        assert eng.state == ev.RUNNING, eng.reason
        if candles:
            await step(venue, eng, candles)
        await eng.stop()

    asyncio.run(go())
    assert eng.state == ev.STOPPED, eng.reason


async def _hand_sell(venue, amount, cid):
    async with CcxtGateway(connection_for(venue, "by hand", rate_limit_per_second=1000), SECRETS) as gw:
        await gw.create_order(Order(clientOrderId=cid, symbol=SYM, side="sell", type="market", amount=amount))


def _sell_by_hand(venue, amount, cid):
    asyncio.run(_hand_sell(venue, amount, cid))


def test_a_position_is_carried_then_reduced_then_closed_by_hand(services, venue):
    acct = venue.add_account(API_KEY, API_SECRET, {"USDT": 10_000})
    acct.maker_bps = acct.taker_bps = 0  # no fee dust: the position equals the wallet exactly
    first = make_engine(services, venue, "venue carry", live=True,
                        params={"buy_on": "1", "sell_on": "", "size": 0.05})
    _run(first, venue, candles=1)
    (opened,) = first.core.portfolio.open.values()
    wallet = sum(venue.balance(API_KEY, "BTC"))
    assert opened.amount == pytest.approx(wallet)

    second = make_engine(services, venue, "venue carry", live=True, params={"buy_on": "", "sell_on": ""})
    _run(second, venue)
    (carried,) = second.core.portfolio.open.values()
    assert (carried.amount, carried.entry_price, carried.strategy) == (opened.amount, opened.entry_price,
                                                                       opened.strategy)
    assert carried.meta["carried_from_run"] == first.run_id
    assert second.core.portfolio.starting_balance == pytest.approx(
        venue.balance(API_KEY, "USDT")[0] + carried.amount * carried.entry_price)
    assert [p["action"] for p in second.reconciliation.positions] == ["carried"]

    # half the coins sold by hand at the exchange: the next run carries the rest, and says so
    half = round(wallet / 2, 5)
    _sell_by_hand(venue, half, "web_hand_1")
    third = make_engine(services, venue, "venue carry", live=True, params={"buy_on": "", "sell_on": ""})
    _run(third, venue)
    (reduced,) = third.core.portfolio.open.values()
    left = sum(venue.balance(API_KEY, "BTC"))
    assert reduced.amount == pytest.approx(left) and reduced.entry_price == opened.entry_price
    (row,) = third.reconciliation.positions
    assert row["action"] == "reduced" and row["recorded_amount"] == pytest.approx(wallet)
    assert any(f"reduced outside the app: the wallet holds {left:g} BTC" in m for m in messages(services, "venue carry"))
    review = services.reconciliation_review("venue carry", third.run_id)
    assert any(line.strip().startswith("reduced: long") for line in review.lines())

    # the rest sold by hand: the position is closed outside the app, nothing carried
    _sell_by_hand(venue, left, "web_hand_2")
    fourth = make_engine(services, venue, "venue carry", live=True, params={"buy_on": "", "sell_on": ""})
    _run(fourth, venue)
    assert not fourth.core.portfolio.open
    assert [p["action"] for p in fourth.reconciliation.positions] == ["closed"]
    assert fourth.core.portfolio.starting_balance == pytest.approx(venue.balance(API_KEY, "USDT")[0])
    fifth = make_engine(services, venue, "venue carry", live=True, params={"buy_on": "", "sell_on": ""})
    _run(fifth, venue)
    assert not fifth.core.portfolio.open and fifth.reconciliation.positions == []


def test_unknown_orders_with_our_prefix_are_adopted_others_listed(services, venue):
    venue.add_account(API_KEY, API_SECRET, {"USDT": 10_000})
    eng = make_engine(services, venue, "venue adopt", live=True, params={"buy_on": "", "sell_on": ""})
    price = venue.price(VSYM)
    ours, foreign = f"{_prefix(eng)}77-1", "web_foreign_1"

    async def place():
        async with CcxtGateway(connection_for(venue, "elsewhere", rate_limit_per_second=1000), SECRETS) as gw:
            for cid in (ours, foreign):
                await gw.create_order(Order(clientOrderId=cid, symbol=SYM, side="buy", type="limit", amount=0.001,
                                            price=round(price * 0.8, 2)))
    asyncio.run(place())

    async def go():
        await eng.start()
        assert eng.state == ev.RUNNING, eng.reason
        assert eng.core._inflight[SYM].clientOrderId == ours  # followed by this run
        await eng.stop()

    asyncio.run(go())
    rep = eng.reconciliation
    assert [o["client_order_id"] for o in rep.adopted] == [ours]
    assert [o["client_order_id"] for o in rep.listed] == [foreign]
    assert rep.ok
    assert any(f"({foreign}): left as it is" in m for m in messages(services, "venue adopt"))
    lines = services.reconciliation_review("venue adopt", eng.run_id).lines()
    assert any(ours in line for line in lines) and any(foreign in line for line in lines)


def _prefix(eng):
    from pathlib import Path

    from cts_desktop.store.installation import order_id_prefix

    return eng.order_prefix or order_id_prefix(Path(str(eng.recorder.db.database)).parent)


def test_a_version_3_database_gets_the_reconciliations_table(tmp_path):
    import sqlite3

    from cts_desktop.store import db as store_db
    from cts_desktop.store import reconciliations as recs

    store_db.open_database(tmp_path).close()
    con = sqlite3.connect(tmp_path / store_db.DB_FILENAME)
    con.execute("drop table reconciliations")
    con.execute("update meta set value = '3' where key = 'schema_version'")
    con.commit()
    con.close()
    db = store_db.open_database(tmp_path)
    try:
        run = store_db.Run.create(connection="x", mode="live", started_at=0)
        recs.save(run.id, "x", {"interrupted": [7]}, ok=True, detail="1 run(s) marked interrupted")
        assert recs.for_run(run.id)[0]["interrupted"] == [7]
        assert store_db.Meta.get(store_db.Meta.key == "schema_version").value == str(store_db.SCHEMA_VERSION)
    finally:
        db.close()



def test_after_a_reconnect_coins_sold_by_hand_reduce_the_position_before_trading_on(services, venue):
    from tests.waits import until

    acct = venue.add_account(API_KEY, API_SECRET, {"USDT": 10_000})
    acct.maker_bps = acct.taker_bps = 0
    eng = make_engine(services, venue, "venue reconnect", live=True,
                      params={"buy_on": "1", "sell_on": "", "size": 0.05})

    async def go():
        await eng.start()
        await step(venue, eng, 1)  # candle 1: bought
        (pos,) = eng.core.portfolio.open.values()
        bought = pos.amount
        venue.faults.status(503, path="/api/v3/klines", count=2)  # the exchange is unreachable for a while
        await _hand_sell(venue, round(bought / 2, 5), "web_hand_reconnect")  # ...and coins are sold by hand
        seen = eng.core.candles_seen
        venue.advance(1, VSYM)
        await until(lambda: eng.core.candles_seen > seen or eng.state == ev.ERROR, what="the next candle")
        assert eng.state == ev.RUNNING, eng.reason
        await eng.stop()
        return bought

    bought = asyncio.run(go())
    left = sum(venue.balance(API_KEY, "BTC"))
    (pos,) = eng.core.portfolio.open.values()
    assert pos.amount == pytest.approx(left) and left < bought
    stored = services.reconciliation_review("venue reconnect", eng.run_id)
    assert stored is not None and stored.ok
    assert any(line.strip().startswith("reduced: long") for line in stored.lines())
    assert any("reconciliation after reconnecting" in m for m in messages(services, "venue reconnect"))
