"""The local venue's partial fills and BNB fees, read with the real ccxt binance client."""
from __future__ import annotations

import pytest

from tests.integration.test_venue import run_with
from tests.venue.harness import API_KEY, API_SECRET

pytestmark = pytest.mark.timeout(60)


def test_market_order_fills_in_parts_over_advance_steps(venue):
    acct = venue.add_account(API_KEY, API_SECRET, {"USDT": 10_000, "BTC": 1})
    acct.fill_parts = 3
    order = run_with(venue, lambda ex: ex.create_order("BTC/USDT", "market", "sell", 0.03))
    assert order["status"] == "open" and order["filled"] == pytest.approx(0.01)
    seen = [order["filled"]]
    for _ in range(2):
        venue.advance(1, "BTCUSDT")
        o = run_with(venue, lambda ex: ex.fetch_order(order["id"], "BTC/USDT"))
        seen.append(o["filled"])
    assert seen == pytest.approx([0.01, 0.02, 0.03])
    assert o["status"] == "closed"
    trades = run_with(venue, lambda ex: ex.fetch_my_trades("BTC/USDT", None, None, {"orderId": order["id"]}))
    assert len({t["id"] for t in trades}) == 3
    assert sum(t["amount"] for t in trades) == pytest.approx(0.03)
    assert all(float(t["price"]) > 0 for t in trades)  # each part at the then current price
    assert venue.balance(API_KEY, "BTC") == (pytest.approx(0.97), 0.0)  # nothing stays locked


def test_parts_do_not_apply_to_other_accounts_and_cancel_stops_the_rest(venue):
    venue.add_account(API_KEY, API_SECRET, {"USDT": 10_000, "BTC": 1})
    venue.state.fill_parts = 4
    order = run_with(venue, lambda ex: ex.create_order("BTC/USDT", "market", "sell", 0.04))
    assert order["filled"] == pytest.approx(0.01)
    run_with(venue, lambda ex: ex.cancel_order(order["id"], "BTC/USDT"))
    venue.state.step_fills()
    o = run_with(venue, lambda ex: ex.fetch_order(order["id"], "BTC/USDT"))
    assert o["status"] == "canceled" and o["filled"] == pytest.approx(0.01)
    assert venue.balance(API_KEY, "BTC") == (pytest.approx(0.99), 0.0)


def test_fees_in_bnb_when_the_account_holds_bnb(venue):
    venue.add_account(API_KEY, API_SECRET, {"USDT": 10_000, "BNB": 1})
    venue.state.enable_bnb_fees(250.0)
    price = venue.price("BTCUSDT")
    run_with(venue, lambda ex: ex.create_order("BTC/USDT", "market", "buy", 0.01))
    trades = run_with(venue, lambda ex: ex.fetch_my_trades("BTC/USDT"))
    fee = trades[0]["fee"]
    assert fee["currency"] == "BNB"
    assert fee["cost"] == pytest.approx(0.01 * price * 0.001 / 250.0, abs=1e-8)
    assert venue.balance(API_KEY, "BTC")[0] == pytest.approx(0.01)  # no fee taken from the coins
    ticker = run_with(venue, lambda ex: ex.fetch_ticker("BNB/USDT"))
    assert ticker["last"] == pytest.approx(250.0)
