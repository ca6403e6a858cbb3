"""Big tables and a big chart show the right things: a re-sort of the stored table models equals
Python's sorted() (both directions, every column kind, after live re-pricing, inserts and
removals, with the selection following its record); the activity filter equals a brute-force
filter while lines stream in; the equity chart's peak-preserving decimation keeps the data's
extremes, and a chunked history load draws the whole curve's shape (not a staircase)."""
from __future__ import annotations

import random

import numpy as np
import pytest
from PySide6.QtCore import QItemSelectionModel, Qt
from PySide6.QtGui import QAction

from cts_desktop.core.events import LogEvent
from cts_desktop.core.models import Position
from cts_desktop.ui.activity import ActivityTab
from cts_desktop.ui.chart_data import peak_decimate
from cts_desktop.ui.charts import LOAD_CHUNK, EquityChart
from cts_desktop.ui.models import ClosedPositionsModel, OpenPositionsModel
from cts_desktop.ui.positions import PositionsTab

ASC, DESC = Qt.SortOrder.AscendingOrder, Qt.SortOrder.DescendingOrder
SYMBOLS = [f"C{i}/USDT" for i in range(50)]


def open_positions(rng, n, start=1):
    return [Position(id=i, symbol=rng.choice(SYMBOLS), side=rng.choice(("long", "short")), opened_at=i * 1000,
                     amount=rng.uniform(0.1, 5), entry_price=rng.uniform(1, 100), max_amount=1,
                     fees=rng.choice((0.0, 0.5, 1.0))) for i in range(start, start + n)]


def closed_positions(rng, n):
    return [Position(id=i, symbol=rng.choice(SYMBOLS), side=rng.choice(("long", "short")), opened_at=i,
                     amount=0, entry_price=rng.uniform(1, 2), exit_price=rng.uniform(1, 2),
                     realized_pnl=rng.gauss(0, 1), fees=0.01, closed_at=i + rng.randint(1, 50),
                     close_reason=rng.choice(("exit", "Stop-loss", "take-profit: X", "")))
            for i in range(n)]


def shown(model):
    """The view order as records, and (checked) the C++ cells of the rows written."""
    return [model.record(r) for r in range(model.rowCount())]


def expected(model, records, col, desc):
    keys = [model.sort_value(r, model.columns[col]) for r in records]
    ordered = sorted(keys)
    return ordered[::-1] if desc else ordered


def check_sorted(model, col, desc):
    got = [model.sort_value(r, model.columns[col]) for r in shown(model)]
    assert got == expected(model, model.records(), col, desc)
    # the written cells belong to the records now shown there
    model.fill_rows(range(min(model.rowCount(), 60)))
    for r in range(min(model.rowCount(), 60)):
        rec = model.record(r)
        for c, column in enumerate(model.columns):
            assert model.index(r, c).data() == model.display(rec, column, model.value(rec, column))


def test_every_column_sorts_like_sorted(qtbot, themed_app):
    rng = random.Random(3)
    model = ClosedPositionsModel()
    model.set_records(closed_positions(rng, 3000))
    for col in range(len(model.columns)):
        for order in (ASC, DESC):
            model.sort(col, order)
            check_sorted(model, col, order == DESC)


def test_live_repricing_resorts_and_the_selection_follows(qtbot, themed_app):
    rng = random.Random(5)
    tab = PositionsTab()
    qtbot.addWidget(tab)
    tab.resize(1280, 720)
    tab.show()
    model: OpenPositionsModel = tab.open_model
    model.set_records(open_positions(rng, 2000))
    col = next(i for i, c in enumerate(model.columns) if c.field == "unrealized")
    tab.open_table.sortByColumn(col, DESC)
    sel = tab.open_table.selectionModel()
    sel.setCurrentIndex(model.index(7, 0), QItemSelectionModel.SelectionFlag.ClearAndSelect
                        | QItemSelectionModel.SelectionFlag.Rows)
    chosen = model.record(7).id
    next_id = 10_000
    count = 2000
    for step in range(20):
        model.update_prices({s: rng.uniform(1, 100) for s in SYMBOLS})
        check_sorted(model, col, True)
        # 20 opens and 20 closes a step, through the tab as the bridge delivers them
        gone = [p for p in rng.sample(model.records(), 20) if p.id != chosen]
        for p in gone:
            p.closed_at = 1
        tab.apply_positions(gone + open_positions(rng, 20, next_id))
        next_id += 20
        count += 20 - len(gone)
        assert model.rowCount() == count
        check_sorted(model, col, True)
        assert model.record(sel.currentIndex().row()).id == chosen, f"step {step}"
    assert tab.closed_model.rowCount() == 2000 + 20 * 20 - count


def make_lines(rng, n, start=0):
    cats = ("order", "fill", "position", "signal", "engine", "error")
    return [LogEvent("c", start + i, rng.choice(cats), f"line {start + i} {rng.choice(('alpha', 'Beta', 'gamma'))}",
                     rng.choice(("info", "info", "warning", "error"))) for i in range(n)]


def test_the_log_filter_matches_brute_force_while_lines_stream(qtbot, themed_app):
    rng = random.Random(9)
    actions = {k: QAction(k) for k in ("start", "pause", "resume", "stop")}
    tab = ActivityTab(actions)
    qtbot.addWidget(tab)
    tab.resize(1280, 720)
    tab.show()
    tab.load(make_lines(rng, 5000))

    def brute(lines, cats, level, text):
        lv = {"info": 0, "warning": 1, "error": 2}
        return [e for e in lines if (cats is None or e.category in cats) and lv[e.level] >= lv[level]
                and (not text or text.lower() in e.message.lower() or text.lower() in e.category)]

    for cats, level, text in ((["fill"], "info", ""), (None, "warning", ""), (None, "info", "BETA"),
                              (["order", "error"], "error", "line 4")):
        tab.set_filter(cats, level, text)
        assert tab.table.model() is tab.filtered
        assert tab.filtered.records() == brute(tab.model.records(), cats, level, text)
        tab.append(make_lines(rng, 300, start=tab.model.rowCount()))
        assert tab.filtered.records() == brute(tab.model.records(), cats, level, text)
        # the rows in view are written, with the filtered records' texts
        bottom = tab.filtered.rowCount() - 1
        if bottom >= 0:
            assert tab.filtered.index(bottom, 4).data() == tab.filtered.record(bottom).message
        assert tab.count.text().startswith(f"{tab.filtered.rowCount():,} matching of")
    tab.set_filter(None)
    assert tab.table.model() is tab.model and tab.filtered.rowCount() == 0
    assert tab.count.text() == f"{tab.model.rowCount():,} lines"


def test_peak_decimation_keeps_every_extreme():
    rng = np.random.default_rng(1)
    x = np.arange(1_000_000, dtype=np.float64)
    y = np.cumsum(rng.normal(size=x.size))
    y[123_457] += 500.0  # a one-point spike and a one-point crash must both survive
    y[876_543] -= 500.0
    for x0, x1, buckets in ((x[0], x[-1], 1000), (200_000.5, 300_000.25, 1280), (10.0, 900.0, 1000)):
        dx, dy = peak_decimate(x, y, x0, x1, buckets)
        inside = (x >= x0) & (x <= x1)
        assert len(dx) <= 2 * buckets + 4
        assert np.all(np.diff(dx) >= 0)
        assert dy.max() >= y[inside].max() and dy.min() <= y[inside].min()
        assert set(dy.tolist()) <= set(y.tolist())  # only real values are drawn
        assert dx[0] <= x0 and dx[-1] >= min(x1, x[-1])  # the line reaches both edges


def test_a_million_point_history_draws_its_whole_shape(qtbot, themed_app):
    rng = np.random.default_rng(2)
    n = 1_000_000
    ts = 1_640_995_200_000 + np.arange(n, dtype=np.int64) * 60_000
    eq = 10_000 + np.cumsum(rng.normal(scale=5.0, size=n))
    points = list(zip(ts.tolist(), eq.tolist(), strict=True))
    chart = EquityChart()
    qtbot.addWidget(chart)
    chart.resize(1280, 500)
    chart.show()
    qtbot.waitUntil(lambda: chart._glw is not None, timeout=10_000)
    chart.set_points(points)
    assert chart.loading  # more than one chunk: the rest comes on later turns of the loop
    chart.append_points([(int(ts[-1]) + 60_000, float(eq[-1]) + 1)])  # a live batch during the load
    qtbot.waitUntil(lambda: not chart.loading, timeout=60_000)
    assert chart.point_count == n + 1 and n > LOAD_CHUNK
    x, y = chart.curve.getData()
    assert 1000 <= len(x) <= 2 * 1280 + 4  # decimated, and not a staircase of ~100 steps
    assert y.max() == pytest.approx(max(eq.max(), eq[-1] + 1)) and y.min() == pytest.approx(eq.min())
    assert y[-1] == pytest.approx(eq[-1] + 1)  # ends at the live point
    # zoom into a tenth: the decimation follows the view, still with that part's extremes
    lo, hi = ts[100_000] / 1000.0, ts[200_000] / 1000.0
    chart.plot.setXRange(lo, hi, padding=0)
    chart._user_moved()
    qtbot.waitUntil(lambda: chart.curve.getData()[0][0] >= lo - 60, timeout=5_000)
    x, y = chart.curve.getData()
    part = eq[100_000:200_001]
    assert y.max() >= part.max() and y.min() <= part.min()


def test_a_burst_of_log_lines_lands_in_chunks_in_order(qtbot, themed_app, monkeypatch):
    import cts_desktop.ui.activity as activity

    monkeypatch.setattr(activity, "MAX_LOG_LINES", 3000)
    rng = random.Random(11)
    tab = ActivityTab({k: QAction(k) for k in ("start", "pause", "resume", "stop")})
    qtbot.addWidget(tab)
    tab.model.max_rows = tab.filtered.max_rows = 3000
    tab.show()
    tab.load(make_lines(rng, 500))
    tab.set_filter(["fill"])
    burst = make_lines(rng, 7000, start=500)
    tab.append(burst[:10])  # small: at once
    assert tab.pending == 0 and tab.model.rowCount() == 510
    tab.append(burst[10:])  # bigger than a chunk: queued, added one chunk per turn of the loop
    assert tab.pending > 0
    tab.append(make_lines(rng, 3, start=7500))  # arrives behind the queued burst, stays in order
    qtbot.waitUntil(lambda: tab.pending == 0, timeout=10_000)
    expected = burst[-2997:]
    got = tab.model.records()
    assert len(got) == 3000
    assert [e.timestamp for e in got[:-3]] == [e.timestamp for e in expected]
    assert [e.timestamp for e in got[-3:]] == [7500, 7501, 7502]
    assert tab.filtered.records() == [e for e in got if e.category == "fill"]  # the log's matching lines
