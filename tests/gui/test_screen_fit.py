"""Every screen fits a 1280x720 laptop: the backtest window does not widen itself after a run, the
Positions tab needs no sideways scrolling, the Add-connection dialog opens tall enough."""
from __future__ import annotations

import os

import pytest

from tests.gui.test_backtest_gui import bt  # noqa: F401 - the fixture

pytestmark = pytest.mark.gui


@pytest.mark.parametrize("dataset", ["bittrex-btc-5m", "ftx-btc-perp-1m"])
def test_backtest_window_keeps_its_width_after_a_run(bt, qtbot, dataset):  # noqa: F811
    bt.resize(1280, 720)
    qtbot.waitUntil(lambda: bt.width() == 1280)
    bt.select_source("dataset", dataset)
    bt.select_strategy("ma_cross")
    task = bt.start()
    qtbot.waitUntil(task.done, timeout=120_000)
    assert bt.state == "finished", bt.state_label.text()
    assert bt.width() <= 1280, bt.width()
    for tab in range(bt.tabs.count()):  # every results tab, as the trader clicks through them
        bt.tabs.setCurrentIndex(tab)
        assert bt.minimumSizeHint().width() <= 1280, (bt.tabs.tabText(tab), bt.minimumSizeHint().width())
        assert bt.minimumSize().width() <= 1280 and bt.width() <= 1280


def test_positions_tab_fits_1280_without_sideways_scrolling(window, services, fast_paper, qtbot):
    """After a replay, the open/closed/order tables' columns fit the width of a 1280 px window."""
    from cts_desktop.core import events as ev
    from tests.gui.conftest import run

    window.resize(1280, 720)
    window.select_connection(fast_paper)
    window.tabs.setCurrentWidget(window.positions_tab)
    run(qtbot, services.start_engine(fast_paper))
    qtbot.waitUntil(lambda: services.engine_state(fast_paper) == ev.STOPPED, timeout=120_000)
    window.feed.load_history()
    tab = window.positions_tab
    qtbot.waitUntil(lambda: tab.closed_model.rowCount() > 0, timeout=10_000)
    if os.environ.get("CTS_SHOTS_DIR"):
        window.grab().save(os.path.join(os.environ["CTS_SHOTS_DIR"], "positions-1280.png"))
    for table in (tab.open_table, tab.closed_table, tab.orders_table):
        if not table.isVisible():
            continue
        header = table.horizontalHeader()
        used = sum(header.sectionSize(i) for i in range(header.count()) if not header.isSectionHidden(i))
        assert used <= table.viewport().width() + 1, (table.objectName(), used, table.viewport().width())
        assert not table.horizontalScrollBar().isVisible(), table.objectName()


def test_add_connection_and_live_confirm_dialogs_open_tall_enough(qtbot):
    from cts_desktop.store.settings import ConnectionConfig
    from cts_desktop.ui.connections.dialogs import AddConnectionDialog, LiveConfirmDialog

    conn = ConnectionConfig(name="Binance main", exchange="binance", market_type="spot", symbols=["BTC/USDT"])
    for d in (AddConnectionDialog(["a"], ["binance", "kraken"]), LiveConfirmDialog(conn)):
        qtbot.addWidget(d)
        d.show()
        qtbot.waitExposed(d)
        lay = d.layout()
        assert d.height() >= lay.totalHeightForWidth(d.width()), (type(d).__name__, d.height())
        from PySide6.QtWidgets import QLabel
        for label in d.findChildren(QLabel):  # every wrapped text has the height it needs at its width
            if label.wordWrap() and label.isVisible() and label.text():
                assert label.height() >= label.heightForWidth(label.width()), label.text()[:40]


def test_a_run_on_exchange_data_shows_its_feed_not_a_replay(window, services, qtbot, venue):
    """A paper connection on the exchange's market data: no replay speed, no replay bar; the line
    under the buttons names the feed, the candles traded, the last candle and the next decision."""
    from cts_desktop.core import events as ev
    from tests.gui.conftest import run
    from tests.venue.harness import connection_for

    services.save_connection(connection_for(venue, name="venue paper", rate_limit_per_second=500,
                                            starting_balance=1000.0, strategy_params={"timeframe": "5m"}))
    window._fill_connection_combo()
    window.select_connection("venue paper")
    live = window.live_tab
    window.tabs.setCurrentWidget(live)
    assert not live.speed.isVisible() and not live.progress.isVisible()
    assert "press Start to trade on the exchange's market data" in live.progress_text.text()
    run(qtbot, services.start_engine("venue paper"), timeout=60_000)
    assert services.engine_state("venue paper") == ev.RUNNING, services.engine("venue paper").reason
    services.engine("venue paper").poll_interval = 0.1
    venue.state.advance(2)
    qtbot.waitUntil(lambda: " candle" in live.progress_text.text(), timeout=30_000)
    text = live.progress_text.text()
    assert text.startswith("Paper on binance testnet, rest market data") and "next decision at" in text
    assert "replayed" not in text
    if os.environ.get("CTS_SHOTS_DIR"):
        window.grab().save(os.path.join(os.environ["CTS_SHOTS_DIR"], "live-exchange-feed.png"))
    run(qtbot, services.stop_engine("venue paper"), timeout=30_000)
