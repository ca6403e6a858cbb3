"""The Live Trading tab's analytics panel: the run's full figures and its exports."""
import csv

from cts_desktop.engine.backtest import TRADE_COLUMNS
from cts_desktop.store.settings import ConnectionConfig
from cts_desktop.ui.analytics import AnalyticsPanel

from .conftest import run


def test_panel_shows_the_run_figures_and_exports_them(services, qtbot, tmp_path):
    services.save_connection(ConnectionConfig(name="bt", dataset="bittrex-btc-5m", speed="max"))

    async def go():
        eng = await services.start_engine("bt")
        await eng.wait()

    run(qtbot, go())
    panel = AnalyticsPanel(services)
    qtbot.addWidget(panel)
    panel.set_connection("bt")
    m = services.run_result("bt").metrics
    assert panel.values["trades"].text() == f"{m.trades:,}"
    assert panel.values["profit_factor"].text() == f"{m.profit_factor:.2f}"
    assert panel.values["sharpe"].text() not in ("", "–")
    assert panel.by_symbol.rowCount() == len(m.by_symbol) >= 2
    out = panel.export_csv(str(tmp_path / "t.csv"))
    rows = list(csv.reader(out.open()))
    assert rows[0] == TRADE_COLUMNS and len(rows) - 1 == m.trades
    html = panel.export_html(str(tmp_path / "r.html")).read_text()
    assert "<svg" in html and "Profit factor" in html


def test_panel_without_a_run(services, qtbot):
    panel = AnalyticsPanel(services)
    qtbot.addWidget(panel)
    panel.set_connection("Paper - recorded market")
    assert "No run yet" in panel.note.text()
    assert not panel.csv_button.isEnabled()
