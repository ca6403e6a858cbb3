"""Sizing a manual order ticket against a market's rules (core/manual.py): units, rounding to the
market's steps, its minimums, stop-loss / take-profit sides, and the words of each refusal."""
from __future__ import annotations

import pytest

from cts_desktop.core.manual import Ticket, TicketError, equity_fraction, is_manual, size_ticket
from cts_desktop.core.models import Market

M = Market("BTC/USDT", "BTC", "USDT", amount_step=0.001, price_step=0.1, min_amount=0.001, min_cost=5.0,
           taker_fee=0.001, maker_fee=0.0005)


def test_amount_in_base_is_truncated_to_the_step_with_the_taker_fee():
    q = size_ticket(Ticket("BTC/USDT", "buy", 0.01234), M, 20_000.0, 10_000.0)
    assert q.amount == 0.012 and q.price == 20_000.0
    assert q.notional == pytest.approx(240.0) and q.fee == pytest.approx(0.24) and q.fee_rate == 0.001


def test_amount_in_quote_and_in_equity():
    assert size_ticket(Ticket("BTC/USDT", "buy", 500, unit="quote"), M, 20_000.0, 0).amount == 0.025
    q = size_ticket(Ticket("BTC/USDT", "buy", 0.1, unit="equity"), M, 20_000.0, 10_000.0)
    assert q.amount == 0.049  # 1,000 with the fee fits 0.04995: truncated
    assert equity_fraction(q, 10_000.0) == pytest.approx((980 + 0.98) / 10_000)


def test_limit_price_on_the_tick_with_the_maker_fee():
    q = size_ticket(Ticket("BTC/USDT", "sell", 0.01, type="limit", price=20_000.06), M, 19_000.0, 10_000.0)
    assert q.price == 20_000.1 and q.fee_rate == 0.0005
    assert size_ticket(Ticket("BTC/USDT", "sell", 0.01, type="limit", price=20_000, tif="IOC"), M, 1, 1).fee_rate \
        == 0.001


@pytest.mark.parametrize("ticket, words", [
    (Ticket("BTC/USDT", "buy", 0.0004), "rounds to 0 on the market's step"),
    (Ticket("BTC/USDT", "buy", 0.0002, unit="quote"), "rounds to 0"),
    (Ticket("BTC/USDT", "buy", 0.004, type="limit", price=1000), "notional 4 USDT is under the market minimum 5"),
    (Ticket("BTC/USDT", "buy", 0), "enter an amount above 0"),
    (Ticket("BTC/USDT", "buy", 1.5, unit="equity"), "at most 1"),
    (Ticket("BTC/USDT", "buy", 1, type="limit"), "a limit order needs a price"),
    (Ticket("BTC/USDT", "buy", 1, tif="IOC"), "IOC applies to limit orders only"),
    (Ticket("BTC/USDT", "hold", 1), "side must be buy or sell"),
    (Ticket("BTC/USDT", "buy", 0.01, stop_loss=21_000), "stop-loss 21000 must be below the price 20000"),
    (Ticket("BTC/USDT", "sell", 0.01, take_profit=21_000), "take-profit 21000 must be below"),
    (Ticket("BTC/USDT", "sell", 0.01, stop_loss=19_000, reduce_only=True), "reduce-only order cannot carry"),
])
def test_refusals_say_why(ticket, words):
    with pytest.raises(TicketError, match=words):
        size_ticket(ticket, M, 20_000.0, 10_000.0)


def test_min_amount_and_no_price_yet():
    big_min = Market("ETH/USDT", "ETH", "USDT", amount_step=0.0001, min_amount=0.01)
    with pytest.raises(TicketError, match="amount 0.005 ETH is under the market minimum 0.01 ETH"):
        size_ticket(Ticket("ETH/USDT", "buy", 0.005), big_min, 2000.0, 1e4)
    with pytest.raises(TicketError, match="no price for BTC/USDT yet"):
        size_ticket(Ticket("BTC/USDT", "buy", 0.01), M, 0.0, 1e4)


def test_stop_loss_and_take_profit_become_distances():
    q = size_ticket(Ticket("BTC/USDT", "buy", 0.01, stop_loss=19_000, take_profit=22_000), M, 20_000.0, 1e4)
    assert q.stop_loss == pytest.approx(0.05) and q.take_profit == pytest.approx(0.10)
    q = size_ticket(Ticket("BTC/USDT", "sell", 0.01, stop_loss=21_000, take_profit=18_000), M, 20_000.0, 1e4)
    assert q.stop_loss == pytest.approx(0.05) and q.take_profit == pytest.approx(0.10)


def test_manual_reasons():
    assert is_manual("manual close") and is_manual("manual entry") and not is_manual("entry")


def test_a_preview_asks_the_breakers_without_counting_or_observing():
    from cts_desktop.core.risk import RiskLimits
    from cts_desktop.engine.breakers import Breakers

    logs = []
    b = Breakers("A", RiskLimits(max_orders_per_minute=1, max_drawdown=0.1), quote="USDT", store=None,
                 publish=lambda e: None, log=lambda *a, **k: logs.append(a), clock=lambda: 1_000_000)
    args = dict(notional=100.0, fee=0.001, available=10_000.0, exposure=0.0, ts=0)
    for _ in range(3):
        assert b.refusal(equity=10_000.0, dry=True, **args) is None
    assert not b.sent and b.peak < 10_000.0  # nothing counted, nothing observed
    assert b.refusal(equity=10_000.0, **args) is None  # the order itself counts
    assert "order rate limit" in b.refusal(equity=10_000.0, dry=True, **args)
    assert len(b.sent) == 1
    assert b.refusal(equity=5_000.0, dry=True, **args) is not None and b.latched is None  # a preview never trips
