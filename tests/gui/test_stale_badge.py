"""The Live tab's stale-feed badge follows FeedStale / FeedResumed events published on the real
bus (through the real bridge), and goes when the engine stops."""
from __future__ import annotations

import os

from cts_desktop.core import events as ev

SHOTS = os.environ.get("CTS_SHOTS_DIR")  # set to save screenshots for review (not part of the repo)


def test_stale_badge_shows_and_clears(window, services, qtbot):
    badge = window.live_tab.stale_badge
    window.tabs.setCurrentWidget(window.live_tab)
    window.resize(1280, 720)
    assert not badge.isVisible()
    services.bus.publish(ev.FeedStale("venue live", "BTC/USDT", 12.0))
    services.bus.publish(ev.FeedStale("venue live", "ETH/USDT", 12.0))
    qtbot.waitUntil(badge.isVisible, timeout=5000)
    assert badge.text() == "⚠ Stale market data: BTC/USDT, ETH/USDT (venue live): new entries blocked"
    assert "new entries are blocked" in badge.toolTip()
    qtbot.waitUntil(lambda: badge.width() >= badge.sizeHint().width(), timeout=5000)  # laid out, not clipped
    if SHOTS:
        window.grab().save(os.path.join(SHOTS, "stale_badge_1280x720.png"))
    services.bus.publish(ev.FeedResumed("venue live", "BTC/USDT", 14.0))
    qtbot.waitUntil(lambda: badge.text() == "⚠ Stale market data: ETH/USDT (venue live): new entries blocked", timeout=5000)
    services.bus.publish(ev.EngineStateChanged("venue live", ev.STOPPED, "stopped by the user"))
    qtbot.waitUntil(lambda: not badge.isVisible(), timeout=5000)
