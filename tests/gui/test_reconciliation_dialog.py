"""The reconciliation review dialog on a real database: shown for a run whose start reconciled
something, with the service's words; a failure shows the close-only banner; nothing to review,
no dialog. ``CTS_SHOTS`` (a directory) saves screenshots at 1280x720."""
from __future__ import annotations

import os
from pathlib import Path

from PySide6.QtCore import Qt

from cts_desktop.core.models import Fill, Market, Order, Position
from cts_desktop.engine.carryover import ReconcileReport, adjust_to_wallet, fill_row, order_row
from cts_desktop.store import reconciliations as recs
from cts_desktop.ui.reconciliation_dialog import show_reconciliation

MARKETS = {"BTC/USDT": Market("BTC/USDT", "BTC", "USDT", amount_step=1e-5, price_step=0.01, min_amount=1e-5),
           "ETH/USDT": Market("ETH/USDT", "ETH", "USDT", amount_step=1e-4, price_step=0.01, min_amount=1e-4)}


def _report(error=""):
    old = Order(clientOrderId="cts7k2m9qa01bx-41-17", symbol="BTC/USDT", side="buy", type="market", amount=0.0297,
                state="filled", filled=0.0297)
    fills = [Fill(id=f"18400{i}", order_id="28457000", clientOrderId=old.clientOrderId, symbol="BTC/USDT", side="buy",
                  amount=0.0099, price=16825.7 - i, timestamp=0) for i in range(2)]
    positions = [Position(id=3, symbol="BTC/USDT", side="long", opened_at=0, amount=0.0297, entry_price=16824.9,
                          stop_loss=16488.4, take_profit=17497.9, strategy="ma_cross"),
                 Position(id=4, symbol="ETH/USDT", side="long", opened_at=0, amount=1.5, entry_price=1201.3,
                          strategy="rsi"),
                 Position(id=5, symbol="LTC/USDT", side="long", opened_at=0, amount=2.0, entry_price=71.2,
                          strategy="rsi")]
    markets = {**MARKETS, "LTC/USDT": Market("LTC/USDT", "LTC", "USDT", amount_step=1e-3, min_amount=1e-3)}
    rows = adjust_to_wallet(positions, markets, {"BTC": {"total": 0.0297}, "ETH": {"total": 0.6}}, 41,
                            lambda *a: None)
    report = ReconcileReport(interrupted=[41], settled=[order_row(old, 41)], fills=[fill_row(f, 41) for f in fills],
                             positions=rows, error=error)
    report.adopted = [{**order_row(Order(clientOrderId="cts7k2m9qa01bx-41-18", symbol="ETH/USDT", side="sell",
                                         type="market", amount=0.6, state="partially-filled", filled=0.2), 41)}]
    report.listed = [order_row(Order(clientOrderId="web_8f3a1c", symbol="BTC/USDT", side="sell", type="limit",
                                     amount=0.01, state="open"))]
    return report


def _stored(services, report):
    run_id = services.recorder.begin_run("venue live", "live", currency="USDT", starting_balance=1000)
    services.recorder.flush().result(10)
    recs.save(run_id, "venue live", report.to_dict(), ok=report.ok, detail=report.detail())
    return run_id


def _shot(dlg, name):
    shots = os.environ.get("CTS_SHOTS")
    if shots:
        Path(shots).mkdir(parents=True, exist_ok=True)
        dlg.grab().save(str(Path(shots) / f"{name}_default.png"))  # the size it opens at
        dlg.resize(1280, 720)
        dlg.grab().save(str(Path(shots) / f"{name}.png"))


def test_a_start_that_reconciled_something_shows_the_review(services, qtbot):
    report = _report()
    run_id = _stored(services, report)
    dlg = show_reconciliation(None, services, "venue live", run_id)
    qtbot.addWidget(dlg)
    qtbot.waitUntil(dlg.isVisible)
    text = dlg.text()
    assert dlg.windowTitle() == f"Reconciliation: venue live, run #{run_id}"
    assert report.detail() in text and not dlg.banner.isVisible()
    assert "run #41: the app stopped while it ran" in text
    assert "Fills booked (executed while the app was down) (2)" in text
    assert "carried: long 0.0297 BTC/USDT entry 16,824.9, stop 16,488.4, target 17,497.9 (ma_cross)" in text
    assert "closed: long 2 LTC/USDT entry 71.2, no stop, no target (rsi)" in text
    assert "closed outside the app: the wallet holds 0 LTC (recorded 2, wallet 0)" in text
    assert "reduced: long 0.6 ETH/USDT" in text and "reduced outside the app: the wallet holds 0.6 ETH of 1.5 (recorded 1.5, wallet 0.6)" in text
    assert "cts7k2m9qa01bx-41-18 (run #41): sell 0.6 ETH/USDT, 0.2 filled, partially-filled" in text
    assert "web_8f3a1c: sell 0.01 BTC/USDT" in text
    # the same words headless mode prints
    review = services.reconciliation_review("venue live", run_id)
    assert all(line.strip() in text or line.startswith("reconciliation of") or line.strip().endswith(":")
               for line in review.lines())
    _shot(dlg, "reconciliation_review")


def test_a_failed_reconciliation_shows_the_close_only_banner(services, qtbot):
    report = _report(error="cannot reconcile order cts7k2m9qa01bx-41-19: Binance is not answering (HTTP 500)")
    run_id = _stored(services, report)
    dlg = show_reconciliation(None, services, "venue live", run_id)
    qtbot.addWidget(dlg)
    qtbot.waitUntil(dlg.isVisible)
    assert dlg.banner.isVisible() and "close-only: no new entries" in dlg.banner.text()
    assert "FAILED, close-only: cannot reconcile order cts7k2m9qa01bx-41-19" in dlg.headline.text()
    _shot(dlg, "reconciliation_failed")


def test_nothing_to_review_opens_nothing(services, qtbot):
    run_id = _stored(services, ReconcileReport())
    assert show_reconciliation(None, services, "venue live", run_id) is None
    assert show_reconciliation(None, services, "no such connection", None) is None


def test_the_main_window_shows_the_review_when_a_run_starts_after_a_killed_one(window, services, qtbot):
    from PySide6.QtWidgets import QApplication

    from cts_desktop.store.settings import BUILTIN_PAPER_NAME
    from cts_desktop.ui.reconciliation_dialog import ReconciliationDialog

    # a run of the built-in connection that a killed process left "running" (another dataset:
    # not resumed, so the new run finds it and marks it interrupted)
    killed = services.recorder.begin_run(BUILTIN_PAPER_NAME, "paper-replay", dataset="another", currency="USD",
                                         starting_balance=1000)
    services.recorder.flush().result(10)
    window.tabs.setCurrentWidget(window.live_tab)
    qtbot.mouseClick(window.live_tab.controls.buttons["start"], Qt.MouseButton.LeftButton)

    def dialog():
        return next((w for w in QApplication.topLevelWidgets()
                     if isinstance(w, ReconciliationDialog) and w.isVisible()), None)

    qtbot.waitUntil(lambda: dialog() is not None, timeout=60_000)
    dlg = dialog()
    assert f"run #{killed}: the app stopped while it ran" in dlg.text()
    assert services.latest_run(BUILTIN_PAPER_NAME).id != killed
    from cts_desktop.store.db import Run

    assert Run.get_by_id(killed).state == "interrupted"
    _shot(dlg, "reconciliation_at_start")
    dlg.close()


def test_a_futures_review_shows_the_exchange_positions(services, qtbot):
    from cts_desktop.engine.exchange_positions import unknown_positions

    perp = Market("BTC/USDT:USDT", "BTC", "USDT", type="swap", amount_step=0.001, price_step=0.1, min_amount=0.001)
    eth = Market("ETH/USDT:USDT", "ETH", "USDT", type="swap", amount_step=0.001, price_step=0.01, min_amount=0.001)
    markets = {perp.symbol: perp, eth.symbol: eth}
    positions = [Position(id=1, symbol=perp.symbol, side="long", opened_at=0, amount=0.029, entry_price=16825.7,
                          stop_loss=16489.2, take_profit=17667.0, strategy="ma_cross"),
                 Position(id=2, symbol=eth.symbol, side="long", opened_at=0, amount=0.5, entry_price=1201.3,
                          strategy="rsi")]
    held = {perp.symbol: (0.019, 16825.7), eth.symbol: (-0.2, 1215.4)}  # reduced by hand; flipped by hand
    rows = adjust_to_wallet(positions, markets, {}, 41, lambda *a: None, held)
    report = ReconcileReport(interrupted=[41], positions=rows, positions_listed=unknown_positions(held, rows, markets))
    run_id = _stored(services, report)
    dlg = show_reconciliation(None, services, "venue live", run_id)
    qtbot.addWidget(dlg)
    qtbot.waitUntil(dlg.isVisible)
    text = dlg.text()
    assert "reduced outside the app: the exchange's long is 0.019 BTC of 0.029 (recorded 0.029, exchange 0.019)" in text
    assert "flipped outside the app: the exchange holds a short of 0.2 ETH (recorded 0.5, exchange -0.2)" in text
    assert "Other positions at the exchange (not this app's, left as they are)" in text
    assert "short 0.2 ETH/USDT:USDT entry 1,215.4: not this app's, left as it is" in text
    assert "1 position(s) reduced" in text and "1 other position(s) at the exchange listed" in text
    _shot(dlg, "reconciliation_futures")
