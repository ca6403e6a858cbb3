"""Research's pure parts against cases worked out by hand: walk-forward windows, Monte Carlo
resampling and its statistics, objectives and constraints."""
import numpy as np
import pytest

from cts_desktop.core import montecarlo as mc
from cts_desktop.core.objectives import Constraints, direction, is_better, objective_value, ratio
from cts_desktop.core.windows import Window, walk_forward_windows


# ------------------------------------------------------------------------------------------ windows
def test_rolling_windows_step_defaults_to_out_of_sample():
    # data [0, 100): IS 40, OOS 20 -> OOS [40,60), [60,80), [80,100)
    assert walk_forward_windows(0, 100, 40, 20) == [
        Window(0, 0, 40, 40, 60), Window(1, 20, 60, 60, 80), Window(2, 40, 80, 80, 100)]


def test_anchored_windows_grow_from_the_start():
    ws = walk_forward_windows(0, 100, 40, 20, anchored=True)
    assert [(w.is_start, w.is_end, w.oos_end) for w in ws] == [(0, 40, 60), (0, 60, 80), (0, 80, 100)]


def test_last_window_cut_at_the_end_when_at_least_half_is_left():
    # IS 40, OOS 25: [40,65), then [65,90), then 10 left (< 13): dropped
    assert [(w.oos_start, w.oos_end) for w in walk_forward_windows(0, 100, 40, 25)] == [(40, 65), (65, 90)]
    # 15 left of 25 (>= 13): kept, cut at 100
    assert [(w.oos_start, w.oos_end) for w in walk_forward_windows(0, 105, 40, 25)][-1] == (90, 105)


def test_custom_step_overlaps_out_of_sample_windows():
    ws = walk_forward_windows(0, 70, 40, 20, step=10)
    assert [(w.is_start, w.oos_start, w.oos_end) for w in ws] == [(0, 40, 60), (10, 50, 70)]


@pytest.mark.parametrize("args, field", [((0, 100, 0, 20), "in_sample"), ((0, 100, 40, -1), "out_of_sample"),
                                         ((0, 100, 40, 20, 0), "step"), ((0, 50, 40, 20), "in_sample")])
def test_bad_windows_name_the_field(args, field):
    with pytest.raises(ValueError, match=f"^{field}:"):
        walk_forward_windows(*args)


# ------------------------------------------------------------------------------------- Monte Carlo
PNLS = [10.0, -5.0, -5.0, 20.0, -3.0]


def test_equity_paths_drawdown_and_streak_by_hand():
    sampled = np.array([PNLS, [-5.0, -5.0, -3.0, 10.0, 20.0]])
    paths = mc.equity_paths(sampled, 100.0)
    assert paths.tolist() == [[100, 110, 105, 100, 120, 117], [100, 95, 90, 87, 97, 117]]
    # path 1: peak 110, trough 100 -> 10/110; path 2: peak 100 (the start), trough 87 -> 0.13
    assert mc.max_drawdowns(paths) == pytest.approx([10 / 110, 0.13])
    assert mc.losing_streaks(sampled).tolist() == [2, 3]


def test_percentiles_interpolate_linearly():
    # 5th of 1..5: 1 + 0.05 * 4 = 1.2; 50th: 3; 95th: 1 + 0.95 * 4 = 4.8
    assert mc.percentiles(np.array([5.0, 1.0, 3.0, 2.0, 4.0])) == pytest.approx({5.0: 1.2, 50.0: 3.0, 95.0: 4.8})


def test_shuffle_keeps_every_trade_once_so_the_final_equity_never_moves():
    r = mc.run(PNLS, 100.0, n_paths=200, mode="shuffle", seed=3)
    assert list(r.final_equity.values()) == pytest.approx([117.0, 117.0, 117.0])
    rows = mc.resample(PNLS, 50, "shuffle", 3)
    assert all(sorted(row) == sorted(PNLS) for row in rows.tolist())
    # the real order: peak 110 -> 100, streak 2
    assert (r.actual_final_equity, r.actual_losing_streak) == (117.0, 2)
    assert r.actual_max_drawdown == pytest.approx(10 / 110)


def test_bootstrap_is_seeded_and_draws_with_replacement():
    a = mc.resample(PNLS, 300, "bootstrap", 7)
    assert np.array_equal(a, mc.resample(PNLS, 300, "bootstrap", 7))
    assert not np.array_equal(a, mc.resample(PNLS, 300, "bootstrap", 8))
    assert set(np.unique(a)) <= set(PNLS)
    assert any(len(set(row)) < len(set(PNLS)) for row in a.tolist())  # some trade drawn twice
    r = mc.run(PNLS, 100.0, 300, "bootstrap", 7)
    assert r.final_equity[5.0] <= r.final_equity[50.0] <= r.final_equity[95.0]
    assert len(r.fan[50.0]) == len(PNLS) + 1 and r.fan[5.0][0] == 100.0


def test_all_losing_paths_and_bad_input():
    r = mc.run([-1.0, -2.0], 10.0, 10, "bootstrap", 0)
    assert r.prob_loss == 1.0 and r.losing_streak[50.0] == 2
    for kwargs, field in (({"n_paths": 0}, "paths"), ({"mode": "x"}, "mode")):
        with pytest.raises(ValueError, match=f"^{field}:"):
            mc.run(PNLS, 100.0, **{"n_paths": 10, "mode": "bootstrap", **kwargs})
    with pytest.raises(ValueError, match="^trades:"):
        mc.run([], 100.0)
    with pytest.raises(ValueError, match="^cash:"):
        mc.run(PNLS, 0.0)


# -------------------------------------------------------------------------------------- objectives
def test_directions_constraints_and_ratio():
    assert direction("max_drawdown") == "minimize" and direction("sharpe") == "maximize"
    with pytest.raises(KeyError, match="unknown metric"):
        direction("nope")
    c = Constraints(min_trades=5, max_drawdown=0.2)
    assert c.violation({"trades": 4, "max_drawdown": 0.1}) == "4 trades < minimum 5"
    assert "max drawdown 25.0 % > limit 20.0 %" == c.violation({"trades": 9, "max_drawdown": 0.25})
    assert c.violation({"trades": 9, "max_drawdown": 0.2}) == ""
    with pytest.raises(ValueError, match="^max_drawdown:"):
        Constraints(max_drawdown=2).check()
    assert is_better(2.0, 1.0, "maximize") and is_better(1.0, 2.0, "minimize") and not is_better(1.0, 1.0, "maximize")
    assert objective_value({"sharpe": None}, "sharpe") is None
    assert ratio(0.5, 2.0) == 0.25 and ratio(1.0, 0.0) is None and ratio(None, 1.0) is None
