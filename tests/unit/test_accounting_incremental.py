"""Incremental mark to market (Portfolio keeps per-symbol unrealized P&L and locked notional with
running totals) agrees with the brute-force sums over every open position, after any mix of
marks, opens, adds, partial closes, flips, closes and a restore."""
import math
import random

import pytest

from cts_desktop.core.accounting import Portfolio
from cts_desktop.core.models import LONG, Fill


def brute(pf):
    u = math.fsum((p.last_price - p.entry_price) * p.amount if p.side == LONG else
                  (p.entry_price - p.last_price) * p.amount for p in pf.open.values())
    locked = math.fsum(p.entry_price * p.amount for p in pf.open.values())
    return u, locked


def check(pf):
    u, locked = brute(pf)
    scale = max(1.0, sum(abs(p.entry_price * p.amount) for p in pf.open.values()))
    assert pf.unrealized_pnl == pytest.approx(u, rel=0, abs=1e-9 * scale)
    assert pf.locked_notional == pytest.approx(locked, rel=0, abs=1e-9 * scale)
    assert pf.equity == pytest.approx(pf.balance + u, rel=0, abs=1e-9 * scale)
    assert pf.available == pytest.approx(pf.balance - locked, rel=0, abs=1e-9 * scale)


def test_random_operations_match_brute_force():
    rng = random.Random(7)
    symbols = [f"S{i}/USD" for i in range(40)]
    prices = {s: rng.uniform(0.01, 50_000) for s in symbols}
    pf = Portfolio(1e9, "USD")
    ts = 0
    for step in range(20_000):
        ts += 1
        s = rng.choice(symbols)
        prices[s] *= math.exp(rng.gauss(0, 0.01))
        if rng.random() < 0.8:
            equity = pf.mark(s, prices[s], track_drawdown=rng.random() < 0.5)
            assert equity == pytest.approx(pf.balance + brute(pf)[0], rel=1e-12, abs=1e-6)
        else:
            pos = pf.position(s)
            side = rng.choice(("buy", "sell"))
            amount = rng.choice((rng.uniform(0.001, 5.0), pos.amount if pos else 1.0))
            pf.apply_fill(Fill(id=f"f{ts}", order_id=f"o{ts}", clientOrderId=f"c{ts}", symbol=s, side=side,
                               amount=amount, price=prices[s], timestamp=ts, fee=amount * prices[s] * 1e-3,
                               fee_currency="USD"))
        if step % 97 == 0:
            check(pf)
    check(pf)
    assert pf.open and pf.closed  # the walk both held and closed positions

    # a restored portfolio starts from the same totals
    pf2 = Portfolio(1e9, "USD")
    pf2.restore(list(pf.open.values()), pf.closed, pf.balance, pf.realized_pnl, pf.fees, pf.peak,
                pf.max_drawdown, 10_000)
    check(pf2)
    for s in symbols:
        pf2.mark(s, prices[s] * 1.01)
    check(pf2)


def test_flat_portfolio_has_no_unrealized():
    pf = Portfolio(1_000, "USD")
    pf.apply_fill(Fill(id="a", order_id="a", clientOrderId="a", symbol="X/USD", side="buy", amount=1, price=10,
                       timestamp=1, fee=0, fee_currency="USD"))
    pf.mark("X/USD", 12)
    assert pf.unrealized_pnl == pytest.approx(2)
    pf.apply_fill(Fill(id="b", order_id="b", clientOrderId="b", symbol="X/USD", side="sell", amount=1, price=12,
                       timestamp=2, fee=0, fee_currency="USD"))
    assert pf.unrealized_pnl == 0.0 and pf.locked_notional == 0.0 and pf.equity == pytest.approx(1_002)
