"""Accounting on hand-computed cases: fees, averaging, partial closes, long, short, flips."""
import pytest

from cts_desktop.core.accounting import Portfolio
from cts_desktop.core.models import Fill

FEE = 0.001


def fill(side, amount, price, ts, fee_rate=FEE, symbol="BTC/USD:USD"):
    return Fill(id=f"f{ts}", order_id=f"o{ts}", clientOrderId=f"c{ts}", symbol=symbol, side=side,
                amount=amount, price=price, timestamp=ts, fee=amount * price * fee_rate, fee_currency="USD")


def test_long_round_trip_with_fees():
    pf = Portfolio(10_000, "USD")
    pf.apply_fill(fill("buy", 0.1, 40_000, 1))            # notional 4,000, fee 4
    assert pf.balance == pytest.approx(9_996)
    pf.mark("BTC/USD:USD", 41_000)
    assert pf.unrealized_pnl == pytest.approx(100)         # (41,000 - 40,000) * 0.1
    assert pf.equity == pytest.approx(10_096)
    closed = pf.apply_fill(fill("sell", 0.1, 42_000, 2), reason="take-profit")  # fee 4.2
    pos = closed[0]
    assert pos.closed_at == 2 and pos.close_reason == "take-profit"
    assert pos.realized_pnl == pytest.approx(200)
    assert pos.fees == pytest.approx(8.2)
    assert pos.net_pnl == pytest.approx(191.8)
    assert pf.balance == pytest.approx(10_191.8)
    assert pf.equity == pytest.approx(10_191.8)
    assert pf.trades == 1 and pf.win_rate == 1.0
    assert pf.realized_pnl == pytest.approx(200) and pf.fees == pytest.approx(8.2)


def test_average_entry_and_partial_close():
    pf = Portfolio(100_000, "USD")
    pf.apply_fill(fill("buy", 1.0, 100, 1, 0))
    pf.apply_fill(fill("buy", 3.0, 200, 2, 0))
    pos = pf.position("BTC/USD:USD")
    assert pos.entry_price == pytest.approx(175)             # (100 + 600) / 4
    assert pos.amount == 4.0
    pf.apply_fill(fill("sell", 1.0, 215, 3, 0))              # +40 on one unit
    assert pos.is_open and pos.amount == 3.0
    assert pos.realized_pnl == pytest.approx(40)
    assert pos.entry_price == pytest.approx(175)             # a reduction keeps the entry
    pf.apply_fill(fill("sell", 3.0, 165, 4, 0))              # -30 on three units
    assert not pos.is_open
    assert pos.realized_pnl == pytest.approx(10)
    assert pos.exit_price == pytest.approx((215 + 3 * 165) / 4)
    assert pf.balance == pytest.approx(100_010)


def test_short_profit_and_loss():
    pf = Portfolio(10_000, "USD")
    pf.apply_fill(fill("sell", 2.0, 100, 1))                 # fee 0.2
    pf.mark("BTC/USD:USD", 90)
    assert pf.unrealized_pnl == pytest.approx(20)
    pf.apply_fill(fill("buy", 2.0, 110, 2))                  # loss 20, fee 0.22
    pos = pf.closed[0]
    assert pos.side == "short"
    assert pos.realized_pnl == pytest.approx(-20)
    assert pos.net_pnl == pytest.approx(-20.42)
    assert pf.win_rate == 0.0
    assert pf.balance == pytest.approx(10_000 - 20.42)


def test_flip_splits_fee_pro_rata():
    pf = Portfolio(10_000, "USD")
    pf.apply_fill(fill("buy", 1.0, 100, 1, 0))
    changed = pf.apply_fill(fill("sell", 3.0, 120, 2))       # closes 1 long, opens 2 short; fee 0.36
    closed, opened = changed
    assert closed.closed_at == 2 and closed.realized_pnl == pytest.approx(20)
    assert closed.fees == pytest.approx(0.12)
    assert opened.side == "short" and opened.amount == pytest.approx(2.0)
    assert opened.entry_price == 120 and opened.fees == pytest.approx(0.24)
    assert pf.balance == pytest.approx(10_000 + 20 - 0.36)


def test_drawdown_is_fraction_of_running_peak():
    pf = Portfolio(1_000, "USD")
    pf.apply_fill(fill("buy", 10, 100, 1, 0))
    pf.mark("BTC/USD:USD", 110)   # equity 1,100: new peak
    pf.mark("BTC/USD:USD", 88)    # equity 880: 20 % below the peak
    pf.mark("BTC/USD:USD", 120)   # recovered, new peak 1,200
    pf.mark("BTC/USD:USD", 114)   # 5 % below
    assert pf.max_drawdown == pytest.approx(0.2)
    assert pf.peak == pytest.approx(1_200)


def test_bad_input_is_refused():
    with pytest.raises(ValueError):
        Portfolio(0, "USD")
    pf = Portfolio(100, "USD")
    with pytest.raises(ValueError):
        pf.apply_fill(fill("buy", 0, 100, 1))
