"""Risk breakers: each limit refuses an entry with its reason; the max-drawdown breaker latches
and survives a restart (a real breakers.json); the 9,987 USD order at 99.9 % of equity is refused
by the default limits."""
from __future__ import annotations

import pytest

from cts_desktop.core import breakers as rules
from cts_desktop.core import events as ev
from cts_desktop.core.models import BUY, Market, Signal
from cts_desktop.core.risk import RiskLimits, check_entry
from cts_desktop.engine.breakers import Breakers
from cts_desktop.store.breakers import LatchStore

DAY = rules.DAY_MS
T0 = 20_000 * DAY  # some UTC midnight


def make(limits=None, store=None, clock=None):
    published, logged = [], []
    b = Breakers("A", limits or RiskLimits(), quote="USDT", store=store, publish=published.append,
                 log=lambda cat, msg, level: logged.append((cat, msg, level)), clock=clock or (lambda: T0))
    return b, published, logged


def refuse(b, *, notional=100.0, available=10_000.0, equity=10_000.0, exposure=0.0, ts=T0):
    return b.refusal(notional=notional, fee=0.001, available=available, equity=equity, exposure=exposure, ts=ts)


def test_the_defaults_are_those_of_the_issue():
    limits = RiskLimits()
    assert (limits.daily_loss_limit, limits.max_drawdown) == (0.05, 0.20)
    assert RiskLimits(**{"max_position_fraction": 0.5, "max_open_positions": 3}).max_drawdown == 0.20


@pytest.mark.parametrize("field,value", [("max_order_notional", -1), ("min_free_balance", -5), ("max_leverage", 0),
                                         ("daily_loss_limit", 1.0), ("max_drawdown", -0.1),
                                         ("max_orders_per_minute", -1)])
def test_out_of_range_limits_are_refused_naming_the_field(field, value):
    with pytest.raises(ValueError, match=field):
        RiskLimits(**{field: value})


def test_max_order_notional_refuses_with_its_reason():
    b, _, _ = make(RiskLimits(max_order_notional=500))
    assert refuse(b, notional=400) is None
    assert refuse(b, notional=600) == "order notional 600.00 USDT exceeds the max order notional 500.00 USDT"


def test_min_free_balance_refuses_with_its_reason():
    b, _, _ = make(RiskLimits(min_free_balance=1000))
    reason = refuse(b, notional=9500, available=10_000)
    assert reason is not None and "under the minimum free balance 1000.00 USDT" in reason


def test_max_leverage_counts_the_other_positions():
    b, _, _ = make(RiskLimits(max_leverage=1.0, max_orders_per_minute=0))
    assert refuse(b, notional=4000, exposure=5000) is None
    assert refuse(b, notional=6000, exposure=5000) == "leverage 1.10x after the order exceeds the max leverage 1x"


def test_daily_loss_limit_refuses_for_the_rest_of_the_utc_day_and_is_announced_once():
    b, published, logged = make(RiskLimits(max_drawdown=0, max_orders_per_minute=0))
    b.observe(10_000, T0 + 60_000)
    b.observe(9_400, T0 + 120_000)  # 6 % down on the day
    b.observe(9_300, T0 + 180_000)
    assert [type(e) for e in published] == [ev.CircuitBreakerTripped]
    assert "daily loss 6.0% reached the limit 5.0%" in published[0].reason
    reason = refuse(b, equity=9_300, ts=T0 + 240_000)
    assert reason is not None and reason.startswith("daily loss 7.0% reached the limit 5.0%")
    assert any(level == "error" and "circuit breaker tripped" in msg for _, msg, level in logged)
    assert refuse(b, equity=9_300, ts=T0 + DAY + 1) is None  # a new UTC day starts from its own equity


def test_drawdown_breaker_latches_until_rearmed_and_survives_a_restart(tmp_path):
    store = LatchStore(tmp_path)
    b, published, _ = make(RiskLimits(daily_loss_limit=0, max_orders_per_minute=0), store=store)
    b.observe(10_000, T0)
    b.observe(12_000, T0 + DAY)  # the peak
    b.observe(9_500, T0 + 2 * DAY)  # 20.8 % below it
    assert published and "max drawdown 20.8% reached the limit 20.0%" in published[0].reason
    assert refuse(b, equity=12_500, ts=T0 + 3 * DAY).startswith("circuit breaker latched (max drawdown 20.8%")
    # a restart: a new Breakers on the same data dir is latched from the start
    again, _, _ = make(RiskLimits(daily_loss_limit=0), store=LatchStore(tmp_path))
    assert again.latched is not None
    assert "close-only until re-armed" in refuse(again)
    # re-armed from elsewhere (the CLI clears the file): the running one lets entries through again
    assert LatchStore(tmp_path).clear("A") is True
    assert refuse(again) is None and again.latched is None
    assert LatchStore(tmp_path).clear("A") is False


def test_rearm_restarts_the_peak_at_the_current_equity(tmp_path):
    b, _, logged = make(RiskLimits(daily_loss_limit=0, max_orders_per_minute=0), store=LatchStore(tmp_path))
    b.observe(10_000, T0)
    b.observe(7_000, T0 + 1)
    assert b.rearm(7_000) is True
    assert refuse(b, equity=7_000) is None
    assert any("re-armed" in msg for _, msg, _ in logged)


def test_order_rate_limit_counts_a_rolling_minute():
    now = [T0]
    b, _, _ = make(RiskLimits(max_orders_per_minute=3), clock=lambda: now[0])
    assert [refuse(b) for _ in range(3)] == [None, None, None]
    assert refuse(b) == "order rate limit: 3 orders in the last minute (limit 3/min)"
    now[0] += 60_000
    assert refuse(b) is None


def test_holds_refuse_everything_until_released():
    b, _, _ = make()
    b.hold("kill", "kill switch: no new entries")
    assert refuse(b) == "kill switch: no new entries"
    b.release("kill")
    assert refuse(b) is None


def test_the_9987_usd_order_at_999_percent_of_equity_is_refused_by_default_limits():
    """The issue's case: equity 9,997 USDT, a signal for 99.9 % of it (~9,987 USDT)."""
    market = Market("BTC/USDT", "BTC", "USDT", amount_step=1e-5, min_cost=5)
    limits = RiskLimits()  # what a new connection gets
    sig = Signal(T0, "BTC/USDT", BUY, size=0.999)
    verdict = check_entry(sig, market, 30_000.0, equity=9_997, available=9_997, open_positions=0, position=None,
                          limits=limits, default_size=0.2, fee=0.001)
    assert not verdict.accepted
    assert verdict.reason == "size 100% of equity exceeds the max position size 50%"
    # a trader who raised the position size to 100 % is still stopped by a cap per order
    capped = RiskLimits(max_position_fraction=1.0, max_order_notional=5_000)
    verdict = check_entry(sig, market, 30_000.0, equity=9_997, available=9_997, open_positions=0, position=None,
                          limits=capped, default_size=0.2, fee=0.001)
    assert verdict.accepted
    b, _, _ = make(capped)
    reason = refuse(b, notional=verdict.amount * 30_000.0, available=9_997, equity=9_997)
    assert reason is not None and reason.startswith("order notional 9976.")
