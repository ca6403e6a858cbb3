"""The Market tab's last trades under the order book (issue 9) in the real main window: filled
from the local venue's recorded XRPETH trades (real ccxt client, through services/market.py),
the taker's side coloured; a paper replay says it has none. Screenshots at 1280x720 go to
/work/notes/shots/stops2 when that folder exists."""
from __future__ import annotations

from pathlib import Path

from cts_desktop.store.settings import BUILTIN_PAPER_NAME
from cts_desktop.ui import fmt
from cts_desktop.ui.market.panels import DOWN, UP
from tests.gui.conftest import run
from tests.integration.test_market_trades import SYM, venue_trades

SHOTS = Path("/work/notes/shots/stops2")


def test_last_trades_fill_from_the_venue_and_a_replay_says_none(window, services, qtbot, venue):
    from tests.venue.harness import connection_for

    services.save_connection(connection_for(venue, name="venue xrp", rate_limit_per_second=500, symbols=[SYM],
                                            strategy_params={"timeframe": "1m"}))
    window.resize(1280, 720)
    window._fill_connection_combo()
    window.select_connection("venue xrp")
    tab = window.market_tab
    window.tabs.setCurrentWidget(tab)
    panel = tab.trades
    qtbot.waitUntil(lambda: panel.table.rowCount() == 20, timeout=30_000)
    qtbot.waitUntil(lambda: tab.book.book is not None and tab.chart.data.n > 0, timeout=30_000)
    want = list(reversed(venue_trades(venue, 20)))  # newest first, as shown
    shown = [(panel.table.item(i, 1).text(), panel.table.item(i, 2).text()) for i in range(20)]
    assert shown == [(fmt.price(float(t["p"])), fmt.amount(float(t["q"]))) for t in want]
    for i, t in enumerate(want):
        assert panel.table.item(i, 1).foreground().color() == (DOWN if t["m"] else UP)
        assert panel.table.item(i, 0).text() == fmt.utc_ms(t["T"], seconds=True)[-8:]
    assert panel.note.text() == "binance: polled trades" and SYM in panel.title.text()
    tab.chart.show_last(90)
    qtbot.wait(50)  # a paint pass for the grab, not a wait for a condition
    if SHOTS.is_dir():
        window.grab().save(str(SHOTS / "market_book_with_trades.png"))
    # a paper replay: no trades, and it says so
    window.select_connection(BUILTIN_PAPER_NAME)
    qtbot.waitUntil(lambda: "no trades" in panel.note.text(), timeout=30_000)
    assert panel.table.rowCount() == 0
    run(qtbot, services.market.close())
