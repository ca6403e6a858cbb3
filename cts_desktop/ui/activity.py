"""Activity tab: engine state at a glance and the filterable engine log.

The log keeps the newest :data:`MAX_LOG_LINES` lines in memory (the database keeps them all).
Filters: categories (a drop-down of checkable entries), minimum level, and a case-insensitive text search.
"""
from __future__ import annotations

import time
from typing import Dict, Iterable, Optional

from PySide6.QtCore import QTimer
from PySide6.QtGui import QAction
from PySide6.QtWidgets import (QCheckBox, QComboBox, QHBoxLayout, QLabel, QLineEdit, QMenu, QToolButton,
                               QVBoxLayout, QWidget)

from ..core.events import LOG_CATEGORIES
from . import fmt
from .models import LogFilterProxy, LogModel
from .widgets import EngineControls, StatePill, fit_columns, make_table

MAX_LOG_LINES = 20_000

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
        line2.addStretch(1)
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
        self.proxy = LogFilterProxy(self.model, self)
        # Unfiltered (the usual case) the table shows the model itself and the proxy is detached:
        # a proxy over a Python model costs Python calls for every row inserted and several per
        # painted cell. The proxy is attached and shown while a filter is active (_use_proxy).
        self.proxy.setSourceModel(None)
        self.table = make_table(self.model, name="LogTable", sortable=False)
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
        self._use_proxy(cats is not None or (self.level.currentData() or "info") != "info"
                        or bool(self.search.text().strip()))
        self.proxy.set_filter(cats, self.level.currentData() or "info", self.search.text())
        if self.proxy.sourceModel() is not None:  # filtered: write every line shown (the C++ cells)
            proxy, index = self.proxy, self.proxy.index
            self.model.fill_rows(proxy.mapToSource(index(r, 0)).row() for r in range(proxy.rowCount()))
        self._update_count()
        if self.follow.isChecked():
            self.table.scrollToBottom()
        self.model.fill_views()  # the lines now in view (the model's C++ cells are written lazily)

    def _use_proxy(self, filtered: bool) -> None:
        """Show the filter proxy (attached to the model) or the model itself (proxy detached);
        the column widths and order survive the switch."""
        want = self.proxy if filtered else self.model
        if filtered and self.proxy.sourceModel() is None:
            self.proxy.setSourceModel(self.model)
        if self.table.model() is not want:
            hh = self.table.horizontalHeader()
            state = hh.saveState()
            self.table.setModel(want)
            hh.restoreState(state)
        if not filtered and self.proxy.sourceModel() is not None:
            self.proxy.setSourceModel(None)

    # -- data ----------------------------------------------------------------------------------------
    def load(self, lines: Iterable) -> None:
        self.model.set_records(list(lines))
        self._after_append()

    def append(self, lines: list) -> None:
        self.model.append(lines)
        self._after_append()

    def _after_append(self) -> None:
        self._update_count()
        if self.follow.isChecked() and self.isVisible():
            self.table.scrollToBottom()

    def _update_count(self) -> None:
        total = self.model.rowCount()
        shown = self.proxy.rowCount() if self.proxy.sourceModel() is not None else total
        cap = f" (newest {MAX_LOG_LINES:,} kept in view; all are in the database)" if total >= MAX_LOG_LINES else ""
        self.count.setText(f"{shown:,} of {total:,} lines{cap}" if self.proxy.active else f"{total:,} lines{cap}")

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
