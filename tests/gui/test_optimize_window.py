"""The optimise window (Tools > Optimize), offscreen, with real services on temporary folders: a
tiny grid on a slice of the FTX month runs in the background to the end; the table holds exactly
the stored trials and sorts; the heatmap's cells are the best value per cell; the trials export as
CSV; the best parameters become a preset the presets store finds; a stored study reopens; the best
trial runs again with its equity and trades; a refused input shows the service's message naming
the field; Cancel keeps the finished trials."""
from __future__ import annotations

import asyncio
import csv
import os

import pytest
from PySide6.QtCore import Qt

from cts_desktop.services import montecarlo, optimize
from cts_desktop.services import reports as report
from cts_desktop.store.db import proxy as proxy_db
from cts_desktop.store.presets import PresetStore
from cts_desktop.store.settings import BUILTIN_PAPER_NAME
from cts_desktop.ui.research.trials import fmt_metric

pytestmark = [pytest.mark.gui, pytest.mark.timeout(300)]

T0 = 1_640_995_200_000  # 2022-01-01 00:00 UTC
DAY = 86_400_000
SHOTS = os.environ.get("CTS_SHOTS_DIR", "")


@pytest.fixture(autouse=True)
def _release_loop(loop):
    yield
    asyncio.events._set_running_loop(None)
    asyncio.set_event_loop(None)


@pytest.fixture
def win(services, qtbot):
    from cts_desktop.ui.research import OptimizeWindow

    w = OptimizeWindow(services)
    qtbot.addWidget(w)
    w.resize(1280, 720)
    w.show()
    qtbot.waitExposed(w)
    yield w
    w.close()


def shot(w, name: str) -> None:
    if SHOTS:
        os.makedirs(SHOTS, exist_ok=True)
        w.grab().save(os.path.join(SHOTS, name))


def tiny_grid(w, *, method: str = "grid", objective: str = "total_return") -> None:
    w.form.data.select("dataset", "ftx-btc-perp-1m")
    w.form.select_strategy("ma_cross")
    w.set_span(T0, T0 + 2 * DAY)
    assert w.search.span() == (T0, T0 + 2 * DAY) and w.search.use_span.isChecked()
    w.search.set_range("fast", 4, 8, 4)
    w.search.set_range("slow", 20, 40, 20)
    w.search.method.setCurrentIndex(w.search.method.findData(method))
    w.search.objective.setCurrentIndex(w.search.objective.findData(objective))
    w.search.workers.setValue(1)


def wait_idle(w, qtbot, timeout: int = 120_000) -> None:
    qtbot.waitUntil(lambda: w.job is not None and w.job.done, timeout=timeout)


def test_grid_study_table_heatmap_export_preset_and_reopen(win, services, qtbot, tmp_path):
    tiny_grid(win)
    seen = []
    win.progressed.connect(lambda d, t: seen.append((d, t)))
    assert win.start()
    assert win.state == "running" and not win.run_button.isEnabled() and win.cancel_button.isEnabled()
    wait_idle(win, qtbot)
    assert win.state == "finished", win.state_label.text()
    assert seen and seen[-1] == (4, 4)
    assert win.progress.value() == 4 and win.progress.maximum() == 4

    stored = optimize.load_study(services.data_dir, win.study.study_id)
    model = win.tabs.trials_model
    assert model.rowCount() == len(stored.trials) == 4
    assert [model.raw(r, 0) for r in range(4)] == [t.number for t in stored.trials]
    assert [(t.params["fast"], t.params["slow"]) for t in model.trials] == [(4, 20), (4, 40), (8, 20), (8, 40)]
    obj_col = 2 + len(model.params)
    assert model.headers()[obj_col].startswith("Objective: Total return")
    assert [model.raw(r, obj_col) for r in range(4)] == [t.value for t in stored.trials]

    # sorting by the objective, descending: the best trial first
    win.tabs.trials_view.sortByColumn(obj_col, Qt.SortOrder.DescendingOrder)
    proxy = win.tabs.trials_proxy
    first = proxy.mapToSource(proxy.index(0, 0)).row()
    assert model.trials[first].number == stored.best.number
    values = [proxy.index(r, obj_col).data(Qt.ItemDataRole.UserRole) for r in range(4)]
    assert values == sorted(values, reverse=True)

    # heatmap fast x slow: one trial per cell, so each cell is that trial's value
    win.tabs.heatmap.choose("fast", "slow")
    hm = win.tabs.heatmap.map
    assert hm.xs == [4, 8] and hm.ys == [20, 40]
    by = {(t.params["fast"], t.params["slow"]): t.value for t in stored.trials if t.state == "ok"}
    for j, y in enumerate(hm.ys):
        for i, x in enumerate(hm.xs):
            assert hm.cells[j][i] == by.get((x, y))
            want = by.get((x, y))
            assert win.tabs.heatmap.grid.item(j, i).text() == ("" if want is None else fmt_metric("total_return", want))
    assert hm.best == stored.best.value
    win.tabs.setCurrentIndex(1)
    shot(win, "optimize-heatmap.png")
    win.tabs.setCurrentIndex(0)
    shot(win, "optimize-trials.png")
    win.left.setCurrentIndex(1)
    shot(win, "optimize-search.png")
    win.left.setCurrentIndex(0)

    # export CSV: one row per trial
    out = tmp_path / "trials.csv"
    assert win.export_csv(out)
    with open(out, newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    assert [int(r["number"]) for r in rows] == [t.number for t in stored.trials]

    # use these parameters: a preset the presets store (and the backtest form) finds
    assert win.save_preset("best-fast-slow")
    preset = PresetStore(services.config_dir).get("best-fast-slow")
    assert preset["strategy"] == "ma_cross"
    assert (preset["params"]["fast"], preset["params"]["slow"]) == (stored.best.params["fast"],
                                                                   stored.best.params["slow"])
    assert win.form.preset_box.findText("best-fast-slow") >= 0

    # ... or a connection's main strategy, through the connections service
    assert win.apply_to_connection(BUILTIN_PAPER_NAME), win.state_label.text()
    conn = services.connection(BUILTIN_PAPER_NAME)
    assert conn.strategy == "ma_cross"
    assert (conn.strategy_params["fast"], conn.strategy_params["slow"]) == (stored.best.params["fast"],
                                                                           stored.best.params["slow"])
    assert not win.apply_to_connection("no-such-connection")
    assert "unknown connection 'no-such-connection'" in win.state_label.text()

    # the best trial again: its equity and trades under Best trial
    assert win.show_best()
    wait_idle(win, qtbot)
    assert win.state == "finished", win.state_label.text()
    assert win.best_run is not None and win.best_run.metrics.trades == stored.best.metrics["trades"]
    assert win.tabs.best_tabs.trades_model.rowCount() == win.best_run.metrics.trades
    shot(win, "optimize-best.png")

    # Monte Carlo on the best trial's trades: the service's percentiles, the fan chart's bands
    mc_tab = win.tabs.montecarlo
    assert mc_tab.run_button.isEnabled() and len(mc_tab.trades.pnls) == win.best_run.metrics.trades
    mc_tab.paths.setValue(200)
    task = mc_tab.start()
    qtbot.waitUntil(lambda: task.done() and mc_tab.result is not None, timeout=60_000)
    want = montecarlo.run(mc_tab.trades, 200, "bootstrap", 0)
    assert mc_tab.result.final_equity == want.final_equity
    assert mc_tab.table.item(0, 1).text() == report.fmt_money(want.final_equity[50.0], "USD", unit=False)
    assert mc_tab.table.item(1, 3).text() == report.fmt_pct(want.actual_max_drawdown)
    assert "end below the starting equity" in mc_tab.note.text()
    win.tabs.setCurrentWidget(mc_tab)
    shot(win, "optimize-montecarlo.png")

    # reopen: a new window lists the study and loads it
    from cts_desktop.ui.research import OptimizeWindow
    w2 = OptimizeWindow(services)
    qtbot.addWidget(w2)
    assert w2.tabs.studies.rowCount() >= 1 and w2.tabs.selected_study() == stored.study_id
    # a form set to something else first: reopening must put the study's own settings back
    other = next(n for n in (w2.form.strategy_box.itemData(i) for i in range(w2.form.strategy_box.count()))
                 if n != "ma_cross")
    w2.form.select_strategy(other)
    w2.form.cash.setValue(1234.0)
    w2.search.method.setCurrentIndex(w2.search.method.findData("random"))
    w2.tabs.open_button.click()
    asked = optimize.study_request(services.data_dir, stored.study_id)
    again = w2.build_request()
    assert w2.form.strategy_box.currentData() == "ma_cross"
    assert (again.strategy, again.method, again.objective, again.data, again.settings) == \
        (asked.strategy, asked.method, asked.objective, asked.data, asked.settings)
    assert sorted(again.space) == sorted(asked.space)
    assert [r.name for r in w2.search.rows() if r.vary] == ["fast", "slow"]
    assert w2.study is not None and w2.study.study_id == stored.study_id
    assert w2.tabs.trials_model.rowCount() == 4 and w2.request is not None
    assert w2.preset_button.isEnabled() and w2.report_button.isEnabled()
    assert proxy_db.obj is services.db  # reading the studies left the app's database bound
    w2.resize(1280, 720)
    w2.show()
    w2.tabs.setCurrentIndex(w2.tabs.count() - 1)
    shot(w2, "optimize-studies.png")
    w2.close()


def test_refused_input_names_the_field_and_nothing_runs(win, qtbot):
    tiny_grid(win)
    win.search.set_range("fast", 8, 4, 1)
    assert not win.start()
    assert win.job is None and win.state == "error"
    assert "param fast" in win.state_label.text() and "min 8 > max 4" in win.state_label.text()
    win.search.set_range("fast", 4, 8, 4)
    win.search.set_range("slow", vary=False)
    win.search.set_range("fast", vary=False)
    assert not win.start()
    assert "space: nothing varies" in win.state_label.text()
    shot(win, "optimize-refused.png")


def test_cancel_keeps_the_finished_trials(win, services, qtbot):
    tiny_grid(win, method="random")
    win.search.set_range("fast", 2, 30, 1)
    win.search.set_range("slow", 31, 200, 1)
    win.search.trials.setValue(400)
    assert win.start()
    qtbot.waitUntil(lambda: win.progress.value() >= 2, timeout=120_000)
    shot(win, "optimize-running.png")
    win.cancel()
    wait_idle(win, qtbot)
    assert win.state == "cancelled", win.state_label.text()
    stored = optimize.load_study(services.data_dir, win.study.study_id)
    assert stored.state == "cancelled" and 2 <= len(stored.trials) < 400
    assert win.tabs.trials_model.rowCount() == len(stored.trials)


def test_walkforward_windows_and_stitched_curve(win, services, qtbot):
    tiny_grid(win)
    win.set_span(T0, T0 + 3 * DAY)
    wf = win.tabs.walkforward
    wf.in_sample.setText("1d")
    wf.out_of_sample.setText("1d")
    wf.run_button.click()
    assert win.state == "running"
    wait_idle(win, qtbot)
    assert win.state == "finished", win.state_label.text()
    r = wf.result
    assert [(w.window.oos_start - T0) // DAY for w in r.windows] == [1, 2]
    assert wf.table.rowCount() == 2
    for i, w in enumerate(r.windows):
        assert wf.table.item(i, 4).text() == ("–" if w.ratio is None else f"{w.ratio:.2f}")
        assert wf.table.item(i, 6).text() == str(w.oos_trades)
    assert r.curve and wf.chart.equity_curve.getData()[1][-1] == r.curve[-1][1]
    assert "stitched out-of-sample return" in wf.note.text()
    ids = [win.tabs.studies.item(i, 0).text() for i in range(win.tabs.studies.rowCount())]
    assert str(r.study_id) not in ids  # the Studies list reopens plain optimisations only
    shot(win, "optimize-walkforward.png")

    wf.in_sample.setText("5d")  # longer than the data: the service's message, naming the field
    wf.run_button.click()
    wait_idle(win, qtbot)
    assert win.state == "error" and "in_sample:" in win.state_label.text()


def test_tools_optimize_opens_one_window(window, qtbot):
    from cts_desktop.ui.research import OptimizeWindow

    action = next(a for a in window.findChildren(type(window.actions["start"])) if a.objectName() == "action_optimize")
    assert action.shortcut().toString() == "Ctrl+Shift+O"
    assert action in window.menuBar().actions()[3].menu().actions()  # Tools
    action.trigger()
    w = window.findChild(OptimizeWindow)
    assert w is not None and w.isVisible() and w.windowTitle() == "Optimize - CTS Desktop"
    action.trigger()  # raised again, not a second one
    assert len(window.findChildren(OptimizeWindow)) == 1
    w.close()


def test_closing_the_window_ends_a_running_study(services, qtbot):
    from cts_desktop.ui.research import OptimizeWindow

    w = OptimizeWindow(services)
    qtbot.addWidget(w)
    tiny_grid(w, method="random")
    w.search.set_range("fast", 2, 30, 1)
    w.search.set_range("slow", 31, 200, 1)
    w.search.trials.setValue(5000)
    assert w.start()
    qtbot.waitUntil(lambda: w.progress.value() >= 1, timeout=120_000)
    proc = w.job._proc
    w.close()
    assert not proc.is_alive()
    stored = optimize.load_study(services.data_dir, optimize.list_studies(services.data_dir)[0].id)
    assert stored.state == "cancelled" and 1 <= len(stored.trials) < 5000


def test_a_study_on_an_imported_candle_file(win, services, qtbot):
    from tests.conftest import DATA

    win.form.data.select("csv")
    assert win.form.data.import_csv(DATA / "COINBASE_BTC-USD_1h_2017-2019.csv")
    win.form.data.csv_symbol.setText("BTC/USD")
    win.form.select_strategy("ma_cross")
    win.search.set_range("fast", 5, 10, 5)
    win.search.set_range("slow", 30, 60, 30)
    win.search.workers.setValue(1)
    req = win.build_request()
    assert req.data.candles == (str(DATA / "COINBASE_BTC-USD_1h_2017-2019.csv"),) and req.data.symbols == ("BTC/USD",)
    assert win.start()
    wait_idle(win, qtbot)
    assert win.state == "finished", win.state_label.text()
    assert win.tabs.trials_model.rowCount() == 4 and "COINBASE_BTC-USD_1h" in win.study.data


def test_bayesian_search_through_the_window(win, services, qtbot):
    tiny_grid(win, method="tpe")
    win.search.set_range("fast", 2, 12, 1)
    win.search.set_range("slow", 20, 60, 5)
    win.search.trials.setValue(6)
    assert win.start()
    wait_idle(win, qtbot)
    assert win.state == "finished", win.state_label.text()
    stored = optimize.load_study(services.data_dir, win.study.study_id)
    assert stored.method == "tpe" and len(stored.trials) == 6 == win.tabs.trials_model.rowCount()


def test_a_study_on_exchange_history(win, services, qtbot, venue):
    """Exchange history as the data: downloaded through the connection (the local venue, real
    ccxt client), kept as a file, the study runs on it; Run study again asks the exchange for
    nothing; a study reopened later names that file."""
    from tests.venue.harness import connection_for

    services.save_connection(connection_for(venue, name="venue", rate_limit_per_second=500))
    d = win.form.data
    d.select("history")
    assert d.hist_conn.isEnabled() and d.hist_conn.currentText() == "venue"
    d.hist_symbol.setText("BTC/USDT")
    d.hist_tf.setCurrentText("5m")
    d.hist_from.setDate(d.hist_to.date().addDays(-2))
    win.form.select_strategy("ma_cross")
    win.search.set_range("fast", 4, 8, 4)
    win.search.set_range("slow", 20, 40, 20)
    win.search.workers.setValue(1)
    assert win.start()
    qtbot.waitUntil(lambda: win.state == "error" or (win.job is not None and win.job.done), timeout=120_000)
    assert win.state == "finished", win.state_label.text()
    assert len(win.study.trials) == 4 and win.request.data.candles[0].endswith(".parquet")
    klines = sum(1 for r in venue.requests if r == ("GET", "/api/v3/klines"))
    assert klines >= 1
    first_job = win.job
    assert win.start()  # the same form: the kept file, no download
    qtbot.waitUntil(lambda: win.job is not first_job and win.job is not None and win.job.done, timeout=120_000)
    assert win.state == "finished", win.state_label.text()
    assert sum(1 for r in venue.requests if r == ("GET", "/api/v3/klines")) == klines
    shot(win, "optimize-history.png")

    d.hist_symbol.setText("NOPE/USDT")
    assert win.start()
    qtbot.waitUntil(lambda: win._download is None and win.state == "error", timeout=60_000)
    assert "no market NOPE/USDT" in win.state_label.text() and win.run_button.isEnabled()
