"""The trading core's per-candle path keeps what makes it fast (issue 11), as facts, not timings.

CPython (3.11, 3.12 and 3.13 alike, checked here) keeps an instance's attributes inline only while
a class has at most 29 of them (``SHARED_KEYS_MAX_SIZE`` 30 in ``Objects/dictobject.c``); beyond that they
move to a dict, and the attribute and method loads of ``on_candle``'s steps are no longer
specialized: 32 attributes made the FTX month's loop ~7 % slower. The check below fails first, so
the next attribute goes to a helper object (the journal, the curve) or replaces one."""
import dis

from cts_desktop.core.accounting import Portfolio
from cts_desktop.core.models import Market
from cts_desktop.core.risk import RiskLimits
from cts_desktop.engine.core import TradingCore
from cts_desktop.engine.strategies.ma_cross import MovingAverageCross

MAX_INLINE_ATTRIBUTES = 29


def make_core() -> TradingCore:
    markets = {"BTC/USD": Market("BTC/USD", "BTC", "USD", "spot", 1e-8, 0.01)}
    strategy = MovingAverageCross({"fast": 2, "slow": 3, "stop_loss": 0, "take_profit": 0})
    return TradingCore("t", markets, [strategy], portfolio=Portfolio(10_000, "USD"), limits=RiskLimits(1.0, 1),
                       data_timeframe_ms=60_000)


def test_the_trading_core_keeps_at_most_29_attributes():
    core = make_core()
    assert len(vars(core)) <= MAX_INLINE_ATTRIBUTES, sorted(vars(core))


def test_on_candles_steps_are_specialized_after_a_run():
    """After a few hundred candles, on_candle's loads of its three steps are specialized method
    loads on inline attributes (``LOAD_METHOD_WITH_VALUES`` in 3.11, ``LOAD_ATTR_METHOD_WITH_VALUES``
    in 3.12 and 3.13), not the generic ones."""
    core = make_core()
    core.start()
    for i in range(300):
        price = 100.0 + (i % 17)
        core.on_candle("BTC/USD", (i * 60_000, price, price + 1, price - 1, price, 1.0))
    steps = ("before_strategies", "strategy_results", "after_strategies")
    loads = [ins.opname for ins in dis.get_instructions(TradingCore.on_candle, adaptive=True) if ins.argval in steps]
    assert len(loads) == 3 and all(op.endswith("METHOD_WITH_VALUES") for op in loads), loads
