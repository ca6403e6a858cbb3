"""The candle chart offscreen, as a trader uses it: the backtest's candles with the strategy's
averages (the strategy's own numbers) and a marker per fill with its tool tip; zoomed all the
way out over a year of 1m candles it draws about one bar per three pixels with every extreme;
the year's high and low are painted where they are; the crosshair reads the candle under it; new candles with Follow on stay in view; the entry,
stop-loss and take-profit lines come and go."""
import numpy as np
import pytest

from cts_desktop.engine.strategies.averages import SMA
from cts_desktop.services import backtests
from cts_desktop.services import reports as report
from cts_desktop.ui.backtest.charts import PriceChart
from cts_desktop.ui.candle_chart import PX_PER_BAR, CandleChart
from tests.unit.test_candle_data import M1, walk

pytestmark = pytest.mark.gui


@pytest.fixture
def chart(qtbot):
    c = CandleChart()
    qtbot.addWidget(c)
    c.resize(1280, 720)
    c.show()
    qtbot.waitExposed(c)
    return c


def test_backtest_candles_indicators_and_fill_markers(qtbot):
    inputs = backtests.load_dataset("ftx-btc-perp-1m")
    strategy = backtests.make_strategy("ma_cross", {"fast": 10, "slow": 30})
    res = backtests.run(strategy, inputs, backtests.BacktestSettings(10_000.0), data_dir=None)
    pc = PriceChart()
    qtbot.addWidget(pc)
    pc.resize(1280, 720)
    pc.show()
    pc.set_result(res.candles_by_symbol, res.positions, "USD", ("ma_cross", dict(strategy.p)))
    qtbot.waitUntil(lambda: pc.chart.bars is not None and len(pc.chart.bars) > 0)
    closed = sum(1 for p in res.positions if p.closed_at is not None)
    assert pc.marker_counts() == (len(res.positions), closed)
    spots = pc.chart.markers.data
    first = min(res.positions, key=lambda p: p.opened_at)
    tip = next(d for d in spots["data"] if d.startswith(f"#{first.id} "))
    assert "entry" in tip and "@" in tip
    lines = {item.name(): line for item, _plot, line in pc.chart._line_items}
    assert set(lines) == {"SMA 10", "SMA 30"}
    closes = pc.chart.data.column("close")
    sma = SMA(30)
    want = [sma.update(c) for c in closes]
    got = lines["SMA 30"].values
    assert np.isnan(got[28]) and got[29] == want[29] and got[-1] == want[-1]


def test_a_year_of_minutes_zoomed_out_and_in(chart, qtbot):
    rows = walk(525_600)
    chart.set_candles(rows, show_last=0)
    qtbot.waitUntil(lambda: chart.bars is not None and chart.bars.k > 1)
    b = chart.bars
    assert len(b) <= chart.price.vb.width() / PX_PER_BAR + 2
    assert b.high.max() == rows[:, 2].max() and b.low.min() == rows[:, 3].min()
    lo, hi = chart.price.vb.viewRange()[1]
    assert lo < rows[:, 3].min() and hi > rows[:, 2].max()  # the price axis fits what is visible
    chart.show_last(120)
    qtbot.waitUntil(lambda: chart.bars.k == 1)
    assert 120 <= len(chart.bars) <= 124
    i = 525_600 - 50
    text = chart.describe_at(rows[i, 0] + 10_000)
    assert text.startswith(f"{report.fmt_time(int(rows[i, 0]))} UTC")
    assert f"C {rows[i, 4]:,.2f}" in text


def test_follow_levels_and_markers(chart, qtbot):
    rows = walk(300)
    chart.set_candles(rows, show_last=100)
    qtbot.waitUntil(lambda: chart.bars is not None)
    t = rows[-1, 0]
    for j in range(1, 40):
        chart.add_candle([t + j * M1, 30_000, 30_010, 29_990, 30_005, 2.0])
    qtbot.waitUntil(lambda: chart.data.n == 339)
    x0, x1 = chart.price.vb.viewRange()[0]
    assert x0 * 1000 <= t + 39 * M1 < x1 * 1000  # the newest candle is in view
    chart.set_levels({"entry": 30_000.0, "stop-loss": 29_500.0, "take-profit": 31_000.0})
    assert chart.levels() == {"entry": 30_000.0, "stop-loss": 29_500.0, "take-profit": 31_000.0}
    chart.set_levels({"take-profit": None})
    assert set(chart.levels()) == {"entry", "stop-loss"}


def _painted_rows(chart, x_s: float) -> list:
    """The rows of the plot area painted in a candle colour in the pixel column of time ``x_s``."""
    from PySide6.QtCore import QPointF
    from PySide6.QtGui import QColor

    from cts_desktop.ui.candle_chart import DOWN, UP

    image = chart.glw.grab().toImage()
    view = chart.glw.mapFromScene(chart.price.vb.mapViewToScene(QPointF(x_s, 0.0)))
    top = chart.glw.mapFromScene(chart.price.vb.sceneBoundingRect().topLeft()).y()
    bottom = chart.glw.mapFromScene(chart.price.vb.sceneBoundingRect().bottomLeft()).y()
    colours = {QColor(UP).rgb(), QColor(DOWN).rgb()}
    return [y for y in range(max(top, 0), min(bottom, image.height()))
            if any(image.pixel(view.x() + dx, y) in colours for dx in (-1, 0, 1))]  # the wick is 1 px: rounding


def test_zoomed_out_the_highest_high_and_lowest_low_are_painted_where_they_are(chart, qtbot):
    """A year zoomed all the way out: the bar holding the year's high reaches up to that price on
    screen (within a pixel) and the one holding the low down to it."""
    from PySide6.QtCore import QPointF

    rows = walk(525_600)
    chart.set_candles(rows, show_last=0)
    qtbot.waitUntil(lambda: chart.bars is not None and chart.bars.k > 1)
    b = chart.bars
    for price, pick, end in ((rows[:, 2].max(), np.argmax(b.high), min), (rows[:, 3].min(), np.argmin(b.low), max)):
        x = (b.ts[pick] + b.width / 2) / 1000.0
        painted = _painted_rows(chart, x)
        want = chart.glw.mapFromScene(chart.price.vb.mapViewToScene(QPointF(x, price))).y()
        assert painted and abs(end(painted) - want) <= 1, (price, want, painted[:3], painted[-3:])


def test_a_chart_opened_with_few_candles_keeps_a_readable_width_as_they_come(chart):
    """A chart loaded as a run starts (one candle so far) shows 200 timeframes, not the one
    candle's span; with Follow the width stays as new candles arrive."""
    chart.set_candles([[0.0, 100.0, 101.0, 99.0, 100.5, 5.0]], M1)
    x0, x1 = chart.price.vb.viewRange()[0]
    assert (x1 - x0) * 1000 >= 199 * M1
    for i in range(1, 30):
        chart.add_candle([i * M1, 100.0, 101.0, 99.0, 100.5, 5.0])
    y0, y1 = chart.price.vb.viewRange()[0]
    assert y1 - y0 == pytest.approx(x1 - x0)
    assert y1 * 1000 >= 29 * M1  # the newest candle in view
