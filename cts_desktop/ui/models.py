"""Declarative table models: a table is a list of :class:`Column` rows, not a new widget class.

Inspired by VeighNa's monitors (a ``headers`` table and a key -> row cache). Every table is a
:class:`StoredTableModel`: the display data lives in C++ items (a ``QStandardItemModel``),
written when a record arrives or changes and only for the rows a visible view shows, so painting
never calls into Python (no GIL round trip per painted cell), and updates are cheap (a batch of
changed records rewrites the cells it touched, new records go straight to their sorted place, a
capped log drops its oldest rows in one go). The models sort themselves, without a proxy model.
Records are read back with ``record(row)``; rows sort on the raw value
(:meth:`RecordCells.sort_value`: numbers as floats, times as ms, text lower-cased).
"""
from __future__ import annotations

import weakref
from bisect import bisect_left, bisect_right
from dataclasses import dataclass
from typing import Any, Callable, Dict, Hashable, Iterable, List, Optional, Sequence

from PySide6.QtCore import QModelIndex, QSortFilterProxyModel, Qt
from PySide6.QtGui import QColor, QStandardItemModel

from . import fmt


GREEN = QColor("#26a69a")
RED = QColor("#ef5350")
AMBER = QColor("#e0a030")
MUTED = QColor("#8a94a6")

_LEFT = Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter
_RIGHT = Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter
_CENTER = Qt.AlignmentFlag.AlignCenter

# Cell kinds: how a raw value is shown, aligned and coloured.
TEXT, INT, PRICE, AMOUNT, MONEY, PNL, PCT, PNL_PCT, TIME, TIME_S, WALL, SIDE, LEVEL = (
    "text", "int", "price", "amount", "money", "pnl", "pct", "pnl_pct", "time", "time_s", "wall", "side", "level")
_SAMPLES = {
    INT: "12,345", PRICE: "43,012.55", AMOUNT: "0.00012345", MONEY: "12,345.67", PNL: "+1,234.56",
    PCT: "12.34 %", PNL_PCT: "+12.34 %", TIME: "2022-01-23 13:56", TIME_S: "2022-01-23 13:56:00",
    WALL: "17:50:54", SIDE: "SHORT", LEVEL: "warning",
}
_NUMERIC = {INT, PRICE, AMOUNT, MONEY, PNL, PCT, PNL_PCT, TIME, TIME_S, WALL}


@dataclass(frozen=True)
class Column:
    """One column: ``field`` is the record attribute read (or the name given to ``getter``'s value),
    ``kind`` one of the cell kinds above, ``align`` ``"left"``/``"right"``/``"center"`` (default:
    right for numbers), ``getter(record, model)`` computes the value when it is not an attribute."""

    field: str
    title: str
    kind: str = TEXT
    align: str = ""
    getter: Optional[Callable[[Any, "StoredTableModel"], Any]] = None
    tip: str = ""
    sample: str = ""  # a typical cell text, to size the column before any data arrives

    def sample_text(self) -> str:
        return self.sample or _SAMPLES.get(self.kind, "")

    def alignment(self):
        a = self.align or ("right" if self.kind in _NUMERIC else "left")
        return {"left": _LEFT, "right": _RIGHT, "center": _CENTER}[a]


def _pnl_colour(v) -> Optional[QColor]:
    if v is None or v == 0:
        return None
    return GREEN if v > 0 else RED


def _as_int(flag) -> int:
    return int(getattr(flag, "value", flag))


_NO_PARENT = QModelIndex()
# Roles as plain ints: Qt hands data() an int, and int == int is the cheapest test there is.
_DISPLAY = int(Qt.ItemDataRole.DisplayRole.value)
_ALIGN = int(Qt.ItemDataRole.TextAlignmentRole.value)
_FOREGROUND = int(Qt.ItemDataRole.ForegroundRole.value)
_TOOLTIP = int(Qt.ItemDataRole.ToolTipRole.value)
_RANK = int(Qt.ItemDataRole.UserRole) + 3  # a stored row's place, for a C++ re-sort
_COLOURED = frozenset({PNL, PNL_PCT, SIDE, LEVEL})
_DESC = Qt.SortOrder.DescendingOrder


class RecordCells:
    """What a record table shows and in which order, shared by the table models: cell values,
    texts, colours and tool tips from the declarative :class:`Column` list, and the bookkeeping of
    the view order (``_rows`` in arrival order, ``_perm``/``_keys`` the ascending sort order, read
    backwards when descending)."""

    def _src(self, view_row: int) -> int:
        perm = self._perm
        if perm is None:
            return view_row
        return perm[~view_row] if self._desc else perm[view_row]

    def _view_row(self, i: int) -> int:
        """The view row of row ``i`` (arrival order)."""
        perm = self._perm
        if perm is None:
            return i
        p = perm.index(i, bisect_left(self._keys, self._row_keys[i]))
        return len(perm) - 1 - p if self._desc else p

    def _build_order(self) -> None:
        if self._sort_col < 0:
            self._perm, self._keys, self._row_keys = None, [], []
            return
        col = self.columns[self._sort_col]
        sv = self.sort_value
        keys = self._row_keys = [sv(r, col) for r in self._rows]
        perm = self._perm = sorted(range(len(keys)), key=keys.__getitem__)
        self._keys = [keys[i] for i in perm]

    def value(self, row, col: Column):
        if col.getter is not None:
            return col.getter(row, self)
        return getattr(row, col.field, None)

    def sort_value(self, row, col: Column):
        """The raw value sorted on: a float for numbers, lower-case text."""
        v = self.value(row, col)
        if col.kind in _NUMERIC:
            return float(v) if v is not None else float("-inf")
        return "" if v is None else str(v).lower()

    def currency_of(self, row) -> str:
        sym = getattr(row, "symbol", "")
        return fmt.quote_of(sym) if sym else self.currency

    def display(self, row, col: Column, v) -> str:
        k = col.kind
        if k == TEXT:
            return "" if v is None else str(v)
        if v is None:
            return "–"
        if k == PRICE:
            return fmt.price(v)
        if k == AMOUNT:
            return fmt.amount(v)
        if k == MONEY:
            return fmt.money(v, self.currency_of(row))
        if k == PNL:
            return fmt.money(v, self.currency_of(row), sign=True)
        if k == PCT:
            return fmt.pct(v)
        if k == PNL_PCT:
            return fmt.pct(v, sign=True)
        if k == TIME:
            return fmt.utc_ms(v)
        if k == TIME_S:
            return fmt.utc_ms(v, seconds=True)
        if k == WALL:
            return fmt.wall_clock(v)
        if k == INT:
            return f"{v:,}"
        if k == SIDE:
            return str(v).upper()
        return str(v)

    def colour(self, row, col: Column):
        k = col.kind
        if k in (PNL, PNL_PCT):
            return _pnl_colour(self.value(row, col))
        if k == SIDE:
            v = self.value(row, col)
            return GREEN if v in ("long", "buy") else RED if v in ("short", "sell") else None
        if k == LEVEL:
            v = self.value(row, col)
            return RED if v == "error" else AMBER if v == "warning" else MUTED
        return None

    def tooltip(self, row, col: Column):
        return None

    # -- updates ------------------------------------------------------------------------------------
    def _index_new(self, new: List[Any], start: int) -> None:
        if self._key is not None:
            key = self._key
            index = self._index
            for i, r in enumerate(new, start):
                index[key(r)] = i

    def _reindex(self) -> None:
        if self._key is None:
            self._index = {}
        else:
            key = self._key
            self._index = {key(r): i for i, r in enumerate(self._rows)}


class StoredTableModel(RecordCells, QStandardItemModel):
    """A table of records whose cells live on the C++ side (a ``QStandardItemModel``).

    Python API (``records``/``record``/``row_of``/``upsert``/``append``/``remove_keys``/
    ``refresh_columns``/``set_records``, self-sorting, ``max_rows`` cap), but the display data of
    every row is written into C++ items when a record arrives or changes (its text, alignment,
    colour and tool tip), so painting a table never calls into Python: no ``data()`` override, no
    GIL round trip per painted cell (a Python ``data()`` must take the GIL back from the
    recorder's writer thread, which can hold it for a whole switch interval).

    The Python side keeps the records and the view order (see :class:`RecordCells`)
    (``_rows`` in arrival order, ``_perm``/``_keys`` the ascending sort order, read backwards
    when descending); C++ row ``v`` always shows ``_rows[_src(v)]``. New rows are inserted at
    their sorted place; a re-sort (header click, a changed sort key) stamps each row with its new
    rank and lets ``QStandardItemModel.sort`` move the rows in C++ (persistent indexes, hence the
    selection, follow their rows).
    """

    columns: Sequence[Column] = ()
    coloured_fields: frozenset = frozenset()
    cacheable = True  # kept for API compatibility: the C++ items are the cache
    eager = False  # True: every row's cells are written at once (small tables, no view watching)

    def __init__(self, parent=None, *, key: Optional[Callable[[Any], Hashable]] = None,
                 max_rows: Optional[int] = None, columns: Optional[Sequence[Column]] = None):
        if columns is not None:
            self.columns = tuple(columns)
        super().__init__(0, len(self.columns), parent)
        self._key = key
        self._rows: List[Any] = []
        self._index: Dict[Hashable, int] = {}
        self.max_rows = max_rows
        self.currency = ""
        # Left is the delegate's default alignment: only the other columns store one per cell.
        self._alignments = [None if c.alignment() == _LEFT else _as_int(c.alignment()) for c in self.columns]
        self._coloured = [c.kind in _COLOURED or c.field in self.coloured_fields for c in self.columns]
        self._tips = type(self).tooltip is not RecordCells.tooltip
        self._sort_col = -1
        self._desc = False
        self._perm: Optional[List[int]] = None
        self._keys: List[Any] = []
        self._row_keys: List[Any] = []
        self._done: List[bool] = []  # per row (arrival order): its C++ cells are written
        self._views: list = []  # weak references to the views watched (watch_view)
        self.setSortRole(_RANK)
        horizontal = Qt.Orientation.Horizontal
        for i, col in enumerate(self.columns):
            self.setHeaderData(i, horizontal, col.title, Qt.ItemDataRole.DisplayRole)
            self.setHeaderData(i, horizontal, _as_int(col.alignment()), Qt.ItemDataRole.TextAlignmentRole)
            if col.tip:
                self.setHeaderData(i, horizontal, col.tip, Qt.ItemDataRole.ToolTipRole)

    # -- C++ cells ------------------------------------------------------------------------------------
    def _cell(self, row, c: int, col: Column) -> dict:
        d = {_DISPLAY: self.display(row, col, self.value(row, col))}
        a = self._alignments[c]
        if a is not None:
            d[_ALIGN] = a
        if self._coloured[c]:
            colour = self.colour(row, col)
            if colour is not None:
                d[_FOREGROUND] = colour
        if self._tips:
            tip = self.tooltip(row, col)
            if tip:
                d[_TOOLTIP] = tip
        return d

    def _fill(self, view_rows: Iterable[int], cols: Optional[Sequence[int]] = None) -> None:
        """Write the cells of ``view_rows`` (all, or ``cols``) into their C++ items. Signals are
        blocked: the caller inserted the rows or emits dataChanged itself."""
        index, put, cell, rows, src, done = self.index, self.setItemData, self._cell, self._rows, self._src, self._done
        columns = self.columns
        cols = range(len(columns)) if cols is None else cols
        blocked = self.blockSignals(True)
        try:
            for v in view_rows:
                i = src(v)
                row = rows[i]
                for c in cols:
                    put(index(v, c), cell(row, c, columns[c]))
                done[i] = True
        finally:
            self.blockSignals(blocked)

    # -- lazy writing: only the rows a view shows -------------------------------------------------------
    # Writing a row's cells costs a few microseconds a cell; at max replay speed thousands of log
    # lines and orders arrive per second, most of them never looked at (a hidden tab, rows pushed
    # out of sight by newer ones). A row's cells are written when it is in (or near) the visible
    # part of a watched, visible view: after every change of the model, and when a view scrolls
    # (its scroll bar's signals), is shown or resized (the table's showEvent/resizeEvent, see
    # widgets.make_table). Python runs on those events, never on painting.
    MARGIN = 20  # rows written above the first visible row and below the last one

    def watch_view(self, view) -> None:
        """Keep the rows near ``view``'s visible part written (``view`` shows this model or a
        proxy of it)."""
        self._views.append(weakref.ref(view))
        sb = view.verticalScrollBar()
        sb.valueChanged.connect(self._on_scroll)
        sb.rangeChanged.connect(self._on_scroll)

    def _on_scroll(self, *_a) -> None:
        self.fill_views()

    def fill_views(self) -> None:
        """Write the rows not written yet near each watched view's visible part (every row, for
        an ``eager`` model)."""
        n = len(self._rows)
        if self.eager:
            self.fill_rows(range(n))
            return
        if not self._views or not n:
            return
        done, src = self._done, self._src
        todo = set()
        for ref in self._views:
            view = ref()
            if view is None:
                continue
            if not view.isVisible():
                continue
            vm = view.model()
            top = max(view.rowAt(0), 0)
            page = view.viewport().height() // max(1, view.verticalHeader().defaultSectionSize()) + 1
            lo, hi = max(0, top - self.MARGIN), top + page + self.MARGIN
            if vm is self:
                todo.update(v for v in range(lo, min(n, hi)) if not done[src(v)])
            elif vm is not None and getattr(vm, "sourceModel", lambda: None)() is self:
                pidx, to_src = vm.index, vm.mapToSource
                for r in range(lo, min(vm.rowCount(), hi)):
                    v = to_src(pidx(r, 0)).row()
                    if 0 <= v < n and not done[src(v)]:
                        todo.add(v)
        if todo:
            self._write(todo)

    def fill_rows(self, view_rows: Iterable[int]) -> None:
        """Write these rows now (e.g. every row a filter lets through, to read them all)."""
        done, src, n = self._done, self._src, len(self._rows)
        self._write({v for v in view_rows if 0 <= v < n and not done[src(v)]})

    def _write(self, todo) -> None:
        if todo:
            rows = sorted(todo)
            self._fill(rows)
            self.dataChanged.emit(self.index(rows[0], 0), self.index(rows[-1], len(self.columns) - 1))

    def _update_row(self, v: int, old, new) -> bool:
        """Rewrite the cells of view row ``v`` whose content differs between ``old`` and ``new``
        (every cell when ``new`` is ``old`` itself, updated in place)."""
        index, put, cell, columns = self.index, self.setItemData, self._cell, self.columns
        changed = False
        blocked = self.blockSignals(True)
        try:
            for c, col in enumerate(columns):
                d = cell(new, c, col)
                if old is None or old is new or d != cell(old, c, col):  # same object: changed in place
                    put(index(v, c), d)
                    changed = True
        finally:
            self.blockSignals(blocked)
        return changed

    def _apply_order(self, old_src: List[int]) -> None:
        """Move the C++ rows to the current ``_perm`` order; ``old_src[v]`` is the record that
        view row ``v`` showed before."""
        n = len(old_src)
        if n < 2:
            return
        if self._perm is None:
            inv = list(range(n))
        else:
            inv = [0] * n
            for a, i in enumerate(self._perm):
                inv[i] = n - 1 - a if self._desc else a
        if all(inv[i] == v for v, i in enumerate(old_src)):
            return
        index, put = self.index, self.setData
        blocked = self.blockSignals(True)
        try:
            for v, i in enumerate(old_src):
                put(index(v, 0), inv[i], _RANK)
        finally:
            self.blockSignals(blocked)
        QStandardItemModel.sort(self, 0, Qt.SortOrder.AscendingOrder)  # C++: a layout change

    def sort(self, column: int, order=Qt.SortOrder.AscendingOrder) -> None:  # noqa: A003 - Qt API
        """Called by a sorting view (header click, ``sortByColumn``); ``column`` -1: arrival order."""
        column = column if 0 <= column < len(self.columns) else -1
        desc = order == _DESC
        if column == self._sort_col and desc == self._desc:
            return
        old_src = [self._src(v) for v in range(len(self._rows))]
        self._sort_col, self._desc = column, desc
        self._build_order()
        self._apply_order(old_src)
        self.fill_views()

    def _relayout(self) -> None:
        old_src = [self._src(v) for v in range(len(self._rows))]
        self._build_order()
        self._apply_order(old_src)

    # -- updates ------------------------------------------------------------------------------------
    def records(self) -> List[Any]:
        """Every record, in arrival order (not the view's sort order)."""
        return list(self._rows)

    def record(self, row: int):
        """The record shown in view row ``row``."""
        return self._rows[self._src(row)]

    def row_of(self, key: Hashable) -> Optional[int]:
        """The view row showing ``key``'s record, or None."""
        i = self._index.get(key)
        return None if i is None else self._view_row(i)

    def set_records(self, records: Iterable[Any]) -> None:
        """Replace every row (a full reset: only for loading a history)."""
        rows = list(records)
        if self.max_rows is not None and len(rows) > self.max_rows:
            rows = rows[-self.max_rows:]
        self.beginResetModel()
        blocked = self.blockSignals(True)
        try:
            self._rows = rows
            self._done = [False] * len(rows)
            self._reindex()
            self._build_order()
            self.setRowCount(0)
            self.setRowCount(len(rows))
        finally:
            self.blockSignals(blocked)
        self.endResetModel()
        self.fill_views()

    def clear(self) -> None:  # not QStandardItemModel.clear(): the columns and headers stay
        self.set_records(())

    def upsert(self, records: Iterable[Any]) -> None:
        """Update rows whose key is known (only their changed cells are rewritten) and insert the
        others (at their sorted place)."""
        key = self._key
        new: List[Any] = []
        new_keys: Dict[Hashable, int] = {}
        sorting = self._perm is not None
        resort = False
        touched: Dict[int, tuple] = {}  # arrival index -> (view row before any re-sort, old record)
        for r in records:
            k = key(r) if key is not None else None
            i = self._index.get(k) if key is not None else None
            if i is not None:
                if i not in touched:
                    touched[i] = (self._view_row(i), self._rows[i])
                self._rows[i] = r
                if sorting:
                    sk = self.sort_value(r, self.columns[self._sort_col])
                    if sk != self._row_keys[i]:
                        resort = True
                        self._row_keys[i] = sk
            elif key is not None and k in new_keys:
                new[new_keys[k]] = r
            else:
                if key is not None:
                    new_keys[k] = len(new)
                new.append(r)
        if touched:
            last_col = len(self.columns) - 1
            index = self.index
            for i, (v, old) in touched.items():
                if self._done[i] and self._update_row(v, old, self._rows[i]) and not resort:
                    self.dataChanged.emit(index(v, 0), index(v, last_col))
            if resort:  # the rows' new texts are in place (at their old view rows): move them
                self._relayout()
                self.dataChanged.emit(index(0, 0), index(len(self._rows) - 1, last_col))
        if new:
            self._append(new)
        self.fill_views()

    def append(self, records: Sequence[Any]) -> None:
        """Append rows (keys, if any, are indexed); drops the oldest beyond ``max_rows``."""
        if records:
            self._append(list(records))
            self.fill_views()

    def _append(self, new: List[Any]) -> None:
        cap = self.max_rows
        if cap is not None and len(new) >= cap:
            self.set_records(new[-cap:])
            return
        if cap is not None and len(self._rows) + len(new) > cap:
            self._drop_oldest(len(self._rows) + len(new) - cap)
        start = len(self._rows)
        self._done.extend([False] * len(new))
        if self._perm is None:
            self._rows.extend(new)
            self._index_new(new, start)
            self._insert(start, len(new))
            return
        col = self.columns[self._sort_col]
        sv = self.sort_value
        new_keys = [sv(r, col) for r in new]
        keys, perm = self._keys, self._perm
        blocks: Dict[int, List[int]] = {}
        for j, k in enumerate(new_keys):
            blocks.setdefault(bisect_right(keys, k), []).append(j)
        if len(blocks) > 256:  # a big scattered batch: cheaper as one reset
            self.set_records(self._rows + new)
            return
        self._rows.extend(new)
        self._index_new(new, start)
        self._row_keys.extend(new_keys)
        for p in sorted(blocks, reverse=True):  # highest place first: the places found stay valid
            js = sorted(blocks[p], key=new_keys.__getitem__)  # stable: arrival order among equals
            n = len(perm)
            first = n - p if self._desc else p
            keys[p:p] = [new_keys[j] for j in js]
            perm[p:p] = [start + j for j in js]
            self._insert(first, len(js))

    def _insert(self, first: int, count: int) -> None:
        """Insert ``count`` empty C++ rows at view row ``first`` (the Python side is already
        updated; fill_views() writes those a view can show)."""
        self.insertRows(first, count)

    def _drop_oldest(self, drop: int) -> None:
        """Remove the ``drop`` oldest rows (the cap): one remove per run of view rows."""
        if self._perm is None:
            del self._rows[:drop]
            del self._done[:drop]
            self.removeRows(0, drop)
        else:
            n = len(self._perm)
            views = sorted((n - 1 - a if self._desc else a) for a, i in enumerate(self._perm) if i < drop)
            runs = []
            for v in views:
                if runs and v == runs[-1][1] + 1:
                    runs[-1][1] = v
                else:
                    runs.append([v, v])
            for first, last in reversed(runs):
                a0, a1 = (n - 1 - last, n - 1 - first) if self._desc else (first, last)
                del self._perm[a0:a1 + 1]
                del self._keys[a0:a1 + 1]
                n -= last - first + 1
                self.removeRows(first, last - first + 1)
            del self._rows[:drop]
            del self._row_keys[:drop]
            del self._done[:drop]
            self._perm = [i - drop for i in self._perm]
        if self._key is not None:
            self._reindex()

    def remove_keys(self, keys: Iterable[Hashable]) -> None:
        rows = sorted({self._index[k] for k in keys if k in self._index}, reverse=True)
        for i in rows:  # few rows (open positions); one remove each, highest first
            v = self._view_row(i)
            self._rows.pop(i)
            self._done.pop(i)
            if self._perm is not None:
                a = len(self._perm) - 1 - v if self._desc else v
                del self._perm[a]
                del self._keys[a]
                del self._row_keys[i]
                self._perm = [j - 1 if j > i else j for j in self._perm]
            self.removeRows(v, 1)
        if rows:
            self._reindex()
            self.fill_views()

    def refresh_columns(self, fields: Sequence[str]) -> None:
        """``fields`` changed on every row (e.g. live prices): their cells are rewritten, one
        dataChanged; a table sorted on one of them is re-sorted."""
        if not self._rows:
            return
        cols = [i for i, c in enumerate(self.columns) if c.field in fields]
        if cols:
            done, src = self._done, self._src
            self._fill([v for v in range(len(self._rows)) if done[src(v)]], cols)
            if self._sort_col in cols:
                self._relayout()
            self.dataChanged.emit(self.index(0, min(cols)), self.index(len(self._rows) - 1, max(cols)))
            self.fill_views()


# -- positions ------------------------------------------------------------------------------------
def _pos_pnl_pct(p, model) -> Optional[float]:
    basis = p.entry_price * (p.max_amount or p.amount)
    return p.net_pnl / basis if basis else None


class OpenPositionsModel(StoredTableModel):
    """Open positions of one connection, keyed by position id; current price and unrealized P&L
    come from the latest account snapshot's prices (:meth:`update_prices`)."""

    columns = (
        Column("symbol", "Symbol", sample="BTC/USD:USD"),
        Column("side", "Side", SIDE, "center"),
        Column("amount", "Amount", AMOUNT, tip="Open size in base currency"),
        Column("entry_price", "Entry price", PRICE, tip="Volume-weighted average entry"),
        Column("current", "Current price", PRICE, getter=lambda p, m: m.price_of(p)),
        Column("unrealized", "Unrealized P&L", PNL, getter=lambda p, m: m.unrealized(p),
               tip="Gross of fees, in the quote currency"),
        Column("unrealized_pct", "P&L %", PNL_PCT, getter=lambda p, m: m.unrealized_pct(p)),
        Column("stop_loss", "Stop-loss", PRICE),
        Column("take_profit", "Take-profit", PRICE),
        Column("fees", "Fees", MONEY),
        Column("opened_at", "Opened (UTC)", TIME),
        Column("id", "#", INT),
    )
    LIVE_FIELDS = ("current", "unrealized", "unrealized_pct")
    cacheable = True  # refresh_columns() and upserts drop the cached texts

    def __init__(self, parent=None):
        super().__init__(parent, key=lambda p: p.id)
        self._prices: Dict[str, float] = {}

    def price_of(self, p) -> float:
        return self._prices.get(p.symbol) or p.last_price

    def unrealized(self, p) -> float:
        px = self.price_of(p)
        if not px:
            return 0.0
        d = (px - p.entry_price) if p.side == "long" else (p.entry_price - px)
        return d * p.amount

    def unrealized_pct(self, p) -> Optional[float]:
        basis = p.entry_price * p.amount
        return self.unrealized(p) / basis if basis else None

    def update_prices(self, prices: Dict[str, float]) -> None:
        if prices:
            self._prices.update(prices)
            self.refresh_columns(self.LIVE_FIELDS)

    def apply(self, positions: Iterable[Any]) -> None:
        """Apply changed positions: open ones are upserted, closed ones removed."""
        opened, closed = [], []
        for p in positions:
            (closed if p.closed_at is not None else opened).append(p)
        if closed:
            self.remove_keys([p.id for p in closed])
        if opened:
            self.upsert(opened)

    def set_records(self, records) -> None:
        self._prices.clear()
        super().set_records(records)


class ClosedPositionsModel(StoredTableModel):
    """Closed positions (every run of a connection), newest appended; net P&L is after fees."""

    cacheable = True  # a closed position does not change any more

    columns = (
        Column("id", "#", INT, sample="1,234"),
        Column("symbol", "Symbol", sample="BTC/USD:USD"),
        Column("side", "Side", SIDE, "center"),
        Column("max_amount", "Amount", AMOUNT, tip="Largest size the position reached (base)"),
        Column("entry_price", "Entry", PRICE),
        Column("exit_price", "Exit", PRICE),
        Column("realized_pnl", "Realized P&L", PNL, tip="Gross of fees"),
        Column("fees", "Fees", MONEY),
        Column("net_pnl", "Net P&L", PNL, getter=lambda p, m: p.net_pnl, tip="Realized P&L minus fees"),
        Column("net_pct", "P&L %", PNL_PCT, getter=_pos_pnl_pct, tip="Net P&L over the entry notional"),
        Column("opened_at", "Opened (UTC)", TIME),
        Column("closed_at", "Closed (UTC)", TIME),
        Column("close_reason", "Close reason", sample="exit: fast crossed below slow"),
    )

    def __init__(self, parent=None, max_rows: int = 50_000):
        # Ids restart with each run, so the key adds the opening time and symbol.
        super().__init__(parent, key=lambda p: (p.id, p.opened_at, p.symbol), max_rows=max_rows)

    def apply(self, positions: Iterable[Any]) -> None:
        closed = [p for p in positions if p.closed_at is not None]
        if closed:
            closed.sort(key=lambda p: (p.closed_at, p.id))
            self.upsert(closed)


# -- orders ---------------------------------------------------------------------------------------
class OrdersModel(StoredTableModel):
    """Orders of the current session, keyed by client order id (latest state of each)."""

    cacheable = True  # an order's texts are recomputed when its next version is upserted

    coloured_fields = frozenset({"state"})

    columns = (
        Column("timestamp", "Time (UTC)", TIME),
        Column("clientOrderId", "Client id", sample="cts-12-1234"),
        Column("symbol", "Symbol", sample="BTC/USD:USD"),
        Column("side", "Side", SIDE, "center"),
        Column("type", "Type"),
        Column("amount", "Amount", AMOUNT),
        Column("filled", "Filled", AMOUNT),
        Column("average", "Avg price", PRICE),
        Column("fee", "Fee", MONEY),
        Column("state", "State", sample="partially-filled"),
        Column("reason", "Reason", sample="take-profit"),
        Column("position_id", "Position", INT),
    )

    def __init__(self, parent=None, max_rows: int = 20_000):
        super().__init__(parent, key=lambda o: o.clientOrderId, max_rows=max_rows)

    def colour(self, row, col):
        if col.field == "state":
            return RED if row.state == "failed" or row.error else GREEN if row.state == "filled" else AMBER
        return super().colour(row, col)

    def tooltip(self, row, col):
        return row.error or None


# -- activity log ---------------------------------------------------------------------------------
def _first_line(e, model) -> str:
    msg = e.message
    i = msg.find("\n")
    return msg if i < 0 else msg[:i] + "  …"


class LogModel(StoredTableModel):
    """Engine log lines (``LogEvent``), oldest first, capped at ``max_rows`` (oldest dropped).

    The time column is market time (UTC); lines logged before the first candle have none and show
    the wall-clock time instead (the "Logged" column is always the local wall clock)."""

    cacheable = True
    coloured_fields = frozenset({"message", "category"})

    columns = (
        Column("timestamp", "Market time (UTC)", TIME_S, "left",
               getter=lambda e, m: e.timestamp or (int(e.wall_time * 1000) if e.wall_time else None)),
        Column("wall_time", "Logged", WALL, "left", tip="Local wall-clock time the line was written"),
        Column("category", "Category", sample="position"),
        Column("level", "Level", LEVEL),
        Column("message", "Message", getter=_first_line),
    )

    def __init__(self, parent=None, max_rows: int = 20_000):
        super().__init__(parent, max_rows=max_rows)

    def colour(self, row, col):
        if col.field == "message" and row.level != "info":
            return RED if row.level == "error" else AMBER
        if col.field == "category":
            return RED if row.category == "error" else None
        return super().colour(row, col)

    def tooltip(self, row, col):
        if col.field == "message" and ("\n" in row.message or len(row.message) > 80):
            return row.message
        return None


class LogFilterProxy(QSortFilterProxyModel):
    """Filters a :class:`LogModel` by category set, minimum level and a case-insensitive text."""

    LEVELS = {"info": 0, "warning": 1, "error": 2}

    def __init__(self, source: LogModel, parent=None):
        super().__init__(parent)
        self.setSourceModel(source)
        self._src = source
        self._categories: Optional[set] = None
        self._min_level = 0
        self._text = ""

    def set_filter(self, categories: Optional[Iterable[str]] = None, min_level: str = "info", text: str = "") -> None:
        new_filter = hasattr(self, "beginFilterChange")  # Qt >= 6.9; invalidateFilter() is deprecated
        if new_filter:
            self.beginFilterChange()
        self._categories = set(categories) if categories is not None else None
        self._min_level = self.LEVELS.get(min_level, 0)
        self._text = text.strip().lower()
        if new_filter:
            self.endFilterChange(QSortFilterProxyModel.Direction.Rows)
        else:
            self.invalidateFilter()

    @property
    def active(self) -> bool:
        return self._categories is not None or self._min_level > 0 or bool(self._text)

    def filterAcceptsRow(self, source_row: int, source_parent) -> bool:  # noqa: N802 - Qt API
        if not self.active:
            return True
        e = self._src._rows[source_row]
        if self._categories is not None and e.category not in self._categories:
            return False
        if self._min_level and self.LEVELS.get(e.level, 0) < self._min_level:
            return False
        if self._text and self._text not in e.message.lower() and self._text not in e.category:
            return False
        return True


__all__ = [
    "Column", "RecordCells", "StoredTableModel", "OpenPositionsModel", "ClosedPositionsModel", "OrdersModel",
    "LogModel", "LogFilterProxy", "GREEN", "RED", "AMBER", "MUTED",
]
