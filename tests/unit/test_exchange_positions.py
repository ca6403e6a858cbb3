"""Futures positions against the exchange's (engine/exchange_positions.py) and the table of where
stops can rest (exchange/capabilities.py: PROTECTIVE_ORDERS)."""
from __future__ import annotations

import pytest

from cts_desktop.core.models import Market, Position
from cts_desktop.engine.exchange_positions import check_swap, held_by_exchange, unknown_positions
from cts_desktop.exchange.capabilities import protective_kind

PERP = Market("BTC/USDT:USDT", "BTC", "USDT", type="swap", amount_step=0.001, price_step=0.1, min_amount=0.001)


def _pos(side="long", amount=0.03):
    return Position(id=1, symbol=PERP.symbol, side=side, opened_at=0, amount=amount, entry_price=20_000.0)


@pytest.mark.parametrize("held, action, amount", [
    (0.03, "carried", 0.03), (0.0304, "carried", 0.03),  # within half a step
    (0.05, "carried", 0.03),  # more: carried as recorded (the excess is listed)
    (0.02, "reduced", 0.02), (0.0, "closed", 0.0), (-0.01, "closed", 0.0),
])
def test_a_long_against_what_the_exchange_holds(held, action, amount):
    got, note, left = check_swap(_pos(), PERP, held)
    assert (got, left) == (action, pytest.approx(amount))
    if held < 0:
        assert note == "flipped outside the app: the exchange holds a short of 0.01 BTC"


def test_a_short_is_checked_on_its_own_side():
    assert check_swap(_pos("short"), PERP, -0.01)[:1] == ("reduced",)
    assert check_swap(_pos("short"), PERP, 0.02)[0] == "closed"


def test_what_the_app_does_not_hold_is_listed():
    held = {PERP.symbol: (0.05, 20_100.0), "ETH/USDT:USDT": (-1.0, 1500.0)}
    rows = [{"symbol": PERP.symbol, "side": "long", "amount": 0.03}]
    listed = unknown_positions(held, rows, {PERP.symbol: PERP})
    assert [(r["symbol"], r["side"], round(r["amount"], 6)) for r in listed] == [
        (PERP.symbol, "long", 0.02), ("ETH/USDT:USDT", "short", 1.0)]
    assert listed[0]["note"].startswith("more than this app's position")
    assert unknown_positions({PERP.symbol: (0.03, 1.0)}, rows, {PERP.symbol: PERP}) == []


def test_ccxt_positions_become_signed_amounts():
    raw = [{"symbol": PERP.symbol, "side": "short", "contracts": 0.02, "contractSize": 1, "entryPrice": 19_000},
           {"symbol": "ETH/USDT:USDT", "side": "long", "contracts": 0, "contractSize": 1}]
    assert held_by_exchange(raw) == {PERP.symbol: (-0.02, 19_000.0)}


def test_where_stops_can_rest_is_one_table():
    assert protective_kind("binance", "spot") == "oco"
    assert protective_kind("binance", "swap") == "pair"
    assert protective_kind("binanceus", "swap") == ""
    assert protective_kind("kraken", "spot") == ""
