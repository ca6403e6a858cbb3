"""Stop orders of the ticket in core/manual.py: the trigger on the tick and on the right side of
the last price, sizing at the trigger (stop-market) or the limit (stop-limit), the words of each
refusal, when prices reach a trigger, and what a triggered stop sends."""
from __future__ import annotations

import pytest

from cts_desktop.core.manual import Ticket, TicketError, fired_ticket, order_type_text, reached, size_ticket
from cts_desktop.core.models import Market, Order

M = Market("BTC/USDT", "BTC", "USDT", amount_step=0.001, price_step=0.1, min_amount=0.001, min_cost=5.0,
           taker_fee=0.001, maker_fee=0.0005)


def test_a_stop_market_is_sized_at_its_trigger_on_the_tick_with_the_taker_fee():
    q = size_ticket(Ticket("BTC/USDT", "buy", 500, unit="quote", type="stop_market", trigger=21_000.04), M,
                    20_000.0, 10_000.0)
    assert q.trigger == 21_000.0 and q.price == 21_000.0 and q.fee_rate == 0.001
    assert q.amount == 0.023  # 500 / 21,000 truncated to the step


def test_a_stop_limit_is_sized_at_its_limit_with_the_maker_fee():
    q = size_ticket(Ticket("BTC/USDT", "sell", 0.01, type="stop_limit", trigger=19_000.06, price=18_990.0), M,
                    20_000.0, 10_000.0)
    assert q.trigger == 19_000.1 and q.price == 18_990.0 and q.fee_rate == 0.0005


@pytest.mark.parametrize("side, trigger, words", [
    ("buy", 19_999.0, "the trigger 19999 of a buy stop must be above the last price 20000"),
    ("buy", 20_000.0, "must be above the last price"),
    ("sell", 20_000.02, "the trigger 20000 of a sell stop must be below the last price 20000"),
])
def test_a_trigger_on_the_wrong_side_is_refused_with_the_prices(side, trigger, words):
    with pytest.raises(TicketError, match=words):
        size_ticket(Ticket("BTC/USDT", side, 0.01, type="stop_market", trigger=trigger), M, 20_000.0, 10_000.0)


def test_stop_tickets_need_their_prices():
    with pytest.raises(TicketError, match="a stop order needs a trigger price above 0"):
        size_ticket(Ticket("BTC/USDT", "buy", 0.01, type="stop_market"), M, 20_000.0, 1e4)
    with pytest.raises(TicketError, match="a limit order needs a price above 0"):
        size_ticket(Ticket("BTC/USDT", "buy", 0.01, type="stop_limit", trigger=21_000), M, 20_000.0, 1e4)
    with pytest.raises(TicketError, match="IOC applies to limit orders only"):
        size_ticket(Ticket("BTC/USDT", "buy", 0.01, type="stop_market", trigger=21_000, tif="IOC"), M, 20_000.0, 1e4)
    with pytest.raises(TicketError, match="no price for BTC/USDT yet"):
        size_ticket(Ticket("BTC/USDT", "buy", 0.01, type="stop_market", trigger=21_000), M, 0.0, 1e4)


def test_when_prices_reach_a_trigger():
    assert reached("buy", 100.0, 90.0, 100.0) and not reached("buy", 100.0, 90.0, 99.9)
    assert reached("sell", 100.0, 100.0, 110.0) and not reached("sell", 100.0, 100.1, 110.0)


def test_a_triggered_stop_sends_a_market_or_a_limit_order():
    m = fired_ticket(Ticket("BTC/USDT", "buy", 0.02, type="stop_market", trigger=21_000, stop_loss=19_000))
    assert (m.type, m.price, m.tif, m.stop_loss, m.trigger) == ("market", None, "GTC", 19_000, None)
    lim = fired_ticket(Ticket("BTC/USDT", "sell", 0.02, type="stop_limit", trigger=19_000, price=18_990,
                              reduce_only=True))
    assert (lim.type, lim.price, lim.reduce_only) == ("limit", 18_990, True)
    o = Order("c-1", "BTC/USDT", "sell", "stop_limit", 0.02, price=18_990.0, trigger=19_000.0)
    assert order_type_text(o) == "stop-limit 18990, trigger 19000"


def test_an_amend_replaces_what_is_left_of_a_partly_filled_order():
    from cts_desktop.engine.order_edits import replacement

    o = Order("c-2", "BTC/USDT", "buy", "limit", 0.05, price=19_000.0, filled=0.02, time_in_force="GTC")
    same = replacement(o, 19_100.0, None)
    assert (same.amount, same.price, same.type, same.tif) == (pytest.approx(0.03), 19_100.0, "limit", "GTC")
    assert replacement(o, None, 0.04).amount == pytest.approx(0.02) and replacement(o, None, 0.04).price == 19_000.0
    with pytest.raises(TicketError, match="0.02 of order c-2 filled already: a new amount of 0.02 leaves nothing"):
        replacement(o, None, 0.02)
