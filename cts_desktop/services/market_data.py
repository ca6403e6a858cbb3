"""The Market tab's watchlist and order book: tickers and depth of a connection's symbols. No Qt.

Exchange connections are asked through a gateway (:class:`~cts_desktop.core.gateway.Gateway`):
the running engine's, or, while it is stopped, a public one of this service (no credentials, made
on first use, closed by :meth:`MarketData.close`). The UI never talks to an exchange itself.
A paper replay has no tickers nor book: its watchlist comes from the replayed candles and its book
is one level at the last close; both say so (``note``).

An order book is read at most once a second per connection and symbol (:data:`BOOK_MIN_INTERVAL_S`),
an exchange's tickers at most every :data:`TICKERS_MIN_INTERVAL_S`: asked sooner, the last answer
is returned. These reads share the exchange's request budget with the engines
(``exchange/budget.py``), so while a budget is backing off, banned or over :data:`DISPLAY_SHARE`
used this minute they are not made at all: the last answer is returned, its note saying why. Prices in quote, amounts and volumes in base, changes in
percent, times in ms UTC.
"""
from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Tuple

import numpy as np

from ..core.connection import ConnectionConfig
from ..core.gateway import Gateway

BOOK_MIN_INTERVAL_S = 1.0
TICKERS_MIN_INTERVAL_S = 3.0  # an exchange's tickers are read at most this often per connection
DISPLAY_SHARE = 0.5  # display reads stop while a request budget is this full (the engine needs the rest)
BOOK_LEVELS = 15  # levels a side shown (the issue asks for 10-20)
DAY_MS = 86_400_000
REPLAY_NOTE = "Paper replay: figures from the replayed candles (recorded data has no bid/ask)."
REPLAY_BOOK_NOTE = "Paper replay: no order book in recorded data; one level at the last candle's close."


def _f(value: Any) -> Optional[float]:
    return float(value) if value is not None else None


@dataclass
class WatchRow:
    """One watchlist row: ``last``, ``bid``, ``ask``, ``spread`` (ask - bid) in quote; ``change_pct``
    over 24 h (percent); ``volume`` 24 h in base; ``state`` ``live`` (streamed) / ``polled`` (REST) / ``stale`` / ``replay``."""

    symbol: str
    last: Optional[float]
    change_pct: Optional[float]
    bid: Optional[float]
    ask: Optional[float]
    spread: Optional[float]
    volume: Optional[float]
    state: str


@dataclass
class Watchlist:
    rows: List[WatchRow]
    note: str = ""


@dataclass
class Book:
    """``bids`` / ``asks``: ``(price, amount, cumulative amount)`` best first; ``spread`` = best ask -
    best bid (quote, None without both sides); ``note`` for the trader (a replay's one-level book, a read skipped to spare the request budget)."""

    symbol: str
    bids: List[Tuple[float, float, float]] = field(default_factory=list)
    asks: List[Tuple[float, float, float]] = field(default_factory=list)
    spread: Optional[float] = None
    timestamp: Optional[int] = None
    note: str = ""
    recorded: bool = False  # a paper replay's one level at the close: no amounts, no spread


def _levels(rows: List[List[Any]], n: int) -> List[Tuple[float, float, float]]:
    out, cum = [], 0.0
    for row in rows[:n]:
        price, amount = float(row[0]), float(row[1])
        cum += amount
        out.append((price, amount, cum))
    return out


def book_of(symbol: str, raw: Dict[str, Any], levels: int = BOOK_LEVELS, note: str = "") -> Book:
    """A :class:`Book` from a gateway's ``fetch_order_book`` answer, ``levels`` a side."""
    bids, asks = _levels(raw.get("bids") or [], levels), _levels(raw.get("asks") or [], levels)
    spread = asks[0][0] - bids[0][0] if bids and asks else None
    return Book(symbol, bids, asks, spread, raw.get("timestamp"), note)


def budget_tight(gateway: Any) -> str:
    """Why display reads through ``gateway`` should wait (a request budget backing off, banned or
    over :data:`DISPLAY_SHARE` used this minute), or ``""``."""
    for b in getattr(gateway, "budgets", ()):
        st = b.status()
        if st.state != "ok":
            return f"Not read: the request budget ({st.label}) is {st.state}; the engine goes first."
        if st.limit and st.used >= st.limit * DISPLAY_SHARE:
            return (f"Not read: {st.used} of {st.limit} request weight used this minute ({st.label}); "
                    "the engine goes first.")
    return ""


class MarketData:
    """Watchlists and order books for the connections of ``app`` (:class:`~cts_desktop.services.AppServices`)."""

    def __init__(self, app: Any, chart: Any):
        self.app = app
        self.chart = chart  # a services.market.MarketChart: symbols and replayed candles
        self._public: Dict[str, Tuple[ConnectionConfig, Gateway]] = {}
        self._books: Dict[Tuple[str, str], Tuple[float, Book]] = {}
        self._watchlists: Dict[str, Tuple[float, Watchlist]] = {}

    async def gateway(self, name: str) -> Any:
        """The running engine's gateway of ``name``, else a public one (no credentials). Raises
        ``KeyError`` for an unknown connection, ``ValueError`` for a paper replay (it has none)."""
        conn = self.app.connection(name)
        if conn.is_paper_replay:
            raise ValueError(f"{name} replays recorded candles: it has no exchange to ask")
        eng = self.app.engines.get(name)
        gw = getattr(eng, "gateway", None) if eng is not None and eng.active else None
        if gw is not None:
            return gw
        held = self._public.get(name)
        if held is not None and held[0] is conn:
            return held[1]
        if held is not None:
            await held[1].close()  # the connection was edited: a gateway for the new settings
        from ..exchange.ccxt_gateway import CcxtGateway  # on first use: ccxt is slow to import

        gw = CcxtGateway(conn, {})
        self._public[name] = (conn, gw)
        return gw

    def _feed(self, name: str) -> Any:
        eng = self.app.engines.get(name)
        return getattr(eng, "feed", None) if eng is not None and eng.active else None

    def _streaming(self, name: str) -> bool:
        feed = self._feed(name)
        return feed is not None and feed.data_source == "websocket"

    def _stale(self, name: str) -> set:
        """The symbols the running engine's feed watchdog has marked stale (``engine/staleness.py``)."""
        watchdog = getattr(self._feed(name), "staleness", None)
        return set(watchdog.stale) if watchdog is not None else set()

    async def watchlist(self, name: str) -> Watchlist:
        """The watchlist of ``name``'s symbols (see :class:`WatchRow`): ``stale`` when the exchange sent
        no ticker or the running engine's feed watchdog says so. Raises ``KeyError``,
        ``GatewayError`` (the exchange did not answer), ``CandleFileError`` (a replay's file)."""
        conn = self.app.connection(name)
        symbols = self.chart.symbols(name)
        if conn.is_paper_replay:  # off the loop: the first read of a dataset parses its files
            rows = await asyncio.get_running_loop().run_in_executor(
                None, lambda: [self._replay_row(name, s) for s in symbols])
            return Watchlist(rows, REPLAY_NOTE)
        held = self._watchlists.get(name)
        if held is not None and time.monotonic() - held[0] < TICKERS_MIN_INTERVAL_S:
            return held[1]
        gateway = await self.gateway(name)
        tight = budget_tight(gateway)
        if tight:
            return Watchlist(held[1].rows if held else [], tight)
        tickers = await gateway.fetch_tickers(symbols)
        fresh = "live" if self._streaming(name) else "polled"
        stale = self._stale(name)
        rows = []
        for s in symbols:
            t = tickers.get(s) or {}
            bid, ask = _f(t.get("bid")), _f(t.get("ask"))
            state = "stale" if not t or s in stale else fresh
            rows.append(WatchRow(s, _f(t.get("last") or t.get("close")), _f(t.get("percentage")), bid, ask,
                                 ask - bid if bid is not None and ask is not None else None,
                                 _f(t.get("baseVolume")), state))
        wl = Watchlist(rows, f"{conn.exchange}: {'streamed' if fresh == 'live' else 'polled'} tickers")
        self._watchlists[name] = (time.monotonic(), wl)
        return wl

    def _replay_row(self, name: str, symbol: str) -> WatchRow:
        chart = self.chart
        cols = chart._source(name).series[symbol].candles
        until = chart._replay_until(name)
        n = int(np.searchsorted(cols.ts, until, side="right")) if until is not None else len(cols)
        if n == 0:
            return WatchRow(symbol, None, None, None, None, None, None, "replay")
        last_ts, last = int(cols.ts[n - 1]), float(cols.close[n - 1])
        i0 = int(np.searchsorted(cols.ts, last_ts - DAY_MS, side="right"))
        base = float(cols.open[i0])
        change = (last - base) / base * 100.0 if base else None
        volume = float(np.sum(cols.volume[i0:n]))
        return WatchRow(symbol, last, change, None, None, None, volume, "replay")

    async def order_book(self, name: str, symbol: str, levels: int = BOOK_LEVELS) -> Book:
        """The order book of ``symbol`` on ``name`` (see the module docstring). Raises ``KeyError``,
        ``GatewayError``."""
        key = (name, symbol)
        held = self._books.get(key)
        if held is not None and time.monotonic() - held[0] < BOOK_MIN_INTERVAL_S:
            return held[1]
        conn = self.app.connection(name)
        if conn.is_paper_replay:
            row = await asyncio.get_running_loop().run_in_executor(None, self._replay_row, name, symbol)
            raw: Dict[str, Any] = {"bids": [], "asks": []}
            if row.last is not None:
                raw = {"bids": [[row.last, 0.0]], "asks": [[row.last, 0.0]]}
            book = book_of(symbol, raw, 1, REPLAY_BOOK_NOTE)
            book.recorded = True
        else:
            gateway = await self.gateway(name)
            tight = budget_tight(gateway)
            if tight:
                last = held[1] if held is not None else Book(symbol)
                return Book(symbol, last.bids, last.asks, last.spread, last.timestamp, tight)
            raw = await gateway.fetch_order_book(symbol, max(levels, 20))
            book = book_of(symbol, raw, levels)
        self._books[key] = (time.monotonic(), book)
        return book

    async def close(self) -> None:
        """Close the public gateways (idempotent)."""
        public, self._public = self._public, {}
        for _conn, gw in public.values():
            await gw.close()
