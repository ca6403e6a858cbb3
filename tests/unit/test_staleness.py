"""The staleness watchdog's rules on a controlled clock, with the real event bus: stale after
the limit (event, log line, entries blocked), resumed by fresh data, nothing judged while paused,
and the default limit."""
from __future__ import annotations

from cts_desktop.core import events as ev
from cts_desktop.engine.bus import EventBus
from cts_desktop.engine.staleness import FeedWatchdog, default_stale_after


def make(paused=lambda: False):
    now = [100.0]
    bus, events, lines = EventBus(), [], []
    bus.subscribe(events.append)
    dog = FeedWatchdog("c", ["BTC/USDT", "ETH/USDT"], 10.0, bus=bus, clock=lambda: now[0], paused=paused,
                       log=lambda cat, msg, level="info": lines.append((level, msg)))
    return dog, now, events, lines


def test_stale_after_the_limit_then_resumed_by_fresh_data():
    dog, now, events, lines = make()
    now[0] = 105.0
    dog.fresh("ETH/USDT")
    now[0] = 109.9
    assert dog.check() == [] and not dog.blocked
    now[0] = 110.0
    assert dog.check() == ["BTC/USDT"] and set(dog.blocked) == {"BTC/USDT"}
    assert dog.check() == []  # marked once
    assert [type(e) for e in events] == [ev.FeedStale] and events[0].silent_s == 10.0
    assert lines[-1][0] == "warning" and "new entries blocked, exits still allowed" in lines[-1][1]
    now[0] = 113.0
    dog.fresh("BTC/USDT")
    assert not dog.blocked and isinstance(events[-1], ev.FeedResumed) and events[-1].silent_s == 13.0
    assert "resumed after 13.0 s" in lines[-1][1]


def test_nothing_is_judged_while_paused_and_the_clock_restarts_on_resume():
    paused = [True]
    dog, now, events, _ = make(lambda: paused[0])
    now[0] = 500.0
    assert dog.check() == [] and not events
    paused[0] = False
    dog.restart()
    now[0] = 505.0
    assert dog.check() == []


def test_default_limit_is_two_timeframes_at_least_three_polls():
    assert default_stale_after(60_000, 3.0) == 120.0
    assert default_stale_after(1_000, 15.0) == 45.0
