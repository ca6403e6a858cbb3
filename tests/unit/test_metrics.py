"""Performance analytics, checked against numbers worked out by hand."""
from __future__ import annotations

import math

import pytest

from cts_desktop.core.metrics import (
    DAY_MS,
    DrawdownTracker,
    compute_metrics,
    daily_returns,
    exposure_fraction,
    max_drawdown,
    sharpe_ratio,
    sortino_ratio,
    trade_stats,
)
from cts_desktop.core.models import Position

T0 = 1_640_995_200_000  # 2022-01-01 00:00 UTC
H = 3_600_000


def pos(pnl, fees=0.0, symbol="BTC/USDT", strategy="s1", opened=T0, closed=T0 + H, side="long"):
    return Position(
        id=0, symbol=symbol, side=side, opened_at=opened, closed_at=closed,
        amount=0.0, max_amount=1.0, entry_price=100.0, exit_price=100.0,
        realized_pnl=pnl, fees=fees, strategy=strategy,
    )


# ------------------------------------------------------------------------------ trade stats
def test_trade_stats_mixed():
    # net P&Ls: 100-1=99, 50-1=49, -30-1=-31, -10-0=-10, 0-0=0 (breakeven)
    s = trade_stats([pos(100, 1), pos(50, 1), pos(-30, 1), pos(-10), pos(0)])
    assert s.trades == 5 and s.wins == 2 and s.losses == 2
    assert s.win_rate == pytest.approx(2 / 5)
    assert s.realized_pnl == pytest.approx(110)
    assert s.fees == pytest.approx(3)
    assert s.net_pnl == pytest.approx(107)
    assert s.avg_win == pytest.approx((99 + 49) / 2)
    assert s.avg_loss == pytest.approx((-31 - 10) / 2)
    assert s.gross_profit == pytest.approx(148)
    assert s.gross_loss == pytest.approx(41)
    assert s.profit_factor == pytest.approx(148 / 41)
    assert s.expectancy == pytest.approx(107 / 5)
    assert s.expectancy_r == pytest.approx((107 / 5) / 20.5)


def test_trade_stats_fees_turn_a_gross_win_into_a_loss():
    s = trade_stats([pos(5, fees=6)])
    assert s.wins == 0 and s.losses == 1 and s.avg_loss == pytest.approx(-1)


def test_trade_stats_no_trades():
    s = trade_stats([])
    assert s.trades == 0
    assert s.win_rate is None and s.avg_win is None and s.avg_loss is None
    assert s.profit_factor is None and s.expectancy is None and s.expectancy_r is None


def test_trade_stats_all_wins_and_all_losses():
    w = trade_stats([pos(10), pos(20)])
    assert w.win_rate == 1.0 and w.profit_factor == math.inf and w.avg_loss is None
    assert w.expectancy == pytest.approx(15) and w.expectancy_r is None
    lo = trade_stats([pos(-10), pos(-30)])
    assert lo.win_rate == 0.0 and lo.profit_factor == 0.0 and lo.avg_win is None
    assert lo.avg_loss == pytest.approx(-20) and lo.expectancy_r == pytest.approx(-1.0)


def test_trade_stats_all_breakeven_has_no_profit_factor():
    s = trade_stats([pos(0), pos(1, fees=1)])
    assert s.wins == s.losses == 0 and s.profit_factor is None and s.win_rate == 0.0


def test_open_positions_are_not_trades():
    s = trade_stats([pos(10, closed=None)])
    assert s.trades == 0


# ------------------------------------------------------------------------------ daily returns
def test_daily_returns_resample_by_utc_day_close():
    curve = [
        (T0 + 1 * H, 1000.0),
        (T0 + 23 * H, 1100.0),  # day 1 close
        (T0 + DAY_MS + 5 * H, 900.0),
        (T0 + DAY_MS + 20 * H, 990.0),  # day 2 close
        # day 3 has no points: close repeats 990
        (T0 + 3 * DAY_MS + 1 * H, 1089.0),  # day 4 close
    ]
    r = daily_returns(curve, 1000.0)
    assert r == pytest.approx([0.1, 990 / 1100 - 1, 0.0, 0.1])


def test_daily_returns_single_day_and_empty():
    assert daily_returns([(T0, 1000.0), (T0 + H, 1010.0)], 1000.0) == pytest.approx([0.01])
    assert daily_returns([], 1000.0) == []


def test_sharpe_and_sortino_by_hand():
    r = [0.01, -0.02, 0.03]
    mean = 0.02 / 3
    sd = math.sqrt(sum((x - mean) ** 2 for x in r) / 2)
    assert sharpe_ratio(r) == pytest.approx(mean / sd * math.sqrt(365))
    dd = math.sqrt(0.02 ** 2 / 3)
    assert sortino_ratio(r) == pytest.approx(mean / dd * math.sqrt(365))


def test_sharpe_sortino_undefined_cases():
    assert sharpe_ratio([0.01]) is None and sortino_ratio([0.01]) is None
    assert sharpe_ratio([]) is None
    assert sharpe_ratio([0.01, 0.01]) is None  # no variation
    assert sortino_ratio([0.01, 0.02]) == math.inf  # no down day
    assert sortino_ratio([0.0, 0.0]) is None


# ------------------------------------------------------------------------------ drawdown
def test_max_drawdown_recovered():
    curve = [(0, 100.0), (10, 120.0), (20, 90.0), (30, 110.0), (40, 121.0), (50, 115.0)]
    dd, ms = max_drawdown(curve)
    assert dd == pytest.approx(30 / 120)
    assert ms == 30  # peak at 10, back above 120 at 40


def test_max_drawdown_not_recovered_runs_to_the_end():
    curve = [(0, 100.0), (10, 80.0), (20, 90.0), (30, 85.0)]
    assert max_drawdown(curve) == (pytest.approx(0.2), 30)


def test_max_drawdown_deepest_episode_not_the_longest():
    curve = [(0, 100.0), (10, 95.0), (100, 101.0), (110, 70.0), (120, 102.0)]
    dd, ms = max_drawdown(curve)
    assert dd == pytest.approx(31 / 101) and ms == 20


def test_max_drawdown_starting_equity_is_first_peak_and_flat_curves():
    assert max_drawdown([(5, 90.0), (6, 100.0)], starting_equity=100.0) == (pytest.approx(0.1), 1)
    assert max_drawdown([(0, 100.0), (1, 101.0)]) == (0.0, 0)
    assert max_drawdown([]) == (0.0, 0)


def test_drawdown_tracker_matches_batch():
    eq = [100.0, 120.0, 90.0, 110.0, 121.0, 115.0]
    t = DrawdownTracker(100.0)
    out = [t.update(x) for x in eq]
    assert out == pytest.approx([0, 0, 0.25, 10 / 120, 0, 6 / 121])
    assert t.max_drawdown == pytest.approx(0.25) and t.peak == 121.0
    t2 = DrawdownTracker()
    t2.update(50.0)
    assert t2.peak == 50.0 and t2.update(40.0) == pytest.approx(0.2)


# ------------------------------------------------------------------------------ exposure
def test_exposure_union_of_intervals_clipped_to_span():
    ps = [
        pos(1, opened=0, closed=20),
        pos(1, opened=10, closed=30),  # overlaps the first: union 0..30
        pos(1, opened=50, closed=60),
        pos(1, opened=90, closed=None),  # still open: to the end (100)
        pos(1, opened=-50, closed=-10),  # before the span
    ]
    assert exposure_fraction(ps, 0, 100) == pytest.approx((30 + 10 + 10) / 100)
    assert exposure_fraction([], 0, 100) == 0.0
    assert exposure_fraction(ps, 5, 5) is None


# ------------------------------------------------------------------------------ the report
def _curve():
    return [
        (T0, 10_000.0),
        (T0 + 12 * H, 10_200.0),
        (T0 + DAY_MS + 12 * H, 9_800.0),
        (T0 + 2 * DAY_MS + 12 * H, 10_300.0),
    ]


def test_compute_metrics_full():
    ps = [
        pos(250, 10, symbol="BTC/USDT", strategy="a", opened=T0, closed=T0 + 6 * H),
        pos(-150, 10, symbol="ETH/USDT", strategy="b", opened=T0 + DAY_MS, closed=T0 + DAY_MS + 6 * H),
        pos(0, 5, symbol="ETH/USDT", strategy="a", opened=T0 + 2 * DAY_MS, closed=None),
    ]
    m = compute_metrics(ps, _curve(), 10_000.0, unrealized_pnl=12.5)
    assert m.final_equity == 10_300.0
    assert m.total_return == pytest.approx(0.03)
    assert m.realized_pnl == pytest.approx(100)
    assert m.unrealized_pnl == 12.5
    assert m.fees == pytest.approx(25)  # open position's fees included
    assert m.net_pnl == pytest.approx(80)
    assert m.trades == 2 and m.win_rate == pytest.approx(0.5)
    assert m.avg_win == pytest.approx(240) and m.avg_loss == pytest.approx(-160)
    assert m.profit_factor == pytest.approx(1.5)
    assert m.expectancy == pytest.approx(40)
    r = [0.02, 9800 / 10200 - 1, 10300 / 9800 - 1]
    assert m.daily_returns == 3
    assert m.sharpe == pytest.approx(sharpe_ratio(r))
    assert m.sortino == pytest.approx(sortino_ratio(r))
    assert m.max_drawdown == pytest.approx(400 / 10200)
    assert m.max_drawdown_duration_ms == 2 * DAY_MS  # 12h day 1 -> 12h day 3
    span = 2 * DAY_MS + 12 * H
    assert m.exposure == pytest.approx((6 * H + 6 * H + 12 * H) / span)
    assert set(m.by_symbol) == {"BTC/USDT", "ETH/USDT"}
    assert m.by_symbol["ETH/USDT"].trades == 1 and m.by_symbol["ETH/USDT"].net_pnl == pytest.approx(-160)
    assert m.by_symbol["ETH/USDT"].exposure == pytest.approx(18 * H / span)
    assert m.by_strategy["a"].trades == 1 and m.by_strategy["a"].profit_factor == math.inf
    assert m.by_strategy["b"].profit_factor == 0.0
    d = m.to_dict()
    assert d["by_strategy"]["a"]["trades"] == 1 and d["sharpe"] == m.sharpe
    table = m.format_table()
    assert "Profit factor" in table and "ETH/USDT" in table and "inf" in table


def test_compute_metrics_no_trades_flat_curve():
    m = compute_metrics([], [(T0, 1000.0), (T0 + 3 * DAY_MS, 1000.0)], 1000.0)
    assert m.trades == 0 and m.win_rate is None and m.profit_factor is None
    assert m.total_return == 0.0 and m.sharpe is None and m.sortino is None
    assert m.max_drawdown == 0.0 and m.exposure == 0.0
    assert m.by_symbol == {} and "Trades" in m.format_table()


def test_compute_metrics_single_day_has_no_sharpe():
    m = compute_metrics([pos(10)], [(T0, 1000.0), (T0 + 2 * H, 1010.0)], 1000.0)
    assert m.daily_returns == 1 and m.sharpe is None and m.sortino is None
    assert m.total_return == pytest.approx(0.01) and m.win_rate == 1.0
    assert m.exposure == pytest.approx(0.5)


def test_compute_metrics_empty_curve_and_bad_start():
    m = compute_metrics([], [], 500.0)
    assert m.final_equity == 500.0 and m.exposure is None and m.start_ms is None
    with pytest.raises(ValueError):
        compute_metrics([], [], 0.0)


def _daily_returns_point_by_point(curve, start):
    """The former implementation (a step per point), kept as the reference."""
    closes = []
    day, last = curve[0][0] // DAY_MS, curve[0][1]
    for ts, eq in curve:
        d = ts // DAY_MS
        if d != day:
            closes.append(last)
            closes.extend([last] * (d - day - 1))
            day = d
        last = eq
    closes.append(last)
    out, prev = [], start
    for c in closes:
        out.append(c / prev - 1.0)
        prev = c
    return out


def test_daily_returns_by_binary_search_equal_the_point_by_point_resampling():
    """Random curves with gaps of days, several points a millisecond apart across midnight, and
    points exactly at midnight: the same returns, float for float."""
    import random

    rng = random.Random(7)
    for _ in range(200):
        ts, eq, curve = T0 + rng.randrange(DAY_MS), 1000.0, []
        for _ in range(rng.randrange(1, 400)):
            ts += rng.choice([0, 1, 60_000, H, DAY_MS - 1, DAY_MS, 3 * DAY_MS, (DAY_MS - ts % DAY_MS)])
            eq *= 1 + rng.uniform(-0.01, 0.01)
            curve.append((ts, eq))
        assert daily_returns(curve, 1000.0) == _daily_returns_point_by_point(curve, 1000.0)
