"""The main window: a connection selector, four tabs, engine commands, status bar, remembered layout.

Everything goes through :class:`~cts_desktop.services.AppServices`; engine events arrive only
through :class:`~cts_desktop.ui.bridge.EventBridge`. The window shows one connection at a time
(the toolbar's selector); events of other connections only update the Connections list.

Engine commands are coroutines run on the qasync loop (``asyncio.ensure_future``). A failed
command or an engine error is shown in the status bar and in a banner at the top of the window,
never as a traceback dialog; the app stays up.

Window geometry, dock/toolbar state, the current tab and connection, table column layouts and
splitter positions are kept in ``<config dir>/window.ini`` (QSettings, INI format).
"""
from __future__ import annotations

import asyncio
import logging
from typing import Awaitable, Dict, Optional

from PySide6.QtCore import QByteArray, QSettings, Qt, QTimer, Signal
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (QComboBox, QFrame, QHBoxLayout, QLabel, QMainWindow, QMessageBox, QScrollArea,
                               QTabWidget, QToolBar, QToolButton, QVBoxLayout, QWidget)

from ..core import events as ev
from . import fmt
from .activity import ActivityTab
from .analytics import AnalyticsPanel
from .bridge import EventBridge
from .connections import ConnectionsTab
from .live import LiveTab, figures_of
from .positions import PositionsTab
from .widgets import STATE_TEXT, repolish

log = logging.getLogger(__name__)


def _app_version() -> str:
    try:
        from importlib.metadata import version

        return version("cts-desktop")
    except Exception:  # noqa: BLE001 - not installed (source checkout)
        return ""

UI_SETTINGS_FILE = "window.ini"
DEFAULT_SIZE = (1280, 800)
TAB_NAMES = ("Connections", "Live Trading", "Positions", "Activity")
ACTIVE_STATES = (ev.INITIALIZING, ev.RUNNING, ev.PAUSED, ev.STOPPING)


class Banner(QFrame):
    """A dismissible message strip at the top of the window (non-blocking, unlike a dialog)."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setObjectName("Banner")
        self.text = QLabel()
        self.text.setWordWrap(True)
        self.text.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        close = QToolButton()
        close.setText("✕")
        close.setObjectName("BannerClose")
        close.setToolTip("Dismiss")
        close.clicked.connect(self.hide)
        lay = QHBoxLayout(self)
        lay.setContentsMargins(12, 6, 8, 6)
        lay.addWidget(self.text, 1)
        lay.addWidget(close)
        self.hide()

    def show_message(self, text: str, kind: str = "error") -> None:
        self.text.setText(text)
        self.setProperty("kind", kind)
        repolish(self)
        self.show()


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
        self._state = ev.IDLE
        self._reason = ""
        self._starting_balance: Optional[float] = None
        self._closed = False
        self.ui_settings = QSettings(str(services.config_dir / UI_SETTINGS_FILE), QSettings.Format.IniFormat)

        self.bridge = EventBridge(services.bus, self)
        self._make_actions()
        self._make_menus()

        self.connections_tab = ConnectionsTab(services)
        self.live_tab = LiveTab(self.actions)
        self.analytics = AnalyticsPanel(services)
        self._analytics_page = QScrollArea()  # scrolls rather than raising the window's minimum height
        self._analytics_page.setWidgetResizable(True)
        self._analytics_page.setFrameShape(QFrame.Shape.NoFrame)
        self._analytics_page.setWidget(self.analytics)
        self.live_tab.add_view(self._analytics_page, "Analytics")
        # The figures walk the whole run: computed when the page is shown, not on every tick.
        self.live_tab.views.currentChanged.connect(lambda _i: self._refresh_analytics())
        self.positions_tab = PositionsTab()
        self.activity_tab = ActivityTab(self.actions)
        self.tabs = QTabWidget()
        self.tabs.setObjectName("MainTabs")
        self.tabs.setDocumentMode(True)
        for w, title in zip((self.connections_tab, self.live_tab, self.positions_tab, self.activity_tab), TAB_NAMES):
            self.tabs.addTab(w, title)
        self.banner = Banner()
        central = QWidget()
        cl = QVBoxLayout(central)
        cl.setContentsMargins(0, 0, 0, 0)
        cl.setSpacing(0)
        cl.addWidget(self.banner)
        cl.addWidget(self.tabs, 1)
        self.setCentralWidget(central)

        self._make_toolbar()
        self._make_status_bar()
        self._wire()
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
    def _make_actions(self) -> None:
        def act(key, text, shortcut, slot, tip):
            a = QAction(text, self)
            a.setObjectName(f"action_{key}")
            a.setShortcut(QKeySequence(shortcut))
            a.setToolTip(f"{tip} ({shortcut})")
            a.setStatusTip(tip)
            a.triggered.connect(slot)
            return a

        self.actions: Dict[str, QAction] = {
            "start": act("start", "▶  Start", "F5", self.start_engine, "Start the selected connection's engine"),
            "pause": act("pause", "❚❚  Pause", "F6", self.pause_engine, "Hold the replay; positions stay open"),
            "resume": act("resume", "▶  Resume", "F7", self.resume_engine, "Continue a paused replay"),
            "stop": act("stop", "■  Stop", "F8", self.stop_engine, "Stop the engine and end the run"),
        }
        self._update_actions(ev.IDLE)

    def _make_menus(self) -> None:
        mb = self.menuBar()
        file_menu = mb.addMenu("&File")
        quit_action = QAction("&Quit", self)
        quit_action.setShortcut(QKeySequence.StandardKey.Quit)
        quit_action.triggered.connect(self.close)
        file_menu.addAction(quit_action)
        engine_menu = mb.addMenu("&Engine")
        for key in ("start", "pause", "resume", "stop"):
            engine_menu.addAction(self.actions[key])
        self.view_menu = mb.addMenu("&View")
        for i, title in enumerate(TAB_NAMES):
            a = QAction(title, self)
            a.setShortcut(QKeySequence(f"Ctrl+{i + 1}"))
            a.triggered.connect(lambda _c=False, i=i: self.tabs.setCurrentIndex(i))
            self.view_menu.addAction(a)
        self.view_menu.addSeparator()
        reset = QAction("Reset layout", self)
        reset.triggered.connect(self.reset_layout)
        self.view_menu.addAction(reset)
        tools_menu = mb.addMenu("&Tools")
        backtest = QAction("&Backtest...", self)
        backtest.setShortcut(QKeySequence("Ctrl+B"))
        backtest.triggered.connect(self.open_backtest)
        tools_menu.addAction(backtest)
        help_menu = mb.addMenu("&Help")
        about = QAction("&About CTS Desktop", self)
        about.triggered.connect(self.show_about)
        help_menu.addAction(about)

    def open_backtest(self) -> None:
        """Tools > Backtest: one backtest window per main window, raised if already open."""
        from .backtest import BacktestWindow  # imported on first use: keeps start-up fast

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

    def _make_toolbar(self) -> None:
        tb = QToolBar("Connection")
        tb.setObjectName("ConnectionToolbar")
        tb.setMovable(False)
        tb.setFloatable(False)
        lbl = QLabel("Connection")
        lbl.setObjectName("FieldLabel")
        tb.addWidget(lbl)
        self.connection_combo = QComboBox()
        self.connection_combo.setObjectName("ConnectionCombo")
        self.connection_combo.setMinimumWidth(260)
        self.connection_combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
        tb.addWidget(self.connection_combo)
        self.mode_badge = QLabel()
        self.mode_badge.setObjectName("Badge")
        tb.addWidget(self.mode_badge)
        self.toolbar_info = QLabel()
        self.toolbar_info.setObjectName("Hint")
        tb.addWidget(self.toolbar_info)
        self.addToolBar(tb)
        self.toolbar = tb
        self._fill_connection_combo()

    def _make_status_bar(self) -> None:
        sb = self.statusBar()
        sb.setObjectName("StatusBar")
        self.status_state = QLabel()
        self.status_state.setObjectName("StatusState")
        self.status_progress = QLabel()
        self.status_progress.setObjectName("StatusInfo")
        sb.addPermanentWidget(self.status_progress)
        sb.addPermanentWidget(self.status_state)

    def _wire(self) -> None:
        b = self.bridge
        b.state_changed.connect(self._on_state)
        b.run_started.connect(self._on_run_started)
        b.snapshot.connect(self._on_snapshot)
        b.progress.connect(self._on_progress)
        b.positions_changed.connect(self._on_positions)
        b.orders_changed.connect(self._on_orders)
        b.log_lines.connect(self._on_log)
        b.equity_points.connect(self._on_equity)
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
        self.mode_badge.setText("LIVE" if conn.live else "PAPER")
        self.mode_badge.setProperty("live", conn.live)
        repolish(self.mode_badge)
        self.live_tab.set_speed(conn.speed)
        self.live_tab.set_live_connections(c.name for c in self.services.connections() if c.live)
        self.load_history()
        # Read the replay's candles ahead of Start, once the window has settled.
        QTimer.singleShot(500, lambda n=name: self.current == n and self.services.prefetch(n))
        state = self.services.engine_state(name)
        reason = ""
        if state != ev.IDLE:
            reason = self.services.engine(name).reason
        self._apply_state(state, reason)

    def load_history(self) -> None:
        """(Re)load the current connection's positions, log, equity curve and figures from services."""
        name = self.current
        if name is None:
            return
        self._refresh_analytics()
        self.bridge.flush()  # whatever was buffered is older than what we load now
        try:
            summary = self.services.last_summary(name) or {}
            self.positions_tab.load(self.services.open_positions(name), self.services.closed_positions(name))
            self.activity_tab.load(self.services.events(name))
            curve = self.services.equity_curve(name)
        except Exception as exc:  # noqa: BLE001 - a store problem must not take the window down
            log.exception("loading the history of %s failed", name)
            self.notify(f"Could not load the history of {name}: {exc}")
            return
        self._starting_balance = summary.get("starting_balance")
        cur = summary.get("currency", "")
        chart = self.live_tab.chart
        chart.set_currency(cur)
        chart.set_starting_balance(self._starting_balance)
        chart.set_points(curve)
        self.live_tab.update_chart_info()
        self.live_tab.show_figures(figures_of(summary=summary) if summary else None)
        self.activity_tab.set_figures(summary.get("trades"), summary.get("last_candle_ts") or 0)
        run = None
        try:
            run = self.services.latest_run(name)
        except Exception:  # noqa: BLE001
            pass
        if run is not None:
            when = fmt.utc_ms(run.started_at)
            self.toolbar_info.setText(f"last run #{run.id}: {run.dataset or run.mode}, {run.state}"
                                      f"{' (' + run.reason + ')' if run.reason else ''}, started {when}")
            self.live_tab.set_progress_text(f"Last run #{run.id} {run.state}"
                                            f"{': ' + run.reason if run.reason else ''}"
                                            f"{'  ·  replayed to ' + fmt.utc_ms(run.last_candle_ts) + ' UTC' if run.last_candle_ts else ''}")
            self.live_tab.progress.setValue(1000 if run.reason == "end of data" else 0)
        else:
            self.toolbar_info.setText("no runs yet")
            self.live_tab.set_progress_text("No replay yet: press Start.")
            self.live_tab.progress.setValue(0)

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
        if self.connections_tab.details.dirty and self.connections_tab.details.conn is not None \
                and self.connections_tab.details.conn.name == name:
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
        except Exception as exc:  # noqa: BLE001
            self.notify(f"Could not change the speed: {exc}")
            return
        self.connections_tab.details.reload_if_clean(self.current)
        self.statusBar().showMessage(f"Replay speed: {speed}", 4000)

    # -- bridge handlers ---------------------------------------------------------------------------------
    def _on_state(self, name: str, state: str, reason: str) -> None:
        self.connections_tab.set_state(name, state)
        if state == ev.ERROR:
            self.notify(f"{name}: engine error: {reason or 'unknown reason'}")
        if name != self.current:
            return
        self._apply_state(state, reason)
        if state in (ev.STOPPED, ev.ERROR):
            self._refresh_analytics()
        if state == ev.STOPPED:
            self.statusBar().showMessage(f"{name}: stopped ({reason})" if reason else f"{name}: stopped", 10000)
            try:
                run = self.services.latest_run(name)
                if run is not None:
                    self.toolbar_info.setText(f"run #{run.id}: {run.dataset or run.mode}, stopped"
                                              f"{' (' + reason + ')' if reason else ''}")
            except Exception:  # noqa: BLE001
                pass

    def _refresh_analytics(self, force: bool = False) -> None:
        if force or self.live_tab.views.currentWidget() is self._analytics_page:
            self.analytics.set_connection(self.current)

    def _apply_state(self, state: str, reason: str) -> None:
        self._state, self._reason = state, reason
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

    def _on_run_started(self, name: str, run_id: int) -> None:
        if name != self.current:
            return
        self.positions_tab.new_run()
        summary = {}
        try:
            summary = self.services.last_summary(name) or {}
        except Exception:  # noqa: BLE001
            pass
        self._starting_balance = summary.get("starting_balance")
        chart = self.live_tab.chart
        chart.set_currency(summary.get("currency", ""))
        chart.set_starting_balance(self._starting_balance)
        chart.set_points(self.services.equity_curve(name))
        chart.set_time_span(self.services.replay_span(name))
        self.live_tab.update_chart_info()
        self.live_tab.show_figures(figures_of(summary=summary) if summary else None)
        self.toolbar_info.setText(f"run #{run_id} running")

    def _on_snapshot(self, snap) -> None:
        if snap.connection != self.current:
            return
        self.live_tab.show_figures(figures_of(snap, starting_balance=self._starting_balance))
        self.positions_tab.update_prices(snap.prices)
        self.activity_tab.set_figures(snap.trades, snap.timestamp)
        if self._state in ACTIVE_STATES:
            self.activity_tab.set_last_update(self.services.engine(snap.connection).last_update_wall)

    def _on_progress(self, name: str, done: int, total: int) -> None:
        if name != self.current:
            return
        eng = self.services.engine(name)
        ts = eng.core.last_ts if getattr(eng, "core", None) is not None else 0
        self.live_tab.set_progress(done, total, ts)
        self.status_progress.setText(f"{done / total:.0%} replayed" if total else "")
        self.activity_tab.set_last_update(eng.last_update_wall)

    def _on_positions(self, name: str, positions: list) -> None:
        if name == self.current:
            self.positions_tab.apply_positions(positions)

    def _on_orders(self, name: str, orders: list) -> None:
        if name == self.current:
            self.positions_tab.apply_orders(orders)

    def _on_log(self, name: str, lines: list) -> None:
        if name == self.current:
            self.activity_tab.append(lines)

    def _on_equity(self, name: str, points: list) -> None:
        if name == self.current:
            self.live_tab.chart.append_points(points)
            self.live_tab.update_chart_info()

    def _connection_saved(self, name: str) -> None:
        self._fill_connection_combo()
        if name == self.current:
            conn = self.services.connection(name)
            self.live_tab.set_speed(conn.speed)
        self.live_tab.set_live_connections(c.name for c in self.services.connections() if c.live)
        self.statusBar().showMessage(f"Saved {name}", 5000)

    def _connection_renamed(self, old: str, new: str) -> None:
        self._fill_connection_combo()
        if self.current == old:
            self.select_connection(new)

    def _connection_removed(self, name: str) -> None:
        self._fill_connection_combo()
        self.live_tab.set_live_connections(c.name for c in self.services.connections() if c.live)
        if self.current == name:
            names = [c.name for c in self.services.connections()]
            if names:
                self.select_connection(names[0])

    # -- messages --------------------------------------------------------------------------------------
    def notify(self, text: str, kind: str = "error") -> None:
        """Show a problem without blocking: status bar plus the banner at the top."""
        log.warning("%s", text)
        self.statusBar().showMessage(text, 15000)
        self.banner.show_message(text, kind)

    def show_about(self) -> None:
        box = QMessageBox(self)
        box.setWindowTitle("About CTS Desktop")
        box.setText(f"<b>CTS Desktop</b> {_app_version()}<br>Desktop crypto trading station: paper trading on "
                    "recorded markets, every order, fill and position kept in SQLite.")
        box.setModal(False)
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        box.show()

    # -- remembered layout -------------------------------------------------------------------------------
    def _tables(self):
        t = {"connections": self.connections_tab.table, "log": self.activity_tab.table}
        t.update(self.positions_tab.tables)
        return t

    def _splitters(self):
        return {"connections": self.connections_tab.splitter, "positions": self.positions_tab.splitter}

    def save_state(self) -> None:
        s = self.ui_settings
        s.setValue("geometry", self.saveGeometry())
        s.setValue("windowState", self.saveState())
        s.setValue("tab", self.tabs.currentIndex())
        s.setValue("positionsLowerTab", self.positions_tab.lower.currentIndex())
        if self.current:
            s.setValue("connection", self.current)
        for name, table in self._tables().items():
            s.setValue(f"headers/{name}", table.horizontalHeader().saveState())
        for name, sp in self._splitters().items():
            s.setValue(f"splitters/{name}", sp.saveState())
        s.sync()

    def restore_state(self) -> None:
        s = self.ui_settings
        geo = s.value("geometry")
        if isinstance(geo, QByteArray) and not geo.isEmpty():
            self.restoreGeometry(geo)
        state = s.value("windowState")
        if isinstance(state, QByteArray) and not state.isEmpty():
            self.restoreState(state)
        tab = s.value("tab", 1, int)
        self.tabs.setCurrentIndex(tab if 0 <= tab < self.tabs.count() else 1)
        self.positions_tab.lower.setCurrentIndex(s.value("positionsLowerTab", 0, int))
        for name, table in self._tables().items():
            st = s.value(f"headers/{name}")
            if isinstance(st, QByteArray) and not st.isEmpty():
                table.horizontalHeader().restoreState(st)
        for name, sp in self._splitters().items():
            st = s.value(f"splitters/{name}")
            if isinstance(st, QByteArray) and not st.isEmpty():
                sp.restoreState(st)

    def reset_layout(self) -> None:
        self.ui_settings.clear()
        self.resize(*DEFAULT_SIZE)
        self.statusBar().showMessage("Layout reset: column widths return to their defaults at the next start.", 6000)

    def closeEvent(self, event) -> None:  # noqa: N802 - Qt API
        if not self._closed:
            self._closed = True
            try:
                self.save_state()
            except Exception:  # noqa: BLE001
                log.exception("saving the window layout failed")
            self.bridge.close()
            self.closing.emit()
        super().closeEvent(event)
