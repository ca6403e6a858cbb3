"""Activity tab: engine state at a glance and the filterable engine log.

The log keeps the newest :data:`MAX_LOG_LINES` lines in memory (the database keeps them all).
Filters: categories (a drop-down of checkable entries), minimum level, and a case-insensitive text search.
"""
from __future__ import annotations

import time
from typing import Dict, Iterable, List, Optional

from PySide6.QtCore import QTimer
from PySide6.QtGui import QAction
from PySide6.QtWidgets import (QCheckBox, QComboBox, QHBoxLayout, QLabel, QLineEdit, QMenu, QToolButton,
                               QVBoxLayout, QWidget)

from ..core.events import LOG_CATEGORIES
from . import fmt, heap
from .budget_gauge import BudgetGauge
from .models import LogFilter, LogModel
from .widgets import EngineControls, StatePill, fit_columns, make_table

MAX_LOG_LINES = 100_000
APPEND_CHUNK = 2_000  # a bigger batch of lines is added this many per turn of the event loop

LEVEL_CHOICES = (("All levels", "info"), ("Warnings and errors", "warning"), ("Errors only", "error"))


class ActivityTab(QWidget):
    def __init__(self, actions, parent=None):
        super().__init__(parent)
        self.controls = EngineControls(actions)
        self.state = StatePill()
        self.trades = QLabel("Trades: –")
        self.trades.setObjectName("InfoLabel")
        self.market_time = QLabel("Market time: –")
        self.market_time.setObjectName("InfoLabel")
        self.last_update = QLabel("Last update: never")
        self.last_update.setObjectName("InfoLabel")
        self.reason = QLabel()
        self.reason.setObjectName("ErrorText")
        self.reason.setWordWrap(True)
        self.reason.setVisible(False)
        self._last_wall: Optional[float] = None

        head = QHBoxLayout()
        head.setSpacing(16)
        head.addWidget(self.controls)
        head.addWidget(self.state)
        head.addStretch(1)
        info = QVBoxLayout()
        info.setSpacing(0)
        line1 = QHBoxLayout()
        line1.setSpacing(16)
        line1.addStretch(1)
        line1.addWidget(self.trades)
        line1.addWidget(self.market_time)
        info.addLayout(line1)
        line2 = QHBoxLayout()
        line2.setSpacing(16)
        line2.addStretch(1)
        self.budget = BudgetGauge()
        line2.addWidget(self.budget)
        line2.addWidget(self.last_update)
        info.addLayout(line2)
        head.addLayout(info)

        # filters: categories in a drop-down of checkable entries, minimum level, text search
        self.categories = QToolButton()
        self.categories.setObjectName("CategoryFilter")
        self.categories.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        menu = QMenu(self.categories)
        self.category_actions: Dict[str, QAction] = {}
        for cat in LOG_CATEGORIES:
            a = menu.addAction(cat)
            a.setCheckable(True)
            a.setChecked(True)
            a.toggled.connect(self._filters_changed)
            self.category_actions[cat] = a
        menu.addSeparator()
        menu.addAction("Show all categories", self._all_categories)
        self.categories.setMenu(menu)
        self._update_category_text()
        self.level = QComboBox()
        self.level.setObjectName("LevelFilter")
        for title, lv in LEVEL_CHOICES:
            self.level.addItem(title, lv)
        self.level.currentIndexChanged.connect(self._filters_changed)
        self.search = QLineEdit()
        self.search.setObjectName("LogSearch")
        self.search.setPlaceholderText("Search the log…")
        self.search.setClearButtonEnabled(True)
        self.search.setMinimumWidth(160)
        self._search_timer = QTimer(self)
        self._search_timer.setSingleShot(True)
        self._search_timer.setInterval(200)
        self._search_timer.timeout.connect(self._filters_changed)
        self.search.textChanged.connect(lambda _t: self._search_timer.start())
        self.follow = QCheckBox("Follow")
        self.follow.setToolTip("Keep the newest line in view")
        self.follow.setChecked(True)
        self.count = QLabel()
        self.count.setObjectName("Hint")

        filt = QHBoxLayout()
        filt.setSpacing(10)
        filt.addWidget(self.categories)
        filt.addWidget(self.level)
        filt.addWidget(self.search, 1)
        filt.addWidget(self.follow)

        self.model = LogModel(self, max_rows=MAX_LOG_LINES)
        # A filter shows a second model holding the matching lines (selected in one Python loop,
        # then written lazily like the first), not a proxy: a QSortFilterProxyModel calls Python
        # once per row (0.34 s for 100,000 lines) and on every insert.
        self.filter = LogFilter()
        self.filtered = LogModel(self, max_rows=MAX_LOG_LINES)
        self.table = make_table(self.model, name="LogTable", sortable=False)
        self.filtered.watch_view(self.table)
        self.table.setSelectionMode(self.table.SelectionMode.ExtendedSelection)
        fit_columns(self.table, minimum=70)
        hh = self.table.horizontalHeader()
        hh.resizeSection(0, 160)
        hh.resizeSection(1, 80)
        hh.resizeSection(2, 90)
        hh.resizeSection(3, 70)

        lay = QVBoxLayout(self)
        lay.setContentsMargins(12, 10, 12, 10)
        lay.setSpacing(8)
        lay.addLayout(head)
        lay.addWidget(self.reason)
        lay.addLayout(filt)
        lay.addWidget(self.table, 1)
        lay.addWidget(self.count)

        # a burst of lines (a max-speed replay: up to 100,000 in one bridge tick) is added in
        # chunks, one per turn of the loop, so the window never waits for all of it at once
        self._queue: List = []
        self._drain_timer = QTimer(self)
        self._drain_timer.setSingleShot(True)
        self._drain_timer.setInterval(0)
        self._drain_timer.timeout.connect(self._drain)

        self._clock = QTimer(self)
        self._clock.setInterval(1000)
        self._clock.timeout.connect(self._tick)
        self._clock.start()
        self._update_count()

    # -- filters --------------------------------------------------------------------------------------
    def _all_categories(self) -> None:
        for a in self.category_actions.values():
            a.blockSignals(True)
            a.setChecked(True)
            a.blockSignals(False)
        self._filters_changed()

    def _update_category_text(self) -> None:
        chosen = [c for c, a in self.category_actions.items() if a.isChecked()]
        if len(chosen) == len(self.category_actions):
            text = "All categories"
        elif not chosen:
            text = "No categories"
        elif len(chosen) <= 2:
            text = ", ".join(chosen)
        else:
            text = f"{len(chosen)} categories"
        self.categories.setText(text)

    def set_filter(self, categories: Optional[Iterable[str]] = None, level: str = "info", text: str = "") -> None:
        """Set the filters programmatically (``categories`` None = all)."""
        cats = set(categories) if categories is not None else set(LOG_CATEGORIES)
        for cat, a in self.category_actions.items():
            a.blockSignals(True)
            a.setChecked(cat in cats)
            a.blockSignals(False)
        self.level.blockSignals(True)
        self.level.setCurrentIndex(max(self.level.findData(level), 0))
        self.level.blockSignals(False)
        self.search.blockSignals(True)
        self.search.setText(text)
        self.search.blockSignals(False)
        self._filters_changed()

    def _filters_changed(self, *_a) -> None:
        self._update_category_text()
        chosen = {c for c, a in self.category_actions.items() if a.isChecked()}
        cats = None if chosen == set(LOG_CATEGORIES) else chosen
        self.filter = LogFilter(cats, self.level.currentData() or "info", self.search.text())
        if self.filter.active:
            self.filtered.set_records(self.filter.select(self.model.records()))
        else:
            self.filtered.clear()
        self._show(self.filtered if self.filter.active else self.model)
        self._update_count()
        if self.follow.isChecked():
            self.table.scrollToBottom()
        self.table.model().fill_views()  # the lines now in view (cells are written lazily)

    @property
    def proxy(self) -> LogModel:
        """The filtered lines' model (the name of the proxy model it replaced)."""
        return self.filtered

    def _show(self, model: LogModel) -> None:
        """Show ``model`` in the table; the column widths and order survive the switch."""
        if self.table.model() is not model:
            hh = self.table.horizontalHeader()
            state = hh.saveState()
            self.table.setModel(model)
            self.table.fill_model = model
            hh.restoreState(state)

    # -- data ----------------------------------------------------------------------------------------
    def load(self, lines: Iterable) -> None:
        self._queue = []
        self._drain_timer.stop()
        self.model.set_records(list(lines))
        if self.filter.active:
            self.filtered.set_records(self.filter.select(self.model.records()))
        self._after_append()

    @property
    def pending(self) -> int:
        """Lines received but not in the table yet (a burst being added chunk by chunk)."""
        return len(self._queue)

    def append(self, lines: list) -> None:
        if self._queue or len(lines) > APPEND_CHUNK:
            self._queue.extend(lines)
            if len(self._queue) > MAX_LOG_LINES:  # older ones would be dropped at once anyway
                del self._queue[:len(self._queue) - MAX_LOG_LINES]
            if not self._drain_timer.isActive():
                self._drain_timer.start()
            return
        self._add(lines)

    def _drain(self) -> None:
        chunk = self._queue[:APPEND_CHUNK]
        del self._queue[:APPEND_CHUNK]
        self._add(chunk)
        if self._queue:
            self._drain_timer.start()
        else:
            heap.settle()  # the burst is in the table now: keep it out of the GC's full passes

    def _add(self, lines: list) -> None:
        if self.filter.active:
            # the filtered lines are those of the log's lines that match: what the log drops
            # (its oldest, beyond the cap) leaves the filtered view too
            over = self.model.rowCount() + len(lines) - (self.model.max_rows or 0)
            gone = len(self.filter.select(self.model.oldest(over))) if self.model.max_rows and over > 0 else 0
            self.filtered.drop_oldest(gone)
            self.filtered.append(self.filter.select(lines[-self.model.max_rows:] if self.model.max_rows else lines))
        self.model.append(lines)
        self._after_append()

    def _after_append(self) -> None:
        self._update_count()
        if self.follow.isChecked() and self.isVisible():
            self.table.scrollToBottom()

    def _update_count(self) -> None:
        total = self.model.rowCount()
        cap = f" (newest {MAX_LOG_LINES:,} kept in view; all are in the database)" if total >= MAX_LOG_LINES else ""
        if self.filter.active:
            self.count.setText(f"{self.filtered.rowCount():,} matching of {total:,} lines{cap}")
        else:
            self.count.setText(f"{total:,} lines{cap}")

    def showEvent(self, event) -> None:  # noqa: N802
        super().showEvent(event)
        if self.follow.isChecked():
            self.table.scrollToBottom()

    # -- status --------------------------------------------------------------------------------------
    def set_state(self, state: str, reason: str = "") -> None:
        self.state.set_state(state, reason)
        show = state == "error" and bool(reason)
        self.reason.setText(f"Engine error: {reason}" if show else "")
        self.reason.setVisible(show)

    def set_figures(self, trades: Optional[int], market_ts: int = 0) -> None:
        self.trades.setText(f"Trades: {trades:,}" if trades is not None else "Trades: –")
        if market_ts:
            self.market_time.setText(f"Market time: {fmt.utc_ms(market_ts)} UTC")

    def set_last_update(self, wall: Optional[float]) -> None:
        self._last_wall = wall
        self._tick()

    def _tick(self) -> None:
        w = self._last_wall
        self.last_update.setText(f"Last update: {fmt.wall_clock(w)} ({fmt.ago(w, time.time())})" if w
                                 else "Last update: never")
        self.last_update.setToolTip("Wall-clock time the engine last processed market data")
