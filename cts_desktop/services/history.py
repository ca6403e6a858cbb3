"""Exchange candle history for backtests: downloaded once, page by page, and kept in the cache.

:func:`download_history` pages through a gateway's ``fetch_ohlcv`` and stores every closed
candle in the cache (:mod:`cts_desktop.store.candle_cache`), asking only for the spans not
fetched before. :func:`download_for_connection` is the service the backtest window awaits: it
opens a gateway for a configured connection, downloads and closes it.

Times are ms since the epoch, UTC; a candle is ``(open_time_ms, open, high, low, close,
volume)``, prices in quote. Candles are checked like candle files (see
:mod:`cts_desktop.exchange.candles`): a page with a price <= 0, an inconsistent candle, a
negative volume or unsorted/duplicate times is refused whole with a :class:`HistoryError`.
"""
from __future__ import annotations

import math
import time
from typing import Any, Callable, Dict, List, Optional, Protocol, Sequence, Tuple

from ..core.connection import ConnectionConfig
from ..core.models import Candle, Market, timeframe_ms as _tf_ms
from ..store.candle_cache import cached_candles, ensure_tables, fetched_spans, missing_spans, store_page

PAGE_LIMIT = 1000


class HistoryError(Exception):
    """The history cannot be downloaded or the exchange sent unusable candles; the message is
    meant for the user as it is."""


class CandleSource(Protocol):
    """What :func:`download_history` needs of a gateway (:class:`CcxtGateway` is one)."""

    async def fetch_ohlcv(self, symbol: str, timeframe: str = ..., since: Optional[int] = ...,
                          limit: Optional[int] = ...) -> Sequence[Sequence[Any]]: ...


class MarketGateway(CandleSource, Protocol):
    """What :func:`download_for_connection` needs of the gateway it opens."""

    async def load_markets(self, reload: bool = ...) -> Dict[str, Market]: ...

    async def close(self) -> None: ...


GatewayFactory = Callable[[ConnectionConfig, Dict[str, str]], MarketGateway]


# ------------------------------------------------------------------------------------------
# checks
# ------------------------------------------------------------------------------------------
def check_rows(rows: List[Candle], where: str) -> None:
    """Refuse candles a candle file would refuse; ``where`` prefixes the message. Raises
    :class:`HistoryError` naming the first bad candle by its open time."""
    prev = None
    for c in rows:
        problem = _problem(c, prev)
        ts = c[0]
        if problem:
            raise HistoryError(f"{where}: candle at {_utc(ts)} ({ts}): {problem}")
        prev = ts


def _problem(c: Candle, prev: Optional[int]) -> str:
    """What is wrong with candle ``c`` (after a candle opening at ``prev``), or ``""``."""
    ts, o, h, low, cl, v = c
    if not all(isinstance(x, (int, float)) and math.isfinite(x) for x in c):
        return "a value is not a finite number"
    if o <= 0 or h <= 0 or low <= 0 or cl <= 0:
        return "prices must be > 0"
    if v < 0:
        return f"volume must be >= 0, got {v:g}"
    tol = h * 1e-9
    if h < low - tol or o > h + tol or cl > h + tol or o < low - tol or cl < low - tol:
        return f"inconsistent candle: open {o:g}, high {h:g}, low {low:g}, close {cl:g}"
    if prev is not None:
        if ts == prev:
            return "duplicate timestamp"
        if ts < prev:
            return f"earlier than the candle before ({prev}): candles must be sorted by time"
    return ""


def _utc(ms: int) -> str:
    return time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(ms / 1000))


# ------------------------------------------------------------------------------------------
# download
# ------------------------------------------------------------------------------------------
async def download_history(gateway: CandleSource, exchange_id: str, symbol: str, timeframe: str, since_ms: int,
                           until_ms: int, progress: Optional[Callable[[int, int], None]] = None, *,
                           limit: int = PAGE_LIMIT, now_ms: Optional[int] = None,
                           cancelled: Optional[Callable[[], bool]] = None) -> List[Candle]:
    """Closed candles of ``symbol`` with open time in ``[since_ms, until_ms)``, oldest first.

    ``gateway``: anything with ``async fetch_ohlcv(symbol, timeframe, since, limit)`` returning
    candles oldest first (:class:`~cts_desktop.exchange.ccxt_gateway.CcxtGateway`).
    ``exchange_id``: the cache key of the exchange (the ccxt id, e.g. ``"binance"``).
    ``since_ms`` is rounded down to the timeframe; the candle still forming at ``now_ms``
    (default: the wall clock) and later ones are never stored or returned. Spans already fetched
    are read from the cache, the rest is fetched ``limit`` candles per call, each page stored
    (with the span it covers) as it arrives, so an interrupted download keeps what it got.
    ``progress(done, total)``: candles of the period handled so far and expected in all
    (from the time span: an estimate when the exchange has gaps). ``cancelled()``: checked
    between pages; when true the download stops (what was stored stays) and
    :class:`HistoryError` is raised.

    Raises :class:`HistoryError` for a bad request (unknown timeframe, empty period) or bad
    candles, and the gateway's own errors (``GatewayError``) as they are.
    """
    try:
        tf = _tf_ms(timeframe)
    except ValueError as exc:
        raise HistoryError(str(exc)) from None
    if limit < 1:
        raise HistoryError(f"limit must be >= 1, got {limit}")
    now = int(time.time() * 1000) if now_ms is None else int(now_ms)
    start = since_ms - since_ms % tf
    # A candle is closed once its whole period has passed: open time + tf <= now.
    last_closed_open = (now - tf) - (now - tf) % tf
    end = min(until_ms, last_closed_open + tf)
    if end <= start:
        raise HistoryError(f"no closed {timeframe} candles between {_utc(since_ms)} and {_utc(min(until_ms, now))}")
    ensure_tables()
    where = f"{symbol} {timeframe} from {exchange_id}"
    total = (end - start) // tf
    todo = missing_spans(fetched_spans(exchange_id, symbol, timeframe), start, end)
    done = total - sum((b - a) // tf for a, b in todo)
    if progress is not None:
        progress(done, total)
    for seg_start, seg_end in todo:
        since = seg_start
        while since < seg_end:
            if cancelled is not None and cancelled():
                raise HistoryError("download cancelled")
            raw = await gateway.fetch_ohlcv(symbol, timeframe, since, limit)
            page: List[Candle] = [(int(r[0]), float(r[1]), float(r[2]), float(r[3]), float(r[4]), float(r[5]))
                                  for r in raw]
            check_rows(page, where)
            rows = [r for r in page if since <= r[0] < seg_end]
            # Covered up to the last candle received; a page with nothing in the segment means the
            # exchange has no more candles in it (a gap up to the end, or before the listing).
            covered_to = min(rows[-1][0] + tf, seg_end) if rows else seg_end
            store_page(exchange_id, symbol, timeframe, rows, (since, covered_to))
            done += max(0, (covered_to - since) // tf)
            if progress is not None:
                progress(min(done, total), total)
            since = covered_to
    return cached_candles(exchange_id, symbol, timeframe, start, end)


async def download_for_connection(conn: ConnectionConfig, symbol: str, timeframe: str, since_ms: int, until_ms: int,
                                  progress: Optional[Callable[[int, int], None]] = None, *,
                                  secrets: Optional[Dict[str, str]] = None,
                                  cancelled: Optional[Callable[[], bool]] = None,
                                  gateway_factory: Optional[GatewayFactory] = None) -> Tuple[List[Candle], Market]:
    """Download (or read from the cache) the history of ``symbol`` through connection ``conn``
    (a :class:`~cts_desktop.core.connection.ConnectionConfig` of a ccxt exchange) and return
    ``(candles, market)``; candles as :func:`download_history`, ``market`` the exchange's rules
    for the symbol (steps, minimums, fees). Candles are public data: no credentials are needed
    (``secrets`` default to none). ``gateway_factory(conn, secrets)`` opens the gateway
    (default :class:`~cts_desktop.exchange.ccxt_gateway.CcxtGateway`). Raises
    :class:`HistoryError` (unknown symbol, nothing in the period) or ``GatewayError``
    (network, exchange).
    """
    if conn.is_paper_replay:
        raise HistoryError(f"{conn.name} replays recorded data; choose a connection to an exchange")
    if gateway_factory is None:
        from ..exchange.ccxt_gateway import CcxtGateway  # ccxt is imported on first use: it is slow to load
        gateway_factory = CcxtGateway
    gw = gateway_factory(conn, secrets or {})
    try:
        markets = await gw.load_markets()
        market = markets.get(symbol)
        if market is None:
            near = sorted(s for s in markets if s.split("/")[0] == symbol.split("/")[0])[:8]
            hint = f"; {', '.join(near)} exist" if near else ""
            raise HistoryError(f"{conn.exchange} has no market {symbol}{hint}")
        candles = await download_history(gw, conn.exchange, symbol, timeframe, since_ms, until_ms, progress,
                                         cancelled=cancelled)
    finally:
        await gw.close()
    if len(candles) < 2:
        raise HistoryError(f"{conn.exchange} has {len(candles)} {timeframe} candles of {symbol} in that period; "
                           "a backtest needs at least 2")
    return candles, market
