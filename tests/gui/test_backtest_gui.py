"""The backtest window, offscreen, on the qasync loop, with real services on temporary folders:
a run agrees with a direct Backtest, Cancel stops a run and keeps nothing of it, a parameter error
is shown next to its field and nothing runs, a corrupt CSV is refused with its line numbers,
presets round-trip, exports are written, and exchange history downloads through the cache."""
from __future__ import annotations

import asyncio
import csv
import json

import pytest
from PySide6.QtCore import Qt

from cts_desktop.services import reports as report
from cts_desktop.core.models import Market
from cts_desktop.core.risk import RiskLimits
from cts_desktop.engine import strategies
from cts_desktop.engine.backtest import TRADE_COLUMNS, Backtest, trades_rows
from cts_desktop.exchange.replay import ReplaySource, get_dataset
from cts_desktop.store.db import CurveRec, FillRec, OrderRec, PositionRec, Run
from tests.conftest import DATA
from tests.venue.harness import connection_for

pytestmark = [pytest.mark.gui, pytest.mark.timeout(180)]


@pytest.fixture(autouse=True)
def _release_loop(loop):
    """After the test (and the services' teardown), leave no qasync loop marked as running: the
    integration tests that follow in the same process call ``asyncio.run``."""
    yield
    asyncio.events._set_running_loop(None)
    asyncio.set_event_loop(None)


@pytest.fixture
def bt(services, qtbot):
    from cts_desktop.ui.backtest import BacktestWindow

    w = BacktestWindow(services)
    qtbot.addWidget(w)
    w.show()
    qtbot.waitExposed(w)
    yield w
    if w.task is not None and not w.task.done():
        w.cancel()
        qtbot.waitUntil(w.task.done, timeout=30_000)
    w.close()


def direct(dataset: str, params=None, cash=10_000.0, fee=0.001):
    source = ReplaySource(get_dataset(dataset))
    return Backtest(strategies.get("ma_cross")(params or {}), {s: v.candles for s, v in source.series.items()},
                    source.markets, timeframe_ms=source.timeframe_ms, starting_balance=cash * source.quote_per_usd(),
                    fee=fee, slippage=0.0, limits=RiskLimits(max_position_fraction=1.0, max_open_positions=3)).run()


def test_run_from_the_gui_agrees_with_a_direct_backtest(bt, qtbot, tmp_path):
    bt.select_source("dataset", "bittrex-btc-5m")
    bt.select_strategy("ma_cross")
    bt.param_form.set_values({"fast": 8, "slow": 21})
    qtbot.mouseClick(bt.run_button, Qt.MouseButton.LeftButton)
    assert bt.task is not None and bt.state in ("loading", "running")
    assert not bt.run_button.isEnabled() and bt.cancel_button.isEnabled()
    qtbot.waitUntil(bt.task.done, timeout=120_000)
    assert bt.state == "finished", bt.state_label.text()
    assert bt.progress.value() == 1000

    want = direct("bittrex-btc-5m", {"fast": 8, "slow": 21})
    got = bt.result
    assert got.metrics.to_dict() == want.metrics.to_dict()
    for field, _label, kind, _help in report.METRIC_ROWS:  # every metric shown, with its unit
        assert bt.metrics_panel.text(field) == report.format_metric(kind, getattr(want.metrics, field), "BTC"), field
    assert bt.metrics_panel.text("total_return").endswith(" %")
    assert bt.metrics_panel.text("final_equity").endswith(" BTC")

    rows = trades_rows(want.positions)
    assert bt.trades_model.rowCount() == len(rows) > 50
    assert bt.by_symbol.rowCount() == 3 and bt.by_strategy.rowCount() == 1
    # the price chart of the first symbol has one entry marker per position, one exit per closed one
    sym = bt.price_chart.symbol_box.currentText()
    assert sym == "ETH/BTC"
    ps = [p for p in want.positions if p.symbol == sym]
    assert bt.price_chart.marker_counts() == (len(ps), sum(1 for p in ps if p.closed_at is not None))
    bt.price_chart.symbol_box.setCurrentText("ADA/BTC")
    ps = [p for p in want.positions if p.symbol == "ADA/BTC"]
    assert bt.price_chart.marker_counts()[0] == len(ps) > 0
    assert bt.curve_charts.equity_curve.xData is not None and len(bt.curve_charts.equity_curve.xData) == len(want.curve)

    # sortable trades table: net P&L descending puts the best trade first
    bt.trades_view.sortByColumn(10, Qt.SortOrder.DescendingOrder)
    best = bt.trades_proxy.index(0, 10).data(Qt.ItemDataRole.UserRole)
    assert best == max(r[10] for r in rows)

    # kept in the database as a finished backtest run
    run = Run.get_by_id(got.run_id)
    assert run.mode == "backtest" and run.state == "finished" and run.strategy == "ma_cross"
    assert PositionRec.select().where(PositionRec.run == run.id).count() == len(want.positions)

    # exports
    assert bt.export_csv_button.isEnabled() and bt.export_html_button.isEnabled()
    assert bt.export_trades(tmp_path / "t.csv")
    body = list(csv.reader((tmp_path / "t.csv").open(encoding="utf-8")))
    assert body[0] == TRADE_COLUMNS and len(body) - 1 == len(rows)
    assert bt.export_report(tmp_path / "r.html")
    html = (tmp_path / "r.html").read_text(encoding="utf-8")
    assert html.count("<svg") == 2 and "bittrex-btc-5m" in html and "<td>param: slow</td>" in html


def test_cancel_stops_the_run_and_keeps_nothing(bt, qtbot):
    bt.select_source("dataset", "ftx-btc-perp-1m")
    clicked = []

    def on_progress(done, total):
        if not clicked:
            clicked.append(done)
            qtbot.mouseClick(bt.cancel_button, Qt.MouseButton.LeftButton)

    bt.progressed.connect(on_progress)
    qtbot.mouseClick(bt.run_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(bt.task.done, timeout=120_000)
    assert clicked and clicked[0] < 45_031
    assert bt.state == "cancelled" and "Cancelled" in bt.state_label.text()
    assert bt.result is None and not bt.export_csv_button.isEnabled()
    assert bt.run_button.isEnabled() and not bt.cancel_button.isEnabled()
    (run,) = Run.select().where(Run.mode == "backtest")
    assert run.state == "stopped" and run.reason == "cancelled"
    for model in (OrderRec, FillRec, PositionRec, CurveRec):
        assert model.select().where(model.run == run.id).count() == 0
    bt.progressed.disconnect(on_progress)

    # cancelled while the candles load: not even a run row
    task = bt.start()
    bt.cancel()
    qtbot.waitUntil(task.done, timeout=60_000)
    assert bt.state == "cancelled"
    assert Run.select().where(Run.mode == "backtest").count() == 1


def test_parameter_error_is_shown_next_to_its_field_and_nothing_runs(bt, qtbot):
    bt.select_strategy("ma_cross")
    bt.param_form.set_values({"fast": 20, "slow": 10})
    qtbot.mouseClick(bt.run_button, Qt.MouseButton.LeftButton)
    assert bt.task is None and bt.state == "idle"
    assert bt.param_form.error_text("slow") == "slow: must be greater than fast (20), got 10"
    assert bt.param_form.errors["slow"].isVisible()
    assert "slow" in bt.state_label.text()
    assert bt.param_form.error_text("fast") == ""
    # editing clears the error; an exclusive minimum is caught the same way
    bt.param_form.widgets["slow"].setValue(30)
    assert bt.param_form.error_text("slow") == ""
    bt.param_form.widgets["size"].setValue(0.0)
    assert bt.start() is None
    assert bt.param_form.error_text("size").startswith("size: must be > 0")
    assert Run.select().count() == 0

    # the form is generated from the declarations: ranges, units, help
    w = bt.param_form.widgets
    assert w["fast"].minimum() == 1 and w["fast"].maximum() == 10_000 and w["fast"].suffix() == " candles"
    assert w["stop_loss"].suffix() == " %" and "Stop-loss distance" in w["stop_loss"].toolTip()
    assert [w["ma_type"].itemText(i) for i in range(w["ma_type"].count())] == ["sma", "ema"]
    bt.select_strategy("rsi_reversion" if "rsi_reversion" in strategies.REGISTRY else next(
        n for n in strategies.REGISTRY if n != "ma_cross"))
    assert set(bt.param_form.widgets) == {p.name for p in strategies.get(bt.strategy_box.currentData()).params}


def test_corrupt_csv_is_refused_with_line_numbers(bt, qtbot, tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("timestamp,open,high,low,close,volume\n"
                   "1000,1,2,0.5,1.5,10\n"
                   "61000,1,2,0.5,1.5,10\n"
                   "121000,-1,2,0.5,1.5,10\n"
                   "181000,1,2,0.5,1.5,10\n"
                   "181000,1,2,0.5,1.5,10\n")
    bt.select_source("csv")
    assert not bt.import_csv(bad)
    text = bt.csv_status.text()
    assert "Not imported" in text and "bad.csv" in text
    assert "line 4: prices must be > 0" in text and "line 6: duplicate timestamp 181000" in text
    assert bt._csv is None
    assert bt.start() is None and bt.form_error.isVisible() and "Import a candle file" in bt.form_error.text()

    # a good file imports, and a bad one afterwards drops it (nothing half-imported stays in use)
    assert bt.import_csv(DATA / "COINBASE_BTC-USD_1h_2017-2019.csv")
    assert "20,111 candles, 1h" in bt.csv_status.text()
    assert not bt.import_csv(bad) and bt._csv is None

    assert bt.import_csv(DATA / "COINBASE_BTC-USD_1h_2017-2019.csv")
    bt.csv_symbol.setText("BTC/USD")
    assert bt.cash.suffix() == " USD"
    task = bt.start()
    qtbot.waitUntil(task.done, timeout=120_000)
    assert bt.state == "finished", bt.state_label.text()
    from cts_desktop.exchange.candles import load_candles_csv
    series = load_candles_csv(DATA / "COINBASE_BTC-USD_1h_2017-2019.csv")
    m = Market("BTC/USD", "BTC", "USD", "spot", 1e-8, 0.0, 0.0, 0.0, 0.001, 0.001)
    want = Backtest(strategies.get("ma_cross")({}), {"BTC/USD": series.candles}, {"BTC/USD": m},
                    timeframe_ms=series.timeframe_ms, starting_balance=10_000.0, fee=0.001,
                    limits=RiskLimits(1.0, 3)).run()
    assert bt.result.metrics.to_dict() == want.metrics.to_dict()


def test_presets_round_trip(services, bt, qtbot):
    from cts_desktop.ui.backtest import BacktestWindow

    bt.select_strategy("ma_cross")
    bt.param_form.set_values({"fast": 7, "slow": 50, "ma_type": "ema", "allow_short": True})
    bt.fee.setValue(0.075)
    bt.cash.setValue(2500)
    bt.save_preset("fast ema")
    data = json.loads((services.config_dir / "presets.json").read_text())
    assert data["presets"]["fast ema"]["params"]["ma_type"] == "ema"
    assert data["presets"]["fast ema"]["fee"] == pytest.approx(0.00075)

    other = BacktestWindow(services)
    qtbot.addWidget(other)
    assert "fast ema" in other.presets.names()
    other.load_preset("fast ema")
    v = other.param_form.values()
    assert (v["fast"], v["slow"], v["ma_type"], v["allow_short"]) == (7, 50, "ema", True)
    assert other.fee.value() == pytest.approx(0.075) and other.cash.value() == 2500
    other.close()

    (services.config_dir / "presets.json").write_text("{not json")
    broken = BacktestWindow(services)
    qtbot.addWidget(broken)
    assert broken.presets.names() == [] and "could not be read" in broken.state_label.text()
    broken.save_preset("again")  # the unreadable file is kept aside, not lost
    assert (services.config_dir / "presets.json.corrupt").read_text() == "{not json"
    broken.close()


def test_exchange_history_downloads_through_the_cache(services, bt, qtbot, venue):  # noqa: F811
    services.save_connection(connection_for(venue, name="venue", rate_limit_per_second=500))
    bt.select_source("history")
    assert bt.hist_conn.isEnabled() and bt.hist_conn.currentText() == "venue"
    bt.hist_symbol.setText("BTC/USDT")
    bt.hist_tf.setCurrentText("5m")
    bt.hist_from.setDate(bt.hist_to.date().addDays(-2))
    assert bt.cash.suffix() == " USDT"
    task = bt.start()
    qtbot.waitUntil(task.done, timeout=120_000)
    assert bt.state == "finished", bt.state_label.text()
    n = bt.result.candles
    assert 500 < n <= 3 * 288
    first = sum(1 for r in venue.requests if r == ("GET", "/api/v3/klines"))
    assert first >= 1 and "kept in the database" in bt.hist_status.text()
    task = bt.start()  # again: from the cache, no candle request
    qtbot.waitUntil(task.done, timeout=120_000)
    # the venue's candles follow the wall clock: when a 5m candle closed between the two runs, the
    # second asks for that one new candle only (one request), else for nothing
    again = bt.result.candles
    assert bt.state == "finished" and again in (n, n + 1)
    assert sum(1 for r in venue.requests if r == ("GET", "/api/v3/klines")) == first + (again - n)

    bt.hist_symbol.setText("NOPE/USDT")
    task = bt.start()
    qtbot.waitUntil(task.done, timeout=60_000)
    assert bt.state == "error" and "no market NOPE/USDT" in bt.state_label.text()
