"""The equity chart after a history load into a window already on screen (issue 9: "the equity
chart lies after a history load"): the drawn curve spans the whole run and keeps its extremes."""
from __future__ import annotations

import numpy as np
import pytest

from cts_desktop.core import events as ev
from tests.gui.conftest import run

pytestmark = pytest.mark.gui


def test_history_loaded_on_screen_draws_the_whole_curve(window, services, fast_paper, qtbot):
    live = window.live_tab
    window.tabs.setCurrentWidget(live)
    window.select_connection(fast_paper)
    run(qtbot, services.start_engine(fast_paper))
    qtbot.waitUntil(lambda: services.engine_state(fast_paper) == ev.STOPPED, timeout=120_000)
    services.recorder.flush().result(10)
    curve = services.equity_curve(fast_paper)
    assert len(curve) > 10_000
    window.feed.load_history()  # the chart is on screen
    chart = live.chart
    qtbot.waitUntil(lambda: not chart.loading and chart.point_count == len(curve), timeout=30_000)
    xs, ys = chart.curve.getData()
    eq = np.array([p[1] for p in curve])
    assert len(xs) >= 1000, len(xs)
    assert xs[0] == curve[0][0] / 1000.0 and xs[-1] == curve[-1][0] / 1000.0
    assert ys.max() == eq.max() and ys.min() == eq.min()


def test_history_loaded_behind_another_tab_is_whole_when_shown(window, services, fast_paper, qtbot):
    window.select_connection(fast_paper)
    run(qtbot, services.start_engine(fast_paper))
    qtbot.waitUntil(lambda: services.engine_state(fast_paper) == ev.STOPPED, timeout=120_000)
    services.recorder.flush().result(10)
    curve = services.equity_curve(fast_paper)
    window.tabs.setCurrentWidget(window.positions_tab)
    window.resize(1280, 720)
    window.feed.load_history()
    chart = window.live_tab.chart
    qtbot.waitUntil(lambda: not chart.loading and chart.point_count == len(curve), timeout=30_000)
    window.tabs.setCurrentWidget(window.live_tab)
    qtbot.waitUntil(lambda: chart.isVisible())
    qtbot.waitUntil(lambda: len(chart.curve.getData()[0]) >= 1000, timeout=5_000)
    xs, ys = chart.curve.getData()
    vb = chart.plot.getViewBox()
    x0, x1 = vb.viewRange()[0]
    assert x0 <= xs[0] and xs[-1] <= x1 and xs[0] == curve[0][0] / 1000.0 and xs[-1] == curve[-1][0] / 1000.0


def test_identical_replays_each_keep_their_rows_in_the_position_history(window, services, fast_paper, qtbot):
    """Identical runs produce identical positions; the history shows every run's rows."""
    from cts_desktop.store import repositories as repo
    window.select_connection(fast_paper)
    for _ in range(2):
        run(qtbot, services.start_engine(fast_paper))
        qtbot.waitUntil(lambda: services.engine_state(fast_paper) == ev.STOPPED, timeout=120_000)
    services.recorder.flush().result(10)
    in_db = len(repo.closed_positions(fast_paper, limit=1_000_000))
    window.feed.load_history()
    model = window.positions_tab.closed_model
    qtbot.waitUntil(lambda: model.rowCount() == min(in_db, 5000), timeout=10_000)
    runs = {p.run_id for p in model.records()}
    assert in_db > 1000 and len(runs) == 2
