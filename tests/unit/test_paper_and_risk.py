"""The paper exchange's fill rules and the pre-trade risk checks, through the trading core."""
import pytest

from cts_desktop.core.accounting import Portfolio
from cts_desktop.core.models import Market, Order, Signal
from cts_desktop.core.risk import RiskLimits, check_entry
from cts_desktop.engine.core import TradingCore
from cts_desktop.exchange.paper import PaperExchange

PERP = Market("BTC/USD:USD", "BTC", "USD", "swap", 0.0001, 1.0, 0.0001, 0.0, 0.001, 0.001)
SPOT = Market("ETH/BTC", "ETH", "BTC", "spot", 1e-8, 1e-8, 0.0, 0.0005, 0.001, 0.001)
MIN = 60_000


class Scripted:
    """A strategy that emits prepared signals at given candle times."""

    name = "scripted"
    timeframe = "1m"

    def __init__(self, plan):
        self.plan = plan  # ts -> list of (side, intent, kwargs)

    def on_start(self, ctx, symbols):
        pass

    def on_stop(self, ctx):
        pass

    def on_candle(self, ctx, symbol, c):
        return [Signal(c[0], symbol, side, intent, strategy=self.name, **kw)
                for side, intent, kw in self.plan.get(c[0], [])]


def make_core(plan, market=PERP, balance=10_000.0, limits=None, **kw):
    core = TradingCore("test", {market.symbol: market}, [Scripted(plan)], portfolio=Portfolio(balance, market.quote),
                       limits=limits or RiskLimits(1.0, 3), data_timeframe_ms=MIN, **kw)
    core.start()
    return core


def candle(i, o, h, l, c):
    return (i * MIN, float(o), float(h), float(l), float(c), 1.0)


def test_market_order_fills_at_next_open_with_taker_fee():
    core = make_core({0: [("buy", "entry", {"size": 0.5})]})
    core.on_candle(PERP.symbol, candle(0, 100, 101, 99, 100))
    assert len(core.orders) == 1 and not core.fills               # decided at the close of candle 0
    core.on_candle(PERP.symbol, candle(1, 102, 104, 101, 103))
    (f,) = core.fills
    assert f.price == 102 and f.timestamp == 1 * MIN             # next candle's open and time
    # amount = equity * size / (price * (1 + fee)), truncated to 0.0001 at the reference close 100
    assert f.amount == pytest.approx(49.95)
    assert f.fee == pytest.approx(49.95 * 102 * 0.001)
    pos = core.position(PERP.symbol)
    assert pos.entry_price == 102 and pos.last_price == 103


def test_full_size_order_is_affordable_including_fee():
    core = make_core({0: [("buy", "entry", {"size": 1.0})]}, market=SPOT, balance=1.0)
    core.on_candle(SPOT.symbol, candle(0, 0.1, 0.1, 0.1, 0.1))
    core.on_candle(SPOT.symbol, candle(1, 0.1, 0.1, 0.1, 0.1))
    (f,) = core.fills
    assert f.amount * f.price + f.fee <= 1.0
    assert f.amount * f.price + f.fee == pytest.approx(1.0, rel=1e-6)


def test_stop_loss_fills_at_trigger_or_gap_open_and_wins_ties():
    plan = {0: [("buy", "entry", {"size": 0.5, "stop_loss": 0.02, "take_profit": 0.02})]}
    core = make_core(plan)
    core.on_candle(PERP.symbol, candle(0, 100, 100, 100, 100))
    core.on_candle(PERP.symbol, candle(1, 1000, 1000, 1000, 1000))   # entry at 1,000: SL 980, TP 1,020
    pos = core.position(PERP.symbol)
    assert (pos.stop_loss, pos.take_profit) == (980, 1020)
    core.on_candle(PERP.symbol, candle(2, 1000, 1030, 970, 1000))     # touches both: stop-loss first
    closed = core.portfolio.closed[-1]
    assert closed.close_reason == "stop-loss" and closed.exit_price == 980

    core2 = make_core(plan)
    core2.on_candle(PERP.symbol, candle(0, 100, 100, 100, 100))
    core2.on_candle(PERP.symbol, candle(1, 1000, 1000, 1000, 1000))
    core2.on_candle(PERP.symbol, candle(2, 950, 960, 940, 955))       # gaps below the stop: open price
    assert core2.portfolio.closed[-1].exit_price == 950

    core3 = make_core(plan)
    core3.on_candle(PERP.symbol, candle(0, 100, 100, 100, 100))
    core3.on_candle(PERP.symbol, candle(1, 1000, 1000, 1000, 1000))
    core3.on_candle(PERP.symbol, candle(2, 1001, 1025, 999, 1010))
    assert core3.portfolio.closed[-1].close_reason == "take-profit"
    assert core3.portfolio.closed[-1].exit_price == 1020


def test_limit_order_fills_when_range_reaches_price():
    paper = PaperExchange({PERP.symbol: PERP})
    order = Order("c1", PERP.symbol, "buy", "limit", 1.0, price=95.0, timestamp=MIN)
    paper.submit(order, MIN)
    assert paper.on_candle(PERP.symbol, candle(1, 100, 101, 96, 99)) == []
    ((o, f),) = paper.on_candle(PERP.symbol, candle(2, 97, 98, 94, 95))
    assert f.price == 95 and f.takerOrMaker == "maker" and o.status == "closed"
    order2 = Order("c2", PERP.symbol, "buy", "limit", 1.0, price=95.0, timestamp=MIN)
    paper.submit(order2, MIN)
    ((_, f2),) = paper.on_candle(PERP.symbol, candle(3, 90, 92, 89, 91))   # opens through the limit
    assert f2.price == 90


def test_risk_rejections_carry_reasons():
    limits = RiskLimits(max_position_fraction=0.25, max_open_positions=1)
    sig = Signal(0, SPOT.symbol, "buy", size=0.5)
    kw = dict(equity=1.0, available=1.0, open_positions=0, position=None, default_size=0.2, fee=0.001)
    v = check_entry(sig, SPOT, 0.1, limits=limits, **kw)
    assert not v.accepted and "max position size" in v.reason
    v = check_entry(Signal(0, SPOT.symbol, "sell", size=0.2), SPOT, 0.1, limits=limits, **kw)
    assert not v.accepted and "shorting" in v.reason
    v = check_entry(Signal(0, SPOT.symbol, "buy", size=0.2), SPOT, 0.1, limits=limits, **{**kw, "open_positions": 1})
    assert not v.accepted and "max open positions" in v.reason
    v = check_entry(Signal(0, SPOT.symbol, "buy", size=0.0001), SPOT, 0.1, limits=limits, **kw)
    assert not v.accepted and "minimum notional" in v.reason
    v = check_entry(Signal(0, SPOT.symbol, "buy", size=0.2), SPOT, 0.1, limits=limits, **{**kw, "available": 0.1})
    assert not v.accepted and "insufficient funds" in v.reason
    v = check_entry(Signal(0, SPOT.symbol, "buy", size=0.2), SPOT, 0.1, limits=limits, **kw)
    assert v.accepted and v.amount == pytest.approx(1.998001998, rel=1e-8)


def test_rejected_signal_is_logged_and_recorded_not_dropped():
    events = []
    core = make_core({0: [("sell", "entry", {"size": 0.2})]}, market=SPOT, balance=1.0)
    core.bus.subscribe(events.append)
    core.on_candle(SPOT.symbol, candle(0, 0.1, 0.1, 0.1, 0.1))
    assert not core.orders
    risk_lines = [e for e in events if getattr(e, "category", "") == "risk"]
    assert risk_lines and "rejected" in risk_lines[0].message and "shorting" in risk_lines[0].message


def test_invalid_limits_are_refused():
    with pytest.raises(ValueError):
        RiskLimits(max_position_fraction=0)
    with pytest.raises(ValueError):
        RiskLimits(max_open_positions=0)


def test_truncate_amount_agrees_with_ccxt():
    import random

    from ccxt.base.decimal_to_precision import TICK_SIZE, TRUNCATE, decimal_to_precision

    from cts_desktop.core.risk import truncate_amount

    rng = random.Random(7)
    for step in (1e-8, 1e-5, 0.0001, 0.001, 0.01, 0.1, 0.5, 1.0, 5.0, 0.00025):
        for _ in range(2000):
            amount = rng.uniform(0, 1000) * rng.choice((1e-6, 1e-3, 1, 10))
            assert truncate_amount(amount, step) == float(decimal_to_precision(amount, TRUNCATE, step, TICK_SIZE)), (amount, step)
    assert truncate_amount(0.3, 0.1) == 0.3
    assert truncate_amount(2.9999, 1.0) == 2.0
