"""The Activity tab's request-budget gauge, fed from the engine bus through the UI bridge."""
from __future__ import annotations

import time

from cts_desktop.core import events as ev
from cts_desktop.engine.bus import EventBus
from cts_desktop.ui.bridge import EventBridge
from cts_desktop.ui.budget_gauge import BudgetGauge


def test_the_gauge_follows_the_budget_events_and_shows_the_tightest(qtbot):
    bus = EventBus()
    bridge = EventBridge(bus, interval_ms=10)
    gauge = BudgetGauge()
    qtbot.addWidget(gauge)
    bridge.request_budget.connect(lambda conn, b: conn == "main" and gauge.set_budget(b.used, b.limit, b.state, b.until, b.label))
    try:
        assert gauge.state == "" and gauge.isHidden()  # nothing until a budget is reported
        bus.publish(ev.RequestBudgetChanged("main", "Binance key ab12", 3, None, "ok"))
        bus.publish(ev.RequestBudgetChanged("main", "Binance IP api.binance.com", 312, 6000, "ok"))
        bus.publish(ev.RequestBudgetChanged("other", "Binance IP api.binance.com", 999, 6000, "banned", time.time() + 60))
        qtbot.waitUntil(lambda: "312 / 6,000 weight · ok" in gauge.text.text(), timeout=5000)
        assert gauge.bar.fraction() == 312 / 6000  # the IP's budget (with a limit) wins over the key's

        until = time.time() + 120
        bus.publish(ev.RequestBudgetChanged("main", "Binance IP api.binance.com", 1200, 6000, "banned", until))
        end = time.strftime("%H:%M:%S", time.gmtime(until))
        qtbot.waitUntil(lambda: f"banned until {end} UTC" in gauge.text.text(), timeout=5000)
        assert gauge.state == "banned" and gauge.bar.fraction() == 1.0 and "HTTP 418" in gauge.toolTip()
        bus.publish(ev.RequestBudgetChanged("main", "Binance key ab12", 4, None, "ok"))  # the key's "ok" does not hide the ban
        bus.publish(ev.RequestBudgetChanged("main", "Binance IP api.binance.com", 0, 6000, "ok"))
        qtbot.waitUntil(lambda: gauge.state == "ok" and "0 / 6,000 weight · ok" in gauge.text.text(), timeout=5000)
    finally:
        bridge.close()
