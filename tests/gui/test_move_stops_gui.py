"""Moving a position's stop-loss / take-profit in the real main window (issue 9): dragging its
line in the Market tab's chart (the drag's end driven through the InfiniteLine as pyqtgraph
ends a mouse drag), a refused drag snapping back with the service's words, the Positions table's
"Move stop-loss / take-profit…" dialog; and on a live connection the drag asks first and the
venue's OCO is replaced. Exchange runs against the local venue (real ccxt client). Screenshots
at 1280x720 go to /work/notes/shots/stops2 when that folder exists."""
from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QMessageBox

from cts_desktop.core import events as ev
from cts_desktop.core.models import BUY, Signal
from cts_desktop.engine import strategies
from cts_desktop.engine.strategies.base import Param, Strategy
from cts_desktop.ui.main_window.exporting import table_menu
from tests.gui.conftest import run

SHOTS = Path("/work/notes/shots/stops2")
SYM, VSYM = "BTC/USDT", "BTCUSDT"


def shot(widget, name: str) -> None:
    if SHOTS.is_dir():
        widget.grab().save(str(SHOTS / name))


class BuyWithStops(Strategy):
    """Buys once on its first candle with a stop-loss and a take-profit; nothing else."""

    name = "test_buy_with_stops"
    params = (Param("timeframe", str, "5m"),)

    def __init__(self, params=None):
        super().__init__(params)
        self.n = 0

    @property
    def warmup(self):
        return 0

    def on_candle(self, ctx, symbol, candle):
        self.n += 1
        if self.n == 1:
            return [Signal(candle[0], symbol, BUY, size=0.1, stop_loss=0.003, take_profit=0.004, reason="test",
                           strategy=self.name)]
        return None


strategies.register(BuyWithStops)


def drag(line, price):
    """What pyqtgraph does when a mouse drag of ``line`` ends at ``price``."""
    line.setValue(price)
    line.sigPositionChangeFinished.emit(line)


def open_position(window, services, qtbot, venue, name):
    tab = window.market_tab
    window._fill_connection_combo()
    window.select_connection(name)
    window.tabs.setCurrentWidget(tab)
    qtbot.waitUntil(lambda: tab.chart.data.n > 0, timeout=30_000)
    run(qtbot, services.start_engine(name), timeout=60_000)
    eng = services.engine(name)
    assert services.engine_state(name) == ev.RUNNING, eng.reason
    eng.poll_interval = 0.1
    for _ in range(4):
        seen = eng.core.candles_seen
        venue.state.advance(1)
        qtbot.waitUntil(lambda s=seen: eng.core.candles_seen > s, timeout=30_000)
        if SYM in eng.core.portfolio.open:
            break
    qtbot.waitUntil(lambda: SYM in eng.core.portfolio.open, timeout=30_000)
    pos = eng.core.portfolio.open[SYM]
    qtbot.waitUntil(lambda: tab.chart.levels().get("stop-loss") == pos.stop_loss, timeout=15_000)
    return eng, pos


def test_drag_the_stop_line_refuse_and_move_from_the_dialog(window, services, qtbot, venue):
    from tests.venue.harness import connection_for

    name = "venue paper stops"
    services.save_connection(connection_for(venue, name=name, rate_limit_per_second=500, starting_balance=1000.0,
                                            strategy="test_buy_with_stops", strategy_params={"timeframe": "5m"}))
    window.resize(1280, 720)
    eng, pos = open_position(window, services, qtbot, venue, name)
    tab, chart = window.market_tab, window.market_tab.chart
    lines = chart._levels
    assert lines["stop-loss"].movable and lines["take-profit"].movable and not lines["entry"].movable
    chart.show_last(60)
    shot(window, "chart_stop_lines.png")
    last = venue.price(VSYM)
    # dragged down to ~0.5 % under the price: the stop moves there (on the tick), the line stays
    drag(lines["stop-loss"], last * 0.995 + 0.004)
    want = round(last * 0.995 + 0.004, 2)
    qtbot.waitUntil(lambda: pos.stop_loss == want, timeout=10_000)
    qtbot.waitUntil(lambda: chart.levels()["stop-loss"] == want, timeout=10_000)
    assert "stop-loss moved from" in tab.info.text() and f"to {want:.10g} (manual)" in tab.info.text()
    # dragged above the price: refused, the line snaps back, the service's words on the tab
    drag(lines["stop-loss"], last * 1.01)
    qtbot.waitUntil(lambda: "was not moved" in tab.info.text(), timeout=10_000)
    assert "stop-loss must be below the last price" in tab.info.text()
    assert chart.levels()["stop-loss"] == want and pos.stop_loss == want
    shot(window, "chart_after_drags.png")
    # the Positions table's dialog: a refused take-profit stays in the dialog, then a good one
    window.tabs.setCurrentWidget(window.positions_tab)
    table = window.positions_tab.open_table
    qtbot.waitUntil(lambda: table.model().rowCount() == 1, timeout=10_000)
    table.setCurrentIndex(table.model().index(0, 0))
    action = next(a for a in table_menu(window, table, "positions").actions()
                  if a.text() == "Move stop-loss / take-profit…")
    action.trigger()
    dlg = window.move_stops_dialog
    qtbot.waitUntil(dlg.isVisible, timeout=5_000)
    assert dlg.stop_loss.value() == pytest.approx(want) and dlg.take_profit.value() == pytest.approx(pos.take_profit)
    dlg.take_profit.setValue(last * 0.99)
    qtbot.mouseClick(dlg.move_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: "take-profit must be above the last price" in dlg.error.text(), timeout=10_000)
    assert dlg.isVisible()
    dlg.resize(max(dlg.width(), 460), dlg.sizeHint().height())
    shot(dlg, "move_stops_dialog_refused.png")
    tp = round(last * 1.006, 2)
    dlg.take_profit.setValue(tp)
    dlg.stop_loss.setValue(0)  # "none": the stop-loss removed
    shot(dlg, "move_stops_dialog.png")
    qtbot.mouseClick(dlg.move_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not dlg.isVisible(), timeout=10_000)
    assert (pos.stop_loss, pos.take_profit) == (None, tp)
    assert "take-profit moved from" in window.statusBar().currentMessage()
    window.tabs.setCurrentWidget(tab)
    tab.refresh_overlays()
    qtbot.waitUntil(lambda: "stop-loss" not in chart.levels() and chart.levels().get("take-profit") == tp,
                    timeout=10_000)
    run(qtbot, services.stop_engine(name), timeout=30_000)
    tab.refresh_overlays()  # stopped: the stored position's lines stay, but cannot be dragged
    assert not chart._levels["take-profit"].movable


def test_a_live_drag_asks_first_and_replaces_the_oco(window, services, qtbot, venue):
    from tests.integration.test_exchange_stops import make_engine, open_legs
    from tests.venue.harness import API_KEY, API_SECRET

    venue.add_account(API_KEY, API_SECRET, {"USDT": 10_000})
    name = "venue live stops"
    eng = make_engine(services, venue, name, params={"buy_on": 1, "timeframe": "5m"})
    window.resize(1280, 720)
    tab, chart = window.market_tab, window.market_tab.chart
    window._fill_connection_combo()
    window.select_connection(name)
    window.tabs.setCurrentWidget(tab)
    run(qtbot, eng.start(), timeout=60_000)
    assert eng.state == ev.RUNNING, eng.reason
    seen = eng.core.candles_seen
    venue.state.advance(1)
    qtbot.waitUntil(lambda: eng.core.candles_seen > seen, timeout=30_000)
    qtbot.waitUntil(lambda: SYM in eng.core.portfolio.open and len(open_legs(venue)) == 2, timeout=30_000)
    pos = eng.core.portfolio.open[SYM]
    qtbot.waitUntil(lambda: pos.protection == "exchange", timeout=10_000)
    tab.refresh_overlays()
    qtbot.waitUntil(lambda: chart.levels().get("stop-loss") == pos.stop_loss, timeout=15_000)
    before = {o.order_id for o in open_legs(venue)}
    last = venue.price(VSYM)
    # the first question answered Cancel: the line goes back, nothing changes at the venue
    old = pos.stop_loss
    drag(chart._levels["stop-loss"], last * 0.99)
    box = tab.stop_drag.confirm
    qtbot.waitUntil(lambda: box is not None and box.isVisible(), timeout=5_000)
    assert "LIVE BTC/USDT position on binance testnet" in box.text() and f"to {round(last * 0.99, 2):.10g}?" in box.text()
    shot(box, "live_drag_confirmation.png")
    box.button(QMessageBox.StandardButton.Cancel).click()
    assert chart.levels()["stop-loss"] == old and {o.order_id for o in open_legs(venue)} == before
    # then Move: the OCO at the venue is replaced
    drag(chart._levels["stop-loss"], last * 0.99)
    box = tab.stop_drag.confirm
    qtbot.waitUntil(box.isVisible, timeout=5_000)
    box.findChild(type(box.defaultButton()), "MoveStopConfirmButton").click()
    want = round(last * 0.99, 2)
    qtbot.waitUntil(lambda: tab.stop_drag.future is not None and tab.stop_drag.future.done(), timeout=15_000)
    assert pos.stop_loss == want
    legs = open_legs(venue)
    assert len(legs) == 2 and not {o.order_id for o in legs} & before
    assert any(o.stop_price is not None and float(o.stop_price) == pytest.approx(want) for o in legs)
    assert "protective orders at the exchange replaced" in tab.info.text()
    run(qtbot, eng.stop(), timeout=30_000)
