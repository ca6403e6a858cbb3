"""Lazy writing of a stored table's cells: only the rows a view shows (or is about to show).

Writing a row's cells costs a few microseconds a cell; at max replay speed thousands of log
lines and orders arrive per second, most of them never looked at (a hidden tab, rows pushed
out of sight by newer ones). A row's cells are written when it is in (or near) the visible
part of a watched, visible view: after every change of the model, and when a view scrolls
(its scroll bar's signals), is shown or resized (the table's showEvent/resizeEvent, see
widgets.make_table). Python runs on those events, never on painting.
"""
from __future__ import annotations

import weakref
from typing import Iterable


class ViewFilling:
    """Mixin of :class:`~.stored.StoredTableModel`: which rows to write, driven by the views
    watched. Uses the model's ``_rows``, ``_done`` (per view row: its cells are written),
    ``_views`` and ``_fill`` (writes cells)."""

    MARGIN = 8  # rows written above the first visible row and below the last one

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
        done = self._done
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
                todo.update(v for v in range(lo, min(n, hi)) if not done[v])
            elif vm is not None and getattr(vm, "sourceModel", lambda: None)() is self:
                pidx, to_src = vm.index, vm.mapToSource
                for r in range(lo, min(vm.rowCount(), hi)):
                    v = to_src(pidx(r, 0)).row()
                    if 0 <= v < n and not done[v]:
                        todo.add(v)
        if todo:
            self._write(todo)

    def fill_rows(self, view_rows: Iterable[int]) -> None:
        """Write these rows now (e.g. every row a filter lets through, to read them all)."""
        done, n = self._done, len(self._rows)
        self._write({v for v in view_rows if 0 <= v < n and not done[v]})

    def _write(self, todo) -> None:
        if todo:
            rows = sorted(todo)
            self._fill(rows)
            self.dataChanged.emit(self.index(rows[0], 0), self.index(rows[-1], len(self.columns) - 1))
