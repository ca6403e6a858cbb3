"""Spot cash never goes negative: an order sized on the deciding close that no longer fits at the
next open is reduced to what fits (or refused) at the fill, and says so."""
from cts_desktop.core import events as ev
from cts_desktop.core.models import BUY, Market, Order
from cts_desktop.core.risk import RiskLimits
from cts_desktop.engine import strategies
from cts_desktop.engine.backtest import Backtest
from cts_desktop.exchange.candles import load_candles_csv
from cts_desktop.exchange.paper import PaperExchange
from tests.conftest import DATA

FULL_SIZE = {"size": 1.0, "stop_loss": 0, "take_profit": 0}


def cash_path(fills, start):
    cash, low = start, start
    for f in fills:
        cash += (-1 if f.side == BUY else 1) * f.amount * f.price - f.fee
        low = min(low, cash)
    return low


def run_spot(candles, tf, market):
    bt = Backtest(strategies.get("ma_cross")(FULL_SIZE), {market.symbol: candles}, {market.symbol: market},
                  timeframe_ms=tf, starting_balance=10_000, limits=RiskLimits(1.0, 1))
    logs = []
    bt.core.bus.subscribe(lambda e: logs.append(e) if isinstance(e, ev.LogEvent) else None)
    return bt, bt.run(), logs


def test_full_size_spot_on_the_ftx_month_never_spends_more_than_the_cash():
    # The FTX month traded as a spot market: 41 of its 945 full-size entries cost more than the
    # cash at the next open (the low was -1.11 USD before the check at the fill).
    s = load_candles_csv(DATA / "FTX_BTC-PERP_1m_2022-01.csv")
    market = Market("BTC/USD", "BTC", "USD", "spot", 1e-8, 1.0, 0.0, 0.0, 0.001, 0.001)
    bt, result, logs = run_spot(s.candles, s.timeframe_ms, market)
    assert result.metrics.trades == 945
    assert cash_path(result.fills, 10_000) >= 0
    reduced = [e for e in logs if "reduced to" in e.message]
    assert len(reduced) == 41 and all(e.level == "warning" for e in reduced)
    assert "more than the" in reduced[0].message and "available" in reduced[0].message
    assert not [o for o in bt.core.orders if o.error]  # reduced, never refused


def test_constructed_gap_up_reduces_the_buy_to_the_step():
    market = Market("X/USD", "X", "USD", "spot", 0.001, 0.01, 0.0, 0.0, 0.001, 0.001)
    reduced, refused = [], []
    paper = PaperExchange({"X/USD": market}, funds=lambda: 1000.0,
                          on_reduced=lambda o, msg, ts: reduced.append(msg),
                          on_reject=lambda o, why: refused.append(why))
    order = Order(clientOrderId="a", symbol="X/USD", side=BUY, type="market", amount=9.99, timestamp=0)
    paper.submit(order, 0)
    ((o, fill),) = paper.on_candle("X/USD", (60_000, 110.0, 111.0, 109.0, 110.0, 1.0))  # gap up from ~100
    assert fill.amount == 9.081  # floor(1000 / (110 * 1.001) / 0.001) * 0.001
    assert fill.amount * fill.price + fill.fee <= 1000.0
    assert o.amount == 9.081 and reduced and not refused


def test_nothing_fits_refuses_and_frees_the_symbol():
    market = Market("X/USD", "X", "USD", "spot", 1.0, 0.01, 1.0, 0.0, 0.001, 0.001)
    refused = []
    paper = PaperExchange({"X/USD": market}, funds=lambda: 50.0, on_reject=lambda o, why: refused.append(why))
    order = Order(clientOrderId="b", symbol="X/USD", side=BUY, type="market", amount=1.0, timestamp=0)
    paper.submit(order, 0)
    assert paper.on_candle("X/USD", (60_000, 100.0, 101.0, 99.0, 100.0, 1.0)) == []
    assert refused and "insufficient funds at the fill" in refused[0] and order.error
    assert not paper.has_pending


def test_perpetuals_are_left_as_they_were():
    market = Market("X/USD:USD", "X", "USD", "swap", 0.001, 0.01, 0.0, 0.0, 0.001, 0.001)
    paper = PaperExchange({"X/USD:USD": market}, funds=lambda: 1000.0)
    order = Order(clientOrderId="c", symbol="X/USD:USD", side=BUY, type="market", amount=9.99, timestamp=0)
    paper.submit(order, 0)
    ((_o, fill),) = paper.on_candle("X/USD:USD", (60_000, 110.0, 111.0, 109.0, 110.0, 1.0))
    assert fill.amount == 9.99
