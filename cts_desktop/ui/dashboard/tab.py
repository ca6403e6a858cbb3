"""The Dashboard tab: one :class:`~.card.ConnectionCard` per active connection, side by side as the
width allows, each following its own connection's engine through the bridge (whichever connection
the toolbar shows). Start / Stop run the services' engine commands for that card's connection
(other engines keep running); Kill asks with the kill switch's own words and then kills that
connection only (:func:`cts_desktop.ui.kill_switch.ask_kill`). The figures are the service's
(:class:`~cts_desktop.services.dashboard.DashboardService`)."""
from __future__ import annotations

import logging
from typing import Dict, Optional, Set

from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import (QFrame, QGridLayout, QHBoxLayout, QLabel, QPushButton, QScrollArea, QVBoxLayout,
                               QWidget)

from ...core import events as ev
from ...services.dashboard import DashboardService
from .. import theme
from .active_dialog import ActiveConnectionsDialog
from .card import CARD_WIDTH, ConnectionCard
from .style import sheet

log = logging.getLogger(__name__)

GAP = 12


class DashboardTab(QWidget):
    """The Dashboard of main window ``win`` (its services, bridge, kill switch and banner)."""

    def __init__(self, win, parent=None):
        super().__init__(parent)
        self.win = win
        self.service = DashboardService(win.services)
        self.setObjectName("DashboardTab")
        self.cards: Dict[str, ConnectionCard] = {}
        self.stale: Dict[str, Set[str]] = {}
        self._dirty: Set[str] = set()
        self._columns = 0
        lay = QVBoxLayout(self)
        lay.setContentsMargins(16, 12, 16, 12)
        lay.setSpacing(10)
        head = QHBoxLayout()
        self.summary = QLabel()
        self.summary.setObjectName("Hint")
        self.pick = QPushButton("Add or remove active connections…")
        self.pick.setObjectName("DashPick")
        self.pick.clicked.connect(self.open_picker)
        head.addWidget(self.summary, 1)
        head.addWidget(self.pick)
        lay.addLayout(head)
        self.empty = QLabel("No active connections. Use “Add or remove active connections…” to put connections "
                            "on the Dashboard.")
        self.empty.setObjectName("Hint")
        self.empty.setWordWrap(True)
        lay.addWidget(self.empty)
        self.scroll = QScrollArea()
        self.scroll.setWidgetResizable(True)
        self.scroll.setFrameShape(QFrame.Shape.NoFrame)
        self.body = QWidget()
        self.body.setObjectName("DashBody")
        self.grid = QGridLayout(self.body)
        self.grid.setContentsMargins(0, 0, 0, 0)
        self.grid.setSpacing(GAP)
        self.scroll.setWidget(self.body)
        lay.addWidget(self.scroll, 1)
        self._apply_theme = lambda: self.setStyleSheet(sheet())
        theme.listeners.append(self._apply_theme)
        self._apply_theme()
        self.destroyed.connect(lambda *_a, f=self._apply_theme: f in theme.listeners and theme.listeners.remove(f))
        self._refresh_timer = QTimer(self)  # coalesced snapshots and progress redraw their cards once
        self._refresh_timer.setSingleShot(True)
        self._refresh_timer.setInterval(0)
        self._refresh_timer.timeout.connect(self._refresh_dirty)
        self._age_timer = QTimer(self)  # "updated … s ago"
        self._age_timer.setInterval(1000)
        self._age_timer.timeout.connect(self._tick_ages)
        self._age_timer.start()
        self.reload()

    # -- wiring -----------------------------------------------------------------------------------
    def wire(self, bridge) -> None:
        """Follow every connection's events (not only the selected one's)."""
        bridge.state_changed.connect(self._on_state)
        bridge.run_started.connect(lambda name, _rid: self.refresh(name))
        bridge.snapshot.connect(lambda snap: self._mark(snap.connection))
        bridge.progress.connect(lambda name, _d, _t: self._mark(name))
        bridge.alerts.connect(self._on_alerts)

    def _mark(self, name: str) -> None:
        if name in self.cards:
            self._dirty.add(name)
            if not self._refresh_timer.isActive():
                self._refresh_timer.start()

    def _refresh_dirty(self) -> None:
        names, self._dirty = self._dirty, set()
        for name in names:
            self.refresh(name)

    def _on_state(self, name: str, state: str, _reason: str) -> None:
        if state not in (ev.INITIALIZING, ev.RUNNING, ev.PAUSED, ev.STOPPING):
            self.stale.pop(name, None)
        self.refresh(name)
        self._show_summary()

    def _on_alerts(self, events: list) -> None:
        touched = set()
        for e in events:
            if isinstance(e, ev.FeedStale):
                self.stale.setdefault(e.connection, set()).add(e.symbol)
            elif isinstance(e, ev.FeedResumed):
                self.stale.get(e.connection, set()).discard(e.symbol)
            else:
                continue
            touched.add(e.connection)
        for name in touched:
            card = self.cards.get(name)
            if card is not None:
                card.set_stale(self.stale.get(name, set()))

    # -- cards --------------------------------------------------------------------------------------
    def reload(self) -> None:
        """Rebuild the cards from the active connections (after the dialog or a connection change)."""
        names = self.service.active()
        for name in list(self.cards):
            if name not in names:
                card = self.cards.pop(name)
                self.grid.removeWidget(card)
                card.deleteLater()
        for name in names:
            if name not in self.cards:
                card = ConnectionCard(name, self.body)
                card.start_clicked.connect(self.start)
                card.stop_clicked.connect(self.stop)
                card.kill_clicked.connect(self.kill)
                card.open_clicked.connect(self.open_connection)
                self.cards[name] = card
        self._order = names
        self._columns = 0  # lay out again
        self._layout_cards()
        for name in names:
            self.refresh(name)
        self.empty.setVisible(not names)
        self._show_summary()

    def _layout_cards(self) -> None:
        width = self.scroll.viewport().width() if self.isVisible() else max(self.width() - 32, CARD_WIDTH)
        columns = max(1, min(len(self._order) or 1, (width + GAP) // (CARD_WIDTH + GAP)))
        if columns == self._columns:
            return
        self._columns = columns
        for card in self.cards.values():
            self.grid.removeWidget(card)
        for i, name in enumerate(self._order):
            self.grid.addWidget(self.cards[name], i // columns, i % columns, Qt.AlignmentFlag.AlignTop)
        for c in range(self.grid.columnCount()):
            self.grid.setColumnStretch(c, 1 if c < columns else 0)
        self.grid.setRowStretch(self.grid.rowCount(), 1)

    def resizeEvent(self, event) -> None:  # noqa: N802 - Qt API
        super().resizeEvent(event)
        self._layout_cards()

    def showEvent(self, event) -> None:  # noqa: N802 - Qt API
        super().showEvent(event)
        self._columns = 0
        self._layout_cards()

    def refresh(self, name: str) -> None:
        """Redraw ``name``'s card from the services (no-op without a card)."""
        card = self.cards.get(name)
        if card is None:
            return
        try:
            figures = self.service.card(name)
        except Exception:  # noqa: BLE001 - a store read for display must not break the window
            log.warning("reading the dashboard figures of %s failed", name, exc_info=True)
            return
        card.stale = self.stale.get(name, set())
        card.show_card(figures)

    def _tick_ages(self) -> None:
        if self.isVisible():
            for card in self.cards.values():
                card.tick_age()

    def _show_summary(self) -> None:
        running = [n for n, c in self.cards.items() if c.card is not None and c.card.running]
        live = self.service.live_running()
        text = f"{len(self.cards)} active connection{'s' if len(self.cards) != 1 else ''}  ·  {len(running)} running"
        if live:
            text += f"  ·  LIVE: {', '.join(live)}"
        self.summary.setText(text)

    # -- commands -------------------------------------------------------------------------------------
    def start(self, name: str):
        """Start ``name``'s engine (others keep running); returns the command's future."""
        self.win.banner.hide()
        return self.win._command(self.win.services.start_engine(name), f"start {name}")

    def stop(self, name: str):
        """Stop ``name``'s engine; returns the command's future."""
        return self.win._command(self.win.services.stop_engine(name), f"stop {name}")

    def kill(self, name: str) -> None:
        """The kill switch on ``name`` only, after the same confirmation as the toolbar's."""
        from ..kill_switch import ask_kill

        ask_kill(self.win, name)

    def open_connection(self, name: str) -> None:
        """Select ``name`` in the window and show its Live Trading tab."""
        self.win.select_connection(name)
        self.win.tabs.setCurrentWidget(self.win.live_tab)

    def open_picker(self) -> Optional[ActiveConnectionsDialog]:
        """The "Add or remove active connections" dialog (window-modal; the cards follow on OK)."""
        dlg = ActiveConnectionsDialog(self.service, self)
        dlg.accepted.connect(self.reload)
        dlg.open()
        self.picker = dlg
        return dlg

    def rename(self, old: str, new: str) -> None:
        """A connection was renamed: its card keeps its place under the new name."""
        self.service.renamed(old, new)
        self.reload()
