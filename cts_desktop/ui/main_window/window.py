"""The main window: a connection selector, four tabs, engine commands, status bar, remembered layout.

Everything goes through :class:`~cts_desktop.services.AppServices`; engine events arrive only
through :class:`~cts_desktop.ui.bridge.EventBridge`. The window shows one connection at a time
(the toolbar's selector); events of other connections only update the Connections list.

Engine commands are coroutines run on the qasync loop (``asyncio.ensure_future``). A failed
command or an engine error is shown in the status bar and in a banner at the top of the window,
never as a traceback dialog; the app stays up.

The rooms: :mod:`.chrome` (actions, menus, toolbar, status bar, banner), :mod:`.feed` (what the
tabs show of the current connection), :mod:`.layout` (the layout kept in ``window.ini``).
"""
from __future__ import annotations

import asyncio
import logging
from typing import Awaitable, Optional

from PySide6.QtCore import QSettings, Qt, QTimer, Signal
from PySide6.QtWidgets import QFrame, QMainWindow, QScrollArea, QTabWidget, QVBoxLayout, QWidget

from ...core import events as ev
from ..activity import ActivityTab
from ..analytics import AnalyticsPanel
from ..bridge import EventBridge
from ..connections import ConnectionsTab
from ..dashboard import DashboardTab
from ..live import LiveTab
from ..market import MarketTab
from ..positions import PositionsTab
from .. import theme
from ..settings_dialog import apply_app_settings, follow_theme, open_settings
from ..tray import TrayController
from ..widgets import STATE_TEXT, repolish
from . import chrome
from .feed import ConnectionFeed
from .layout import DEFAULT_SIZE, UI_SETTINGS_FILE, WindowLayout

log = logging.getLogger(__name__)


class MainWindow(QMainWindow):
    """``MainWindow(services, connection=None)``; ``connection`` overrides the remembered one.

    ``closing`` is emitted once from ``closeEvent`` (``run_gui`` then stops the engines).
    """

    closing = Signal()

    def __init__(self, services, *, connection: Optional[str] = None, parent=None):
        super().__init__(parent)
        self.services = services
        self.setWindowTitle("CTS Desktop")
        self.setObjectName("MainWindow")
        self.current: Optional[str] = None
        self.shown_state = ev.IDLE  # the current connection's engine state, as shown
        self._reason = ""
        self._closed = False
        self.ui_settings = QSettings(str(services.config_dir / UI_SETTINGS_FILE), QSettings.Format.IniFormat)
        self.layout_memory = WindowLayout(self, self.ui_settings)
        self.feed = ConnectionFeed(self)

        self.bridge = EventBridge(services.bus, self)
        self.actions = chrome.make_actions(self)
        self._update_actions(ev.IDLE)
        chrome.make_menus(self)
        self._make_tabs()
        chrome.exporting.install_table_menus(self)  # right-click "Export to CSV…" on every table
        self.banner = chrome.Banner()
        central = QWidget()
        cl = QVBoxLayout(central)
        cl.setContentsMargins(0, 0, 0, 0)
        cl.setSpacing(0)
        cl.addWidget(self.banner)
        cl.addWidget(self.tabs, 1)
        self.setCentralWidget(central)

        chrome.make_toolbar(self)
        self._fill_connection_combo()
        chrome.make_status_bar(self)
        self._wire()
        self.bridge.set_interval(services.app_settings["ui_refresh_ms"])
        self.tray = TrayController(self)  # notifications: tray, or the status bar without one
        self._unsubscribe_settings = services.app_settings.subscribe(lambda v, c: apply_app_settings(self, v, c))
        self._follow_theme = lambda: follow_theme(self)
        theme.listeners.append(self._follow_theme)
        self._follow_theme()
        self.resize(*DEFAULT_SIZE)
        self.restore_state()
        remembered = self.ui_settings.value("connection", "", str)
        names = [c.name for c in services.connections()]
        start = connection if connection in names else remembered if remembered in names else (names[0] if names else None)
        if connection and connection not in names:
            self.notify(f"Unknown connection {connection!r}; showing {start!r}.")
        self.connection_combo.setCurrentIndex(max(self.connection_combo.findData(start), 0))
        if start:
            self.select_connection(start)

    # -- construction --------------------------------------------------------------------------------
    def _make_tabs(self) -> None:
        services = self.services
        self.connections_tab = ConnectionsTab(services)
        self.live_tab = LiveTab(self.actions)
        self.analytics = AnalyticsPanel(services)
        self._analytics_page = QScrollArea()  # scrolls rather than raising the window's minimum height
        self._analytics_page.setWidgetResizable(True)
        self._analytics_page.setFrameShape(QFrame.Shape.NoFrame)
        self._analytics_page.setWidget(self.analytics)
        self.live_tab.add_view(self._analytics_page, "Analytics")
        # The figures walk the whole run: computed when the page is shown, not on every tick.
        self.live_tab.views.currentChanged.connect(lambda _i: self.refresh_analytics())
        self.positions_tab = PositionsTab()
        self.activity_tab = ActivityTab(self.actions)
        self.dashboard_tab = DashboardTab(self)  # a card per active connection, whichever is selected
        self.tabs = QTabWidget()
        self.tabs.setObjectName("MainTabs")
        self.tabs.setDocumentMode(True)
        pages = (self.dashboard_tab, self.connections_tab, self.live_tab, self.positions_tab, self.activity_tab)
        for w, title in zip(pages, chrome.TAB_NAMES, strict=True):
            self.tabs.addTab(w, title)
        self.market_tab = MarketTab(services, self.bridge)  # chart, watchlist, order book (issue 9)
        self.tabs.addTab(self.market_tab, "Market")

    def open_backtest(self) -> None:
        """Tools > Backtest: one backtest window per main window, raised if already open."""
        from ..backtest import BacktestWindow  # imported on first use: keeps start-up fast

        win = getattr(self, "_backtest_window", None)
        if win is None:
            win = BacktestWindow(self.services, parent=self)
            win.setWindowFlag(Qt.WindowType.Window)
            win.setWindowTitle("Backtest - CTS Desktop")
            win.resize(1280, 820)
            self._backtest_window = win
        win.show()
        win.raise_()
        win.activateWindow()

    def open_optimize(self) -> None:
        """Tools > Optimize: one optimise window per main window, raised if already open."""
        from ..research import OptimizeWindow  # imported on first use: keeps start-up fast

        win = getattr(self, "_optimize_window", None)
        if win is None:
            win = OptimizeWindow(self.services, parent=self)
            win.setWindowFlag(Qt.WindowType.Window)
            win.setWindowTitle("Optimize - CTS Desktop")
            self._optimize_window = win
        win.show()
        win.raise_()
        win.activateWindow()

    def open_settings(self) -> None:
        """Tools > Settings... (Ctrl+,)."""
        open_settings(self)

    def _wire(self) -> None:
        self.bridge.state_changed.connect(self._on_state)
        self.feed.wire(self.bridge)
        self.dashboard_tab.wire(self.bridge)
        self.connection_combo.currentIndexChanged.connect(self._combo_changed)
        self.connections_tab.selected.connect(self._list_selected)
        self.connections_tab.saved.connect(self._connection_saved)
        self.connections_tab.renamed.connect(self._connection_renamed)
        self.connections_tab.removed.connect(self._connection_removed)
        self.live_tab.speed_changed.connect(self.set_speed)

    def _fill_connection_combo(self) -> None:
        combo = self.connection_combo
        combo.blockSignals(True)
        current = combo.currentData()
        combo.clear()
        for c in self.services.connections():
            combo.addItem(f"{c.name}   [{'LIVE' if c.live else 'paper'}]", c.name)
        i = combo.findData(current)
        combo.setCurrentIndex(max(i, 0))
        combo.blockSignals(False)

    # -- connection selection --------------------------------------------------------------------------
    def _combo_changed(self, _i: int) -> None:
        name = self.connection_combo.currentData()
        if name and name != self.current:
            self.select_connection(name)

    def _list_selected(self, name: str) -> None:
        if name != self.current:
            self.select_connection(name)

    def select_connection(self, name: str) -> None:
        """Show ``name`` in every tab, loading its history from the store."""
        self.current = name
        i = self.connection_combo.findData(name)
        if i >= 0 and self.connection_combo.currentIndex() != i:
            self.connection_combo.blockSignals(True)
            self.connection_combo.setCurrentIndex(i)
            self.connection_combo.blockSignals(False)
        self.connections_tab.select(name)
        self.ui_settings.setValue("connection", name)
        try:
            conn = self.services.connection(name)
        except KeyError as exc:
            self.notify(str(exc.args[0] if exc.args else exc))
            return
        self._show_mode(conn)
        self.live_tab.set_mode(conn.is_paper_replay)
        self.live_tab.set_speed(conn.speed)
        self.live_tab.set_live_connections(c.name for c in self.services.connections() if c.live)
        self.load_history()
        self.market_tab.set_connection(name)
        # Read the replay's candles ahead of Start, once the window has settled.
        QTimer.singleShot(500, lambda n=name: self.current == n and self.services.prefetch(n))
        state = self.services.engine_state(name)
        reason = ""
        if state != ev.IDLE:
            reason = self.services.engine(name).reason
        self._apply_state(state, reason)

    def _show_mode(self, conn) -> None:
        """The toolbar badge: LIVE or PAPER for the connection shown."""
        self.mode_badge.setText("LIVE" if conn.live else "PAPER")
        self.mode_badge.setProperty("live", conn.live)
        repolish(self.mode_badge)

    def load_history(self) -> None:
        """(Re)load the current connection's positions, log, equity curve and figures from services."""
        self.feed.load_history()

    # -- engine commands -------------------------------------------------------------------------------
    def _command(self, coro: Awaitable, what: str) -> asyncio.Future:
        fut = asyncio.ensure_future(coro)

        def done(f: asyncio.Future) -> None:
            if f.cancelled():
                return
            exc = f.exception()
            if exc is not None:
                self.notify(f"Could not {what}: {exc}")
        fut.add_done_callback(done)
        return fut

    def start_engine(self) -> Optional[asyncio.Future]:
        name = self.current
        if name is None:
            return None
        details = self.connections_tab.details
        if details.dirty and details.conn is not None and details.conn.name == name:
            self.statusBar().showMessage("Unsaved changes in the Connections tab are not used by this run.", 8000)
        self.banner.hide()
        return self._command(self.services.start_engine(name), f"start {name}")

    def stop_engine(self) -> Optional[asyncio.Future]:
        if self.current is None:
            return None
        return self._command(self.services.stop_engine(self.current), f"stop {self.current}")

    def pause_engine(self) -> None:
        self._sync(self.services.pause_engine, "pause")

    def resume_engine(self) -> None:
        self._sync(self.services.resume_engine, "resume")

    def _sync(self, fn, what: str) -> None:
        if self.current is None:
            return
        try:
            fn(self.current)
        except Exception as exc:  # noqa: BLE001 - EngineError and friends: shown, not raised
            self.notify(f"Could not {what} {self.current}: {exc}")

    def set_speed(self, speed: str) -> None:
        if self.current is None:
            return
        try:
            self.services.set_speed(self.current, speed)
        except Exception as exc:  # noqa: BLE001 - any refusal is shown in the window, which stays up
            self.notify(f"Could not change the speed: {exc}")
            return
        self.connections_tab.details.reload_if_clean(self.current)
        self.statusBar().showMessage(f"Replay speed: {speed}", 4000)

    # -- engine state ------------------------------------------------------------------------------------
    def _on_state(self, name: str, state: str, reason: str) -> None:
        self.connections_tab.set_state(name, state)
        self.setWindowTitle(self.dashboard_tab.service.title())  # "CTS Desktop — LIVE: name" while live runs
        if state == ev.ERROR:
            self.notify(f"{name}: engine error: {reason or 'unknown reason'}")
        if name != self.current:
            return
        self._apply_state(state, reason)
        if state in (ev.STOPPED, ev.ERROR):
            self.refresh_analytics()
        if state == ev.STOPPED:
            self.statusBar().showMessage(f"{name}: stopped ({reason})" if reason else f"{name}: stopped", 10000)
            try:
                run = self.services.latest_run(name)
            except Exception:  # noqa: BLE001 - a store read for display must not break the window
                log.warning("reading the latest run of %s failed", name, exc_info=True)
                run = None
            if run is not None:
                self.toolbar_info.setText(f"run #{run.id}: {run.dataset or run.mode}, stopped"
                                          f"{' (' + reason + ')' if reason else ''}")

    def refresh_analytics(self, force: bool = False) -> None:
        """Recompute the Analytics page (only when it is shown, unless ``force``)."""
        if force or self.live_tab.views.currentWidget() is self._analytics_page:
            self.analytics.set_connection(self.current)

    def _apply_state(self, state: str, reason: str) -> None:
        self.shown_state, self._reason = state, reason
        self._update_actions(state)
        self.live_tab.set_state(state, reason)
        self.activity_tab.set_state(state, reason)
        text = STATE_TEXT.get(state, state)
        if reason and state in (ev.ERROR, ev.STOPPED, ev.STOPPING):
            text += f" ({reason})" if state != ev.ERROR else f": {reason}"
        self.status_state.setText(f"●  {self.current}: {text}")
        self.status_state.setToolTip(reason)
        self.status_state.setProperty("state", state)
        repolish(self.status_state)

    def _update_actions(self, state: str) -> None:
        a = self.actions
        a["start"].setEnabled(state in (ev.IDLE, ev.STOPPED, ev.ERROR))
        a["stop"].setEnabled(state in (ev.RUNNING, ev.PAUSED, ev.INITIALIZING))
        a["pause"].setEnabled(state == ev.RUNNING)
        a["resume"].setEnabled(state == ev.PAUSED)

    # -- connections tab events ----------------------------------------------------------------------------
    def _connection_saved(self, name: str) -> None:
        self._fill_connection_combo()
        if name == self.current:
            conn = self.services.connection(name)
            self._show_mode(conn)  # Go live / back to paper shows at once, not at the next selection
            self.live_tab.set_speed(conn.speed)
        self.live_tab.set_live_connections(c.name for c in self.services.connections() if c.live)
        self.tray.refresh()
        self.dashboard_tab.reload()
        self.statusBar().showMessage(f"Saved {name}", 5000)

    def _connection_renamed(self, old: str, new: str) -> None:
        self._fill_connection_combo()
        self.dashboard_tab.rename(old, new)
        if self.current == old:
            self.select_connection(new)

    def _connection_removed(self, name: str) -> None:
        self._fill_connection_combo()
        self.dashboard_tab.reload()
        self.live_tab.set_live_connections(c.name for c in self.services.connections() if c.live)
        if self.current == name:
            names = [c.name for c in self.services.connections()]
            if names:
                self.select_connection(names[0])

    # -- messages and layout ---------------------------------------------------------------------------------
    def notify(self, text: str, kind: str = "error") -> None:
        """Show a problem without blocking: status bar plus the banner at the top."""
        log.warning("%s", text)
        self.statusBar().showMessage(text, 15000)
        self.banner.show_message(text, kind)

    def show_about(self) -> None:
        chrome.show_about(self)

    def save_state(self) -> None:
        self.layout_memory.save()

    def restore_state(self) -> None:
        self.layout_memory.restore()

    def reset_layout(self) -> None:
        self.layout_memory.reset()

    def closeEvent(self, event) -> None:  # noqa: N802 - Qt API
        if not self._closed:
            self._closed = True
            try:
                self.save_state()
            except Exception:  # noqa: BLE001 - a layout that cannot be saved must not stop the close
                log.exception("saving the window layout failed")
            self.bridge.close()
            self.tray.close()
            self._unsubscribe_settings()
            theme.listeners.remove(self._follow_theme)
            self.closing.emit()
        super().closeEvent(event)
