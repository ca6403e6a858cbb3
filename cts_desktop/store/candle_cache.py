"""Exchange candle history, downloaded once and kept in the trade database.

:func:`download_history` pages through a gateway's ``fetch_ohlcv`` and stores every closed candle
in :class:`CandleRec` (one row per exchange, symbol, timeframe and open time). The time spans
already fetched are remembered in :class:`CandleSpanRec`, so asking again for the same period
(or a longer one) only downloads what is missing, and a gap the exchange itself has (no trades,
maintenance) is not asked for again. :func:`download_for_connection` is the service the
backtest window awaits: it opens a gateway for a configured connection, downloads and closes it.

Times are ms since the epoch, UTC; a candle is ``(open_time_ms, open, high, low, close,
volume)``, prices in quote. Candles are checked like candle files (see
:mod:`cts_desktop.exchange.candles`): a page with a price <= 0, an inconsistent candle, a
negative volume or unsorted/duplicate times is refused whole with a :class:`HistoryError`.
"""
from __future__ import annotations

import math
import time
from typing import Callable, Dict, List, Optional, Tuple

from peewee import CharField, FloatField, IntegerField

from ..core.models import Candle, Market, timeframe_ms as _tf_ms
from .db import MODELS, BaseModel


class HistoryError(Exception):
    """The history cannot be downloaded or the exchange sent unusable candles; the message is
    meant for the user as it is."""


class CandleRec(BaseModel):
    """One cached candle. ``timestamp``: open time, ms UTC; prices in quote; volume as sent."""

    exchange = CharField()
    symbol = CharField()
    timeframe = CharField()
    timestamp = IntegerField()
    open = FloatField()
    high = FloatField()
    low = FloatField()
    close = FloatField()
    volume = FloatField()

    class Meta:
        table_name = "candle_cache"
        indexes = ((("exchange", "symbol", "timeframe", "timestamp"), True),)


class CandleSpanRec(BaseModel):
    """A span ``[start, end)`` (open times, ms UTC) whose closed candles have all been fetched."""

    exchange = CharField()
    symbol = CharField()
    timeframe = CharField()
    start = IntegerField()
    end = IntegerField()

    class Meta:
        table_name = "candle_cache_spans"
        indexes = ((("exchange", "symbol", "timeframe", "start"), False),)


for _m in (CandleRec, CandleSpanRec):
    if _m not in MODELS:
        MODELS.append(_m)

PAGE_LIMIT = 1000


def ensure_tables() -> None:
    """Create the cache tables if missing (a database created before the cache existed)."""
    for m in (CandleRec, CandleSpanRec):
        m.create_table(safe=True)


# ------------------------------------------------------------------------------------------
# reads
# ------------------------------------------------------------------------------------------
def cached_candles(exchange_id: str, symbol: str, timeframe: str, since_ms: int, until_ms: int) -> List[Candle]:
    """Cached candles with ``since_ms <= open time < until_ms``, oldest first."""
    ensure_tables()
    q = (CandleRec.select(CandleRec.timestamp, CandleRec.open, CandleRec.high, CandleRec.low, CandleRec.close,
                          CandleRec.volume)
         .where((CandleRec.exchange == exchange_id) & (CandleRec.symbol == symbol) & (CandleRec.timeframe == timeframe)
                & (CandleRec.timestamp >= since_ms) & (CandleRec.timestamp < until_ms))
         .order_by(CandleRec.timestamp).tuples())
    return [tuple(r) for r in q]


def _spans(exchange_id: str, symbol: str, timeframe: str) -> List[Tuple[int, int]]:
    q = (CandleSpanRec.select(CandleSpanRec.start, CandleSpanRec.end)
         .where((CandleSpanRec.exchange == exchange_id) & (CandleSpanRec.symbol == symbol)
                & (CandleSpanRec.timeframe == timeframe)).order_by(CandleSpanRec.start).tuples())
    return [(a, b) for a, b in q]


def missing_spans(covered: List[Tuple[int, int]], start: int, end: int) -> List[Tuple[int, int]]:
    """The parts of ``[start, end)`` not inside any of the sorted ``covered`` spans."""
    out = []
    cur = start
    for a, b in covered:
        if b <= cur:
            continue
        if a >= end:
            break
        if a > cur:
            out.append((cur, a))
        cur = max(cur, b)
        if cur >= end:
            break
    if cur < end:
        out.append((cur, end))
    return out


def _add_span(exchange_id: str, symbol: str, timeframe: str, start: int, end: int) -> None:
    """Record ``[start, end)`` as fetched, merged with the spans it touches (inside a transaction)."""
    key = ((CandleSpanRec.exchange == exchange_id) & (CandleSpanRec.symbol == symbol)
           & (CandleSpanRec.timeframe == timeframe))
    touching = list(CandleSpanRec.select().where(key & (CandleSpanRec.start <= end) & (CandleSpanRec.end >= start)))
    for s in touching:
        start, end = min(start, s.start), max(end, s.end)
    if touching:
        CandleSpanRec.delete().where(CandleSpanRec.id.in_([s.id for s in touching])).execute()
    CandleSpanRec.create(exchange=exchange_id, symbol=symbol, timeframe=timeframe, start=start, end=end)


# ------------------------------------------------------------------------------------------
# checks
# ------------------------------------------------------------------------------------------
def check_rows(rows: List[Candle], where: str) -> None:
    """Refuse candles a candle file would refuse; ``where`` prefixes the message. Raises
    :class:`HistoryError` naming the first bad candle by its open time."""
    prev = None
    for c in rows:
        ts, o, h, low, cl, v = c

        def bad(what: str) -> HistoryError:
            return HistoryError(f"{where}: candle at {_utc(ts)} ({ts}): {what}")

        if not all(isinstance(x, (int, float)) and math.isfinite(x) for x in c):
            raise bad("a value is not a finite number")
        if o <= 0 or h <= 0 or low <= 0 or cl <= 0:
            raise bad("prices must be > 0")
        if v < 0:
            raise bad(f"volume must be >= 0, got {v:g}")
        tol = h * 1e-9
        if h < low - tol or o > h + tol or cl > h + tol or o < low - tol or cl < low - tol:
            raise bad(f"inconsistent candle: open {o:g}, high {h:g}, low {low:g}, close {cl:g}")
        if prev is not None:
            if ts == prev:
                raise bad("duplicate timestamp")
            if ts < prev:
                raise bad(f"earlier than the candle before ({prev}): candles must be sorted by time")
        prev = ts


def _utc(ms: int) -> str:
    return time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(ms / 1000))


# ------------------------------------------------------------------------------------------
# download
# ------------------------------------------------------------------------------------------
def _store(exchange_id: str, symbol: str, timeframe: str, rows: List[Candle], span: Tuple[int, int]) -> None:
    db = CandleRec._meta.database
    with db.atomic():
        if rows:
            for i in range(0, len(rows), 500):
                CandleRec.insert_many(
                    [(exchange_id, symbol, timeframe) + tuple(r) for r in rows[i:i + 500]],
                    fields=[CandleRec.exchange, CandleRec.symbol, CandleRec.timeframe, CandleRec.timestamp,
                            CandleRec.open, CandleRec.high, CandleRec.low, CandleRec.close, CandleRec.volume],
                ).on_conflict_ignore().execute()
        if span[1] > span[0]:
            _add_span(exchange_id, symbol, timeframe, *span)


async def download_history(gateway, exchange_id: str, symbol: str, timeframe: str, since_ms: int, until_ms: int,
                           progress: Optional[Callable[[int, int], None]] = None, *, limit: int = PAGE_LIMIT,
                           now_ms: Optional[int] = None, cancelled: Optional[Callable[[], bool]] = None) -> List[Candle]:
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
    todo = missing_spans(_spans(exchange_id, symbol, timeframe), start, end)
    done = total - sum((b - a) // tf for a, b in todo)
    if progress is not None:
        progress(done, total)
    for seg_start, seg_end in todo:
        since = seg_start
        while since < seg_end:
            if cancelled is not None and cancelled():
                raise HistoryError("download cancelled")
            page = await gateway.fetch_ohlcv(symbol, timeframe, since, limit)
            page = [(int(r[0]), float(r[1]), float(r[2]), float(r[3]), float(r[4]), float(r[5])) for r in page]
            check_rows(page, where)
            rows = [r for r in page if since <= r[0] < seg_end]
            # Covered up to the last candle received; a page with nothing in the segment means the
            # exchange has no more candles in it (a gap up to the end, or before the listing).
            covered_to = min(rows[-1][0] + tf, seg_end) if rows else seg_end
            _store(exchange_id, symbol, timeframe, rows, (since, covered_to))
            done += max(0, (covered_to - since) // tf)
            if progress is not None:
                progress(min(done, total), total)
            since = covered_to
    return cached_candles(exchange_id, symbol, timeframe, start, end)


async def download_for_connection(conn, symbol: str, timeframe: str, since_ms: int, until_ms: int,
                                  progress: Optional[Callable[[int, int], None]] = None, *,
                                  secrets: Optional[Dict[str, str]] = None,
                                  cancelled: Optional[Callable[[], bool]] = None,
                                  gateway_factory=None) -> Tuple[List[Candle], Market]:
    """Download (or read from the cache) the history of ``symbol`` through connection ``conn``
    (a :class:`~cts_desktop.store.settings.ConnectionConfig` of a ccxt exchange) and return
    ``(candles, market)``; candles as :func:`download_history`, ``market`` the exchange's rules
    for the symbol (steps, minimums, fees). Candles are public data: no credentials are needed
    (``secrets`` default to none). Raises :class:`HistoryError` (unknown symbol, nothing in the
    period) or ``GatewayError`` (network, exchange).
    """
    if conn.is_paper_replay:
        raise HistoryError(f"{conn.name} replays recorded data; choose a connection to an exchange")
    if gateway_factory is None:
        from ..exchange.ccxt_gateway import CcxtGateway
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
