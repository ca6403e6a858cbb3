"""CSV exports of what the database holds, for spreadsheets and tax tools. No Qt.

Table exports (:func:`export_table`): every row the database keeps for one connection (all its
runs, or one run), not just what a screen shows: ``orders``, ``fills``, ``positions`` (open and
closed, with a ``status`` column) and ``activity`` (the engine's log). UTF-8, a header row, times
twice (ISO-8601 UTC with milliseconds, e.g. ``2022-01-03T14:05:00.000Z``, and the raw timestamp in
ms), numbers unformatted (Python's shortest round-trip form, no thousands separators, no
rounding; prices and P&L in the quote currency, amounts in the base currency), empty cells for
missing values.

Tax export (:func:`export_tax_csv`): the trades of a connection's **live** runs only, in Koinly's
"universal" import layout (:data:`TAX_COLUMNS`; dates ``YYYY-MM-DD HH:MM UTC``). Paper-trading
and replay fills are simulated, not trades, and are never written: a connection with no live fill
is refused with :class:`ExportError`. See :mod:`.tax_rows` for how spot and derivative trades
become rows.

Both run on a worker thread from the GUI (:func:`export_table_async`, :func:`export_tax_csv_async`:
one export thread with its own database connection), so a 100,000-row export never holds the
window's event loop; the CLI calls the plain functions.
"""
from __future__ import annotations

import asyncio
import csv
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Dict, Iterable, Iterator, List, Optional, Sequence, Tuple, TypeVar

from ..store.db import EventRec, FillRec, OrderRec, PositionRec, Run
from .tax_rows import TAX_COLUMNS, derivative_row, is_derivative, spot_row

KINDS = ("orders", "fills", "positions", "activity")
TITLES = {"orders": "Orders", "fills": "Fills", "positions": "Positions", "activity": "Activity log"}


class ExportError(ValueError):
    """An export cannot be made; the message says why, for the GUI and the CLI alike."""


def iso_utc(ms: Optional[int]) -> str:
    """``ms`` (ms since the epoch, UTC) as ISO-8601 UTC with milliseconds; "" for None."""
    if ms is None:
        return ""
    return datetime.fromtimestamp(ms / 1000, tz=timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _num(v: Any) -> Any:
    return "" if v is None else v


def _order_row(r: Any) -> list:  # a peewee row (run_id: the run's key)
    return [r.run_id, iso_utc(r.timestamp), r.timestamp, r.client_order_id, r.exchange_id or "", r.symbol, r.side,
            r.type, r.amount, _num(r.price), r.status, r.state, r.filled, r.remaining, _num(r.average), r.cost, r.fee,
            r.fee_currency, r.reason, _num(r.position_id), r.strategy, r.error, _num(r.stop_loss), _num(r.take_profit),
            _num(r.trigger)]


def _fill_row(r: Any) -> list:  # a peewee row (run_id: the run's key)
    return [r.run_id, iso_utc(r.timestamp), r.timestamp, r.fill_id, r.order_id, r.client_order_id, r.symbol, r.side,
            r.amount, r.price, r.cost, r.fee, r.fee_currency, r.taker_or_maker, _num(r.position_id)]


def _position_row(r: Any) -> list:  # a peewee row (run_id: the run's key)
    return [r.run_id, r.position_id, "open" if r.closed_at is None else "closed", r.symbol, r.side,
            iso_utc(r.opened_at), r.opened_at, iso_utc(r.closed_at), _num(r.closed_at), r.amount, r.max_amount,
            r.entry_price, r.exit_price, r.last_price, r.realized_pnl, r.fees, r.realized_pnl - r.fees,
            _num(r.stop_loss), _num(r.take_profit), r.close_reason, r.strategy]


def _event_row(r: Any) -> list:  # a peewee row (run_id: the run's key)
    wall_ms = int(round(r.wall_time * 1000)) if r.wall_time else None
    return [r.run_id if r.run_id is not None else "", iso_utc(r.timestamp), r.timestamp, iso_utc(wall_ms),
            r.category, r.level, r.message]


#: kind -> (columns, model, row builder, order-by fields)
_TABLES: Dict[str, Tuple[Sequence[str], Any, Callable[[Any], list], Callable[[Any], tuple]]] = {
    "orders": (("run_id", "time_utc", "timestamp_ms", "client_order_id", "exchange_order_id", "symbol", "side", "type",
                "amount", "price", "status", "state", "filled", "remaining", "average_price", "cost", "fee",
                "fee_currency", "reason", "position_id", "strategy", "error", "stop_loss_fraction",
                "take_profit_fraction", "trigger_price"),
               OrderRec, _order_row, lambda m: (m.run, m.timestamp, m.id)),
    "fills": (("run_id", "time_utc", "timestamp_ms", "fill_id", "order_id", "client_order_id", "symbol", "side",
               "amount", "price", "cost", "fee", "fee_currency", "taker_or_maker", "position_id"),
              FillRec, _fill_row, lambda m: (m.run, m.timestamp, m.id)),
    "positions": (("run_id", "position_id", "status", "symbol", "side", "opened_utc", "opened_ms", "closed_utc",
                   "closed_ms", "amount_open", "max_amount", "entry_price", "exit_price", "last_price", "realized_pnl",
                   "fees", "net_pnl", "stop_loss", "take_profit", "close_reason", "strategy"),
                  PositionRec, _position_row, lambda m: (m.run, m.position_id)),
    "activity": (("run_id", "time_utc", "timestamp_ms", "wall_time_utc", "category", "level", "message"),
                 EventRec, _event_row, lambda m: (m.id,)),
}


def columns(kind: str) -> Sequence[str]:
    """The header of export ``kind`` (one of :data:`KINDS`); raises :class:`ExportError` otherwise."""
    if kind not in _TABLES:
        raise ExportError(f"unknown export {kind!r}: choose one of {', '.join(KINDS)}")
    return _TABLES[kind][0]


def table_rows(kind: str, connection: str, run_id: Optional[int] = None) -> Iterator[list]:
    """The rows of export ``kind`` for ``connection`` (every run, or only ``run_id``), oldest first."""
    columns(kind)  # raises for an unknown kind
    _cols, model, build, order = _TABLES[kind]
    q = model.select().where(model.connection == connection)
    if run_id is not None:
        q = q.where(model.run == run_id)
    for rec in q.order_by(*order(model)).iterator():
        yield build(rec)


def _write(path: Path, header: Sequence[str], rows: Iterable[list]) -> int:
    path = Path(path)
    n = 0
    try:
        with open(path, "w", newline="", encoding="utf-8") as f:
            w = csv.writer(f)
            w.writerow(header)
            for row in rows:
                w.writerow(row)
                n += 1
    except OSError as exc:
        raise ExportError(f"cannot write {path}: {exc.strerror or exc}") from None
    return n


def export_table(kind: str, connection: str, path: Path, run_id: Optional[int] = None) -> int:
    """Write export ``kind`` of ``connection`` to ``path`` (CSV, UTF-8; see the module docstring).
    Returns the number of data rows. Raises :class:`ExportError` for an unknown kind or a file
    that cannot be written. The database must be open (``AppServices`` opens it)."""
    return _write(path, columns(kind), table_rows(kind, connection, run_id))


def default_file_name(kind: str, connection: str) -> str:
    """A file name for an export: ``"<connection> - <kind>.csv"`` with unsafe characters replaced."""
    safe = "".join(c if c.isalnum() or c in " -_." else "_" for c in connection).strip() or "connection"
    return f"{safe} - {kind}.csv"


# -- tax ---------------------------------------------------------------------------------------------
def _market_type(run: Run) -> str:
    """A live run's dataset reads ``exchange:market_type:timeframe``."""
    parts = (run.dataset or "").split(":")
    return parts[1] if len(parts) >= 3 else ""


def tax_rows(connection: str) -> List[list]:
    """The Koinly rows of ``connection``'s live runs, in time order (see :mod:`.tax_rows`).
    Raises :class:`ExportError` when the connection has no live fill (paper fills never count)."""
    live_runs = {r.id: r for r in Run.select().where((Run.connection == connection) & (Run.mode == "live"))}
    fills: List[Any] = list(FillRec.select().where((FillRec.connection == connection) & FillRec.run.in_(list(live_runs)))
                 .order_by(FillRec.timestamp, FillRec.id)) if live_runs else []
    if not fills:
        raise ExportError(f"{connection!r} has no live trades: paper-trading and replay fills are simulated, "
                          "not real trades, and are never exported for tax.")
    rows: List[Tuple[int, int, list]] = []  # (time ms, record id, row)
    for f in fills:
        if not is_derivative(f.symbol, _market_type(live_runs[f.run_id])):
            rows.append((f.timestamp, f.id, spot_row(f, connection)))
    closed: Iterable[Any] = (PositionRec.select().where((PositionRec.connection == connection) & PositionRec.run.in_(list(live_runs))
                                         & PositionRec.closed_at.is_null(False)))
    for p in closed:
        if is_derivative(p.symbol, _market_type(live_runs[p.run_id])):
            rows.append((int(p.closed_at), p.id, derivative_row(p, connection)))
    rows.sort(key=lambda t: (t[0], t[1]))
    return [r for _ts, _id, r in rows]


def export_tax_csv(connection: str, path: Path) -> int:
    """Write ``connection``'s live trades to ``path`` in Koinly's universal layout. Returns the
    number of rows. Raises :class:`ExportError` (no live fills; file not writable)."""
    return _write(path, TAX_COLUMNS, tax_rows(connection))



# -- off the loop ------------------------------------------------------------------------------------
T = TypeVar("T")
_WORKER: Optional[ThreadPoolExecutor] = None


def _in_own_connection(fn: Callable[..., T], *args: Any) -> T:
    """``fn(*args)`` on this (worker) thread's own database connection, closed afterwards (peewee
    keeps one connection per thread; SQLite's WAL lets it read while the recorders write)."""
    with OrderRec._meta.database.connection_context():
        return fn(*args)


async def _off_loop(fn: Callable[..., T], *args: Any) -> T:
    global _WORKER
    if _WORKER is None:  # one thread: exports run one after the other, in the order asked
        _WORKER = ThreadPoolExecutor(max_workers=1, thread_name_prefix="cts-export")
    return await asyncio.get_running_loop().run_in_executor(_WORKER, _in_own_connection, fn, *args)


async def export_table_async(kind: str, connection: str, path: Path, run_id: Optional[int] = None) -> int:
    """:func:`export_table` on the export thread (the loop keeps running meanwhile). Returns the
    number of data rows; raises :class:`ExportError` as it does."""
    columns(kind)  # an unknown kind is refused at once, on the caller's thread
    return await _off_loop(export_table, kind, connection, path, run_id)


async def export_tax_csv_async(connection: str, path: Path) -> int:
    """:func:`export_tax_csv` on the export thread. Returns the number of rows; raises
    :class:`ExportError` as it does."""
    return await _off_loop(export_tax_csv, connection, path)
