"""Exchange candle history kept in the trade database: the cache's reads and writes.

Candles live in :class:`~cts_desktop.store.db.CandleRec` (one row per exchange, symbol,
timeframe and open time); the time spans already fetched are remembered in
:class:`~cts_desktop.store.db.CandleSpanRec`, so asking again for the same period (or a longer
one) only downloads what is missing, and a gap the exchange itself has (no trades, maintenance)
is not asked for again. Both tables are declared in ``store/db.py`` and re-exported here.

The download itself (paging through a gateway, checking the candles) is
:mod:`cts_desktop.services.history`; this module never talks to an exchange.

Times are ms since the epoch, UTC; a candle is ``(open_time_ms, open, high, low, close,
volume)``, prices in quote.
"""
from __future__ import annotations

from typing import List, Tuple, cast

from ..core.models import Candle
from .db import CandleRec, CandleSpanRec

__all__ = ["CandleRec", "CandleSpanRec", "ensure_tables", "cached_candles", "fetched_spans", "missing_spans",
           "store_page"]

_INSERT_BATCH = 500


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
    # peewee-stubs type the rows of .tuples() as model instances; they are plain tuples
    return [cast(Candle, tuple(r)) for r in q]  # type: ignore[arg-type]


def fetched_spans(exchange_id: str, symbol: str, timeframe: str) -> List[Tuple[int, int]]:
    """The spans ``(start, end)`` (open times, ms UTC) already fetched, sorted by start."""
    q = (CandleSpanRec.select(CandleSpanRec.start, CandleSpanRec.end)
         .where((CandleSpanRec.exchange == exchange_id) & (CandleSpanRec.symbol == symbol)
                & (CandleSpanRec.timeframe == timeframe)).order_by(CandleSpanRec.start).tuples())
    return [(int(r[0]), int(r[1])) for r in q]  # type: ignore[index]  # .tuples() rows (stubs say model)


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


# ------------------------------------------------------------------------------------------
# writes
# ------------------------------------------------------------------------------------------
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


def store_page(exchange_id: str, symbol: str, timeframe: str, rows: List[Candle], span: Tuple[int, int]) -> None:
    """Store ``rows`` (candles already present are kept as they are) and record ``span``
    (``[start, end)``, open times ms UTC) as fetched, in one transaction."""
    db = CandleRec._meta.database
    with db.atomic():
        if rows:
            for i in range(0, len(rows), _INSERT_BATCH):
                CandleRec.insert_many(
                    [(exchange_id, symbol, timeframe) + tuple(r) for r in rows[i:i + _INSERT_BATCH]],
                    fields=[CandleRec.exchange, CandleRec.symbol, CandleRec.timeframe, CandleRec.timestamp,
                            CandleRec.open, CandleRec.high, CandleRec.low, CandleRec.close, CandleRec.volume],
                ).on_conflict_ignore().execute()
        if span[1] > span[0]:
            _add_span(exchange_id, symbol, timeframe, *span)
