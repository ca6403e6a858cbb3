"""The table model every table of the app is: :class:`StoredTableModel`, records in Python, their
cells in C++ items (a ``QStandardItemModel``), sorted by itself, capped, updated in place."""
from __future__ import annotations

from bisect import bisect_right
from typing import Any, Callable, Dict, Hashable, Iterable, List, Optional, Sequence

from PySide6.QtCore import Qt
from PySide6.QtGui import QStandardItemModel

from .cells import (_ALIGN, _COLOURED, _DESC, _DISPLAY, _FOREGROUND, _LEFT, _TOOLTIP, Column, RecordCells,
                    _as_int)
from .rows import RowBook
from .viewfill import ViewFilling


class StoredTableModel(ViewFilling, RowBook, RecordCells, QStandardItemModel):
    """A table of records whose cells live on the C++ side (a ``QStandardItemModel``).

    Python API (``records``/``record``/``row_of``/``upsert``/``append``/``remove_keys``/
    ``refresh_columns``/``set_records``, self-sorting, ``max_rows`` cap), but the display data of
    every row is written into C++ items when a record arrives or changes (its text, alignment,
    colour and tool tip), so painting a table never calls into Python: no ``data()`` override, no
    GIL round trip per painted cell (a Python ``data()`` must take the GIL back from the
    recorder's writer thread, which can hold it for a whole switch interval).

    The Python side keeps the records and the view order (see :class:`~.rows.RowBook`: records
    by arrival serial, so removals never renumber); C++ row ``v`` always shows
    ``_rows[_src(v)]``, and ``_done[v]`` says whether
    its cells are written. New rows are inserted at their sorted place. A re-sort (header click,
    a changed sort key) is a Python sort of the column's keys and one layout change: persistent
    indexes (the selection) are moved to their records' new rows, the cells written before are
    cleared, and only the rows a view shows are written again. (Moving the C++ rows instead, by
    stamping a rank per row and ``QStandardItemModel.sort``, costs O(rows^2): every
    ``QStandardItem::setData`` looks its index up again; 13 s for 50,000 rows.)
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
        self._init_book()
        self.max_rows = max_rows
        self.currency = ""
        # Left is the delegate's default alignment: only the other columns store one per cell.
        self._alignments = [None if c.alignment() == _LEFT else _as_int(c.alignment()) for c in self.columns]
        self._coloured = [c.kind in _COLOURED or c.field in self.coloured_fields for c in self.columns]
        self._tips = type(self).tooltip is not RecordCells.tooltip
        self._sort_col = -1
        self._desc = False
        self._done: List[bool] = []  # per view row: its C++ cells are written
        self._views: list = []  # weak references to the views watched (watch_view)
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
                row = rows[src(v)]
                for c in cols:
                    put(index(v, c), cell(row, c, columns[c]))
                done[v] = True
        finally:
            self.blockSignals(blocked)

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

    def _apply_order(self, old_src: List[int]) -> bool:
        """Show the current ``_perm`` order; ``old_src[v]`` is the record view row ``v`` showed
        before. One layout change: persistent indexes follow their records, the written cells
        are cleared (they belong to other records now) and the rows in view are written again."""
        n = len(old_src)
        if n < 2:
            return False
        if self._view_order() == old_src:
            return False
        self.layoutAboutToBeChanged.emit()
        persistent = self.persistentIndexList()  # the selection, the current row: a few
        if persistent:
            index, where = self.index, self._view_row
            self.changePersistentIndexList(
                persistent, [index(where(old_src[p.row()]), p.column()) if 0 <= p.row() < n else p
                             for p in persistent])
        self._clear_written()
        self.layoutChanged.emit()
        return True

    def _clear_written(self) -> None:
        """Clear the C++ cells written so far (after a re-order they show other records)."""
        done = self._done
        clear, index, ncols = self.clearItemData, self.index, len(self.columns)
        blocked = self.blockSignals(True)
        try:
            for v, d in enumerate(done):
                if d:
                    for c in range(ncols):
                        clear(index(v, c))
        finally:
            self.blockSignals(blocked)
        self._done = [False] * len(done)

    def sort(self, column: int, order=Qt.SortOrder.AscendingOrder) -> None:  # noqa: A003 - Qt API
        """Called by a sorting view (header click, ``sortByColumn``); ``column`` -1: arrival order."""
        column = column if 0 <= column < len(self.columns) else -1
        desc = order == _DESC
        if column == self._sort_col and desc == self._desc:
            return
        old_src = self._view_order()
        self._sort_col, self._desc = column, desc
        self._build_order()
        self._apply_order(old_src)
        self.fill_views()

    def _relayout(self) -> None:
        old_src = self._view_order()
        self._build_order()
        self._apply_order(old_src)

    # -- updates ------------------------------------------------------------------------------------
    def records(self) -> List[Any]:
        """Every record, in arrival order (not the view's sort order)."""
        return list(self._rows.values())

    def record(self, row: int):
        """The record shown in view row ``row``."""
        return self._rows[self._src(row)]

    def row_of(self, key: Hashable) -> Optional[int]:
        """The view row showing ``key``'s record, or None."""
        s = self._index.get(key)
        return None if s is None else self._view_row(s)

    def set_records(self, records: Iterable[Any]) -> None:
        """Replace every row (a full reset: only for loading a history)."""
        rows = list(records)
        if self.max_rows is not None and len(rows) > self.max_rows:
            rows = rows[-self.max_rows:]
        self.beginResetModel()
        blocked = self.blockSignals(True)
        try:
            self._reset_rows(rows)
            self._done = [False] * len(rows)
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
        touched: Dict[int, tuple] = {}  # serial -> (view row before any re-sort, old record)
        for r in records:
            k = key(r) if key is not None else None
            s = self._index.get(k) if key is not None else None
            if s is not None:
                if s not in touched:
                    touched[s] = (self._view_row(s), self._rows[s])
                self._rows[s] = r
                if sorting:
                    sk = self.sort_value(r, self.columns[self._sort_col])
                    if sk != self._row_keys[s]:
                        resort = True
                        self._row_keys[s] = sk
            elif key is not None and k in new_keys:
                new[new_keys[k]] = r
            else:
                if key is not None:
                    new_keys[k] = len(new)
                new.append(r)
        if touched:
            last_col = len(self.columns) - 1
            index = self.index
            for s, (v, old) in touched.items():
                if self._done[v] and self._update_row(v, old, self._rows[s]) and not resort:
                    self.dataChanged.emit(index(v, 0), index(v, last_col))
            if resort:  # the rows' new texts are in place (at their old view rows): re-order
                self._relayout()
                self.dataChanged.emit(index(0, 0), index(len(self._order) - 1, last_col))
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
        if cap is not None and len(self._order) + len(new) > cap:
            self._drop_oldest(len(self._order) + len(new) - cap)
        if self._perm is None:
            start = len(self._order)
            self._add_rows(new)
            self._done.extend([False] * len(new))
            self.insertRows(start, len(new))
            return
        col = self.columns[self._sort_col]
        sv = self.sort_value
        new_keys = [sv(r, col) for r in new]
        keys, perm = self._keys, self._perm
        blocks: Dict[int, List[int]] = {}
        for j, k in enumerate(new_keys):
            blocks.setdefault(bisect_right(keys, k), []).append(j)
        if len(blocks) > 256:  # a big scattered batch: cheaper as one reset
            self.set_records(self.records() + new)
            return
        serials = self._add_rows(new)
        self._row_keys.update(zip(serials, new_keys, strict=True))
        for p in sorted(blocks, reverse=True):  # highest place first: the places found stay valid
            js = sorted(blocks[p], key=new_keys.__getitem__)  # stable: arrival order among equals
            n = len(perm)
            first = n - p if self._desc else p
            keys[p:p] = [new_keys[j] for j in js]
            perm[p:p] = [serials[j] for j in js]
            self._done[first:first] = [False] * len(js)
            self.insertRows(first, len(js))

    def _remove_view_rows(self, views: List[int]) -> None:
        """Remove the C++ rows ``views`` (and their places in ``_perm``): one remove per run of
        adjacent rows, highest first."""
        runs: List[List[int]] = []
        for v in sorted(views):
            if runs and v == runs[-1][1] + 1:
                runs[-1][1] = v
            else:
                runs.append([v, v])
        perm, keys = self._perm, self._keys
        for first, last in reversed(runs):
            if perm is not None:
                n = len(perm)
                a0, a1 = (n - 1 - last, n - 1 - first) if self._desc else (first, last)
                del perm[a0:a1 + 1]
                del keys[a0:a1 + 1]
            del self._done[first:last + 1]
            self.removeRows(first, last - first + 1)

    def _drop_oldest(self, drop: int) -> None:
        """Remove the ``drop`` oldest rows (the cap)."""
        gone = self._order[:drop]
        if self._perm is None:
            del self._done[:drop]
            self.removeRows(0, drop)
        else:
            self._remove_view_rows([self._view_row(s) for s in gone])
        self._forget(gone)

    def oldest(self, n: int) -> List[Any]:
        """The ``n`` oldest records (arrival order)."""
        rows = self._rows
        return [rows[s] for s in self._order[:max(0, n)]]

    def drop_oldest(self, n: int) -> None:
        """Remove the ``n`` oldest records."""
        n = min(n, len(self._order))
        if n > 0:
            self._drop_oldest(n)
            self.fill_views()

    def remove_keys(self, keys: Iterable[Hashable]) -> None:
        serials = sorted({self._index[k] for k in keys if k in self._index})
        if serials:
            self._remove_view_rows([self._view_row(s) for s in serials])
            self._forget(serials)
            self.fill_views()

    def refresh_columns(self, fields: Sequence[str]) -> None:
        """``fields`` changed on every row (e.g. live prices): their cells are rewritten, one
        dataChanged; a table sorted on one of them is re-sorted."""
        if not self._order:
            return
        cols = [i for i, c in enumerate(self.columns) if c.field in fields]
        if cols:
            if self._sort_col in cols:
                old_src = self._view_order()
                self._build_order()
                if not self._apply_order(old_src):  # same order: rewrite the cells written
                    self._fill([v for v, d in enumerate(self._done) if d], cols)
            else:
                self._fill([v for v, d in enumerate(self._done) if d], cols)
            self.dataChanged.emit(self.index(0, min(cols)), self.index(len(self._order) - 1, max(cols)))
            self.fill_views()
