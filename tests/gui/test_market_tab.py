"""The Market tab (issue 9): the live candle chart fed by the engine's candles, with the fills as
markers, on the built-in paper replay; the watchlist and the order book of an exchange-paper
connection against the local venue (their figures equal the venue's). Screenshots at 1280x720 in
both themes go to /work/notes/shots/market when that folder exists."""
from __future__ import annotations

import json
import urllib.request
from pathlib import Path

import numpy as np

from cts_desktop.core import events as ev
from cts_desktop.core.resample import resample
from cts_desktop.store.settings import BUILTIN_PAPER_NAME
from cts_desktop.ui import fmt
from tests.gui.conftest import run

SHOTS = Path("/work/notes/shots/market")


def shot(widget, name: str) -> None:
    if SHOTS.is_dir():
        widget.grab().save(str(SHOTS / name))


def themed_shots(window, qtbot, stem: str) -> None:
    from PySide6.QtWidgets import QApplication

    from cts_desktop.ui.theme import apply_theme

    window.resize(1280, 720)
    app = QApplication.instance()
    for theme in ("dark", "light"):
        apply_theme(app, theme)
        window.market_tab.set_dark(theme == "dark")
        qtbot.wait(50)  # a paint pass for the grab, not a wait for a condition
        shot(window, f"{stem}-{theme}.png")
    apply_theme(app, "dark")
    window.market_tab.set_dark(True)


def test_replay_candles_and_fills_reach_the_chart(window, services, qtbot):
    name = BUILTIN_PAPER_NAME
    conn = services.connection(name)
    conn.speed = "x1000"  # paced first: candles arrive through the bridge one tick at a time
    services.save_connection(conn)
    window.select_connection(name)
    tab = window.market_tab
    window.tabs.setCurrentWidget(tab)
    qtbot.waitUntil(lambda: tab.chart.data.n == 45_031, timeout=20_000)  # no run yet: the whole dataset
    assert "whole dataset" in tab.info.text()
    run(qtbot, services.start_engine(name), timeout=30_000)
    eng = services.engine(name)
    qtbot.waitUntil(lambda: eng.core is not None and eng.core.candles_seen >= 30, timeout=30_000)
    qtbot.waitUntil(lambda: 30 <= tab.chart.data.n < 45_031, timeout=10_000)
    n_before = tab.chart.data.n
    qtbot.waitUntil(lambda: tab.chart.data.n >= n_before + 5, timeout=10_000)  # appended live
    assert tab._extra or len(tab.feed) >= n_before  # candles came as events, not only from a reload
    services.set_speed(name, "max")
    qtbot.waitUntil(lambda: services.engine_state(name) == ev.STOPPED, timeout=120_000)
    window.bridge.flush()
    qtbot.waitUntil(lambda: tab.chart.data.n == eng.core.candles_seen, timeout=15_000)
    assert tab.chart.data.column("ts")[-1] == eng.core.last_ts
    # markers are the fills: one per fill, at its time and price
    tab.refresh_overlays()
    marks = tab.chart._marks
    fills = eng.core.fills
    assert fills and len(marks) == len(fills)
    assert sorted((m.ts, m.price) for m in marks) == sorted((f.timestamp, f.price) for f in fills)
    assert tab.chart.levels() == {} or "entry" in tab.chart.levels()
    # a longer timeframe aggregates the feed's candles
    tab.tf_box.setCurrentText("1h")
    assert tab.chart.data.n == len(resample(tab.feed, 3_600_000))
    assert [ln.name for ln in tab.chart._lines] == ["SMA 10", "SMA 30"]  # the strategy's indicators
    assert tab.chart._lines[0].ts[-1] == tab.feed[-1, 0]  # over every candle of the run
    assert tab.chart.data.column("high")[-1] == tab.feed[tab.feed[:, 0] >= tab.chart.data.column("ts")[-1], 2].max()
    # a replay's watchlist and book come from its candles and say so
    last = fmt.price(float(tab.feed[-1, 4]))  # polled once a second: wait for a poll after the end
    qtbot.waitUntil(lambda: tab.watchlist.row_values("BTC/USD:USD").get("Last") == last, timeout=10_000)
    assert tab.watchlist.row_values("BTC/USD:USD")["Feed"] == "replay"
    assert "replayed candles" in tab.watchlist.note.text()
    close = float(tab.feed[-1, 4])
    qtbot.waitUntil(lambda: tab.book.book is not None and tab.book.book.bids[0][0] == close, timeout=10_000)
    assert len(tab.book.book.bids) == 1 and "one level" in tab.book.note.text()
    tab.chart.show_last(300)
    themed_shots(window, qtbot, "market-replay")
    assert tab.book.book.bids[0][0] == close, tab.book.book


def _venue_json(venue, path: str):
    with urllib.request.urlopen(venue.base_url + path, timeout=10) as r:  # noqa: S310 - loopback
        return json.loads(r.read())


def test_exchange_watchlist_and_book_equal_the_venue(window, services, qtbot, venue):
    from tests.venue.harness import connection_for

    services.save_connection(connection_for(venue, name="venue paper", rate_limit_per_second=500,
                                            symbols=["BTC/USDT", "ETH/USDT"], starting_balance=1000.0,
                                            strategy_params={"timeframe": "5m"}))
    window._fill_connection_combo()
    window.select_connection("venue paper")
    tab = window.market_tab
    window.tabs.setCurrentWidget(tab)
    qtbot.waitUntil(lambda: tab.watchlist.row_values("ETH/USDT").get("Last", "–") != "–", timeout=30_000)
    qtbot.waitUntil(lambda: tab.book.book is not None and len(tab.book.book.bids) == 15, timeout=30_000)
    qtbot.waitUntil(lambda: tab.chart.data.n > 0, timeout=30_000)
    for sym, vsym in (("BTC/USDT", "BTCUSDT"), ("ETH/USDT", "ETHUSDT")):
        t = _venue_json(venue, f"/api/v3/ticker/24hr?symbol={vsym}")
        row = tab.watchlist.row_values(sym)
        bid, ask = float(t["bidPrice"]), float(t["askPrice"])
        assert row["Last"] == fmt.price(float(t["lastPrice"]))
        assert (row["Bid"], row["Ask"]) == (fmt.price(bid), fmt.price(ask))
        assert row["Spread"] == fmt.price(ask - bid)
        assert row["24h"] == f"{float(t['priceChangePercent']):+.2f} %"
        assert row["Feed"] == "polled"
    depth = _venue_json(venue, "/api/v3/depth?symbol=BTCUSDT&limit=20")
    book = tab.book.book
    assert [(p, a) for p, a, _c in book.bids] == [(float(p), float(a)) for p, a in depth["bids"][:15]]
    assert [(p, a) for p, a, _c in book.asks] == [(float(p), float(a)) for p, a in depth["asks"][:15]]
    assert book.bids[-1][2] == sum(float(a) for _p, a in depth["bids"][:15])
    assert book.spread == float(depth["asks"][0][0]) - float(depth["bids"][0][0])
    # clicking a row charts that symbol
    row = next(i for i in range(tab.watchlist.table.rowCount()) if tab.watchlist.table.item(i, 0).text() == "ETH/USDT")
    tab.watchlist.table.cellClicked.emit(row, 0)
    assert tab.symbol_box.currentText() == "ETH/USDT"
    qtbot.waitUntil(lambda: tab.book.book is not None and tab.book.book.symbol == "ETH/USDT", timeout=30_000)
    qtbot.waitUntil(lambda: "ETH/USDT" not in tab.info.text() or tab.chart.data.n > 0, timeout=30_000)
    assert np.isfinite(tab.chart.data.column("close")).all()
    themed_shots(window, qtbot, "market-exchange")
    run(qtbot, services.market.close())


def test_exchange_run_candles_fills_and_levels_reach_the_chart(window, services, qtbot, venue):
    """An exchange-paper run on the venue's candles: each candle the engine processes is appended to
    the chart, the entry fill is a marker, the open position's entry / stop-loss / take-profit are lines."""
    from cts_desktop.core.models import BUY, Signal
    from cts_desktop.engine import strategies
    from cts_desktop.engine.strategies.base import Param, Strategy
    from tests.venue.harness import connection_for

    class BuyOnce(Strategy):
        name = "test_market_buy_once"
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
                return [Signal(candle[0], symbol, BUY, size=0.1, stop_loss=0.002, take_profit=0.003,
                               reason="test", strategy=self.name)]
            return None

    strategies.register(BuyOnce)
    name = "venue run"
    services.save_connection(connection_for(venue, name=name, rate_limit_per_second=500, starting_balance=1000.0,
                                            strategy="test_market_buy_once", strategy_params={"timeframe": "5m"}))
    window._fill_connection_combo()
    window.select_connection(name)
    tab = window.market_tab
    window.tabs.setCurrentWidget(tab)
    qtbot.waitUntil(lambda: tab.chart.data.n > 0, timeout=30_000)
    run(qtbot, services.start_engine(name), timeout=60_000)
    eng = services.engine(name)
    assert services.engine_state(name) == ev.RUNNING, eng.reason
    eng.poll_interval = 0.1
    for _ in range(4):  # a candle for the signal, the next one fills it; no more (the stop stays open)
        seen = eng.core.candles_seen
        venue.state.advance(1)
        qtbot.waitUntil(lambda s=seen: eng.core.candles_seen > s, timeout=30_000)
        if eng.core.fills:
            break
    # the strategy step (and so the fill's booking) may still be on the engine's worker thread: wait for it
    qtbot.waitUntil(lambda: eng.core.fills and "BTC/USDT" in eng.core.portfolio.open, timeout=30_000)
    qtbot.waitUntil(lambda: tab.chart.data.n and tab.chart.data.column("ts")[-1] == eng.core.last_ts, timeout=15_000)
    pos = eng.core.portfolio.open["BTC/USDT"]
    want = {"entry": pos.entry_price, "stop-loss": pos.stop_loss, "take-profit": pos.take_profit}
    qtbot.waitUntil(lambda: tab.chart.levels() == want, timeout=15_000)
    qtbot.waitUntil(lambda: len(tab.chart._marks) == len(eng.core.fills), timeout=15_000)
    assert [(m.ts, m.price) for m in tab.chart._marks] == [(f.timestamp, f.price) for f in eng.core.fills]
    # while the engine runs, the watchlist is read through its gateway (REST polling here)
    window.bridge.flush()
    qtbot.waitUntil(lambda: tab.watchlist.row_values("BTC/USDT").get("Feed") == "polled", timeout=15_000)
    assert "Could not" not in tab.info.text()
    tab.chart.show_last(120)
    themed_shots(window, qtbot, "market-exchange-run")
    run(qtbot, services.stop_engine(name), timeout=30_000)


def test_bridge_delivers_candles_in_order_and_caps_a_flood(qtbot):
    from cts_desktop.engine.bus import EventBus
    from cts_desktop.ui.bridge import MAX_CANDLES, EventBridge

    bus = EventBus()
    bridge = EventBridge(bus, interval_ms=10_000)  # drained by flush() only
    got = []
    bridge.candles.connect(lambda conn, items, complete: got.append((conn, [e.candle[0] for e in items], complete)))
    for i in range(3):
        bus.publish(ev.CandleEvent("a", "BTC/USDT", (i, 1, 1, 1, 1, 1), 60_000))
    bridge.flush()
    assert got == [("a", [0, 1, 2], True)]
    got.clear()
    for i in range(5 * MAX_CANDLES):  # a max-speed replay between two ticks
        bus.publish(ev.CandleEvent("a", "BTC/USDT", (i, 1, 1, 1, 1, 1), 60_000))
    bridge.flush()
    assert len(got) == 1 and got[0][2] is False
    assert got[0][1] == list(range(4 * MAX_CANDLES, 5 * MAX_CANDLES))  # the newest, oldest first
    bridge.close()
