"""The system-tray icon: whether a connection trades live, a menu to start and stop engines, and
the notifications (fills, engine errors, circuit-breaker trips, stale feeds, reconciliation).

What is said and how bursts are summed up is :class:`cts_desktop.services.notifications.Notifier`;
this module feeds it the bridge's events and shows its messages every :data:`DELIVER_MS`:

* with a system tray (``QSystemTrayIcon.isSystemTrayAvailable()``): as tray messages;
* without one (a desktop with no tray, offscreen): in the window's status bar, urgent ones also
  in its banner (the Activity log already holds every fill and error line the engine logged).

The icon is ``resources/icons/cts-desktop.svg``; while any connection's engine trades live it
carries a red dot and the tooltip starts with ``LIVE: <names>``. The menu's "Stop all engines"
stops every engine (``services.stop_all``) and leaves positions open, and says so; "Kill switch…"
opens the window's kill-switch confirmation (cancel every order, flatten, stop).
"""
from __future__ import annotations

import asyncio
import logging
from typing import Dict, List, Optional

from PySide6.QtCore import QObject, QPointF, QTimer
from PySide6.QtGui import QAction, QBrush, QColor, QIcon, QPainter, QPen, QPixmap
from PySide6.QtWidgets import QMenu, QSystemTrayIcon

from ..core import events as ev
from ..core.resources import resources_dir
from ..services.notifications import Message, Notifier

log = logging.getLogger(__name__)

ACTIVE_STATES = (ev.INITIALIZING, ev.RUNNING, ev.PAUSED, ev.STOPPING)
DELIVER_MS = 500  # how often pending notices are looked at (the Notifier spaces the messages)
ICON_PX = 64


def base_icon_pixmap() -> QPixmap:
    """The app icon at :data:`ICON_PX` (an empty pixmap when the SVG cannot be read)."""
    return QIcon(str(resources_dir() / "icons" / "cts-desktop.svg")).pixmap(ICON_PX, ICON_PX)


def live_icon(base: QPixmap) -> QIcon:
    """``base`` with a red dot in the lower right corner: a live engine is running."""
    pix = QPixmap(base) if not base.isNull() else QPixmap(ICON_PX, ICON_PX)
    if base.isNull():
        pix.fill(QColor("#1b2330"))
    p = QPainter(pix)
    p.setRenderHint(QPainter.RenderHint.Antialiasing)
    r = pix.width() * 0.22
    p.setPen(QPen(QColor("#ffffff"), max(pix.width() / 24, 1.5)))
    p.setBrush(QBrush(QColor("#e5312b")))
    p.drawEllipse(QPointF(pix.width() - r - 2, pix.height() - r - 2), r, r)
    p.end()
    return QIcon(pix)


class TrayController(QObject):
    """The tray of main window ``win`` (built by the window; :meth:`close` when it closes).

    ``use_tray``: None = when the platform has a system tray; True/False forces it (tests).
    :attr:`menu` is built whether or not a tray is shown; :attr:`tray` is None without one.
    """

    def __init__(self, win, use_tray: Optional[bool] = None, gap_s: Optional[float] = None):
        super().__init__(win)
        self.win = win
        self.services = win.services
        settings = self.services.app_settings
        self.notifier = Notifier(settings.notify_enabled) if gap_s is None else Notifier(settings.notify_enabled, gap_s)
        self.available = QSystemTrayIcon.isSystemTrayAvailable() if use_tray is None else use_tray
        self._base = base_icon_pixmap()
        self._icons = {False: QIcon(self._base), True: live_icon(self._base)}
        self.menu = QMenu()
        self.menu.setObjectName("TrayMenu")
        self.menu.aboutToShow.connect(self.rebuild_menu)
        self.engine_actions: Dict[str, QAction] = {}
        self.delivered: List[Message] = []  # every message shown, newest last (the last 50)
        self.live_names: List[str] = []
        self.tooltip = ""
        self.tray: Optional[QSystemTrayIcon] = None
        if self.available:
            self.tray = QSystemTrayIcon(self._icons[False], self)
            self.tray.setContextMenu(self.menu)
            self.tray.activated.connect(self._activated)
            self.tray.show()
        self._timer = QTimer(self)
        self._timer.setInterval(DELIVER_MS)
        self._timer.timeout.connect(self.deliver)
        self._timer.start()
        bridge = win.bridge
        bridge.fills.connect(self._on_fills)
        bridge.state_changed.connect(self._on_state)
        bridge.alerts.connect(self._on_alerts)
        self.rebuild_menu()
        self.refresh()

    # -- events -> notices ----------------------------------------------------------------------
    def _on_fills(self, _name: str, fills: list) -> None:
        for f in fills:
            self.notifier.offer(f)

    def _on_alerts(self, events: list) -> None:
        for e in events:
            self.notifier.offer(e)

    def _on_state(self, name: str, state: str, reason: str) -> None:
        self.notifier.offer(ev.EngineStateChanged(name, state, reason))
        self.refresh()
        self.rebuild_menu()

    def deliver(self) -> Optional[Message]:
        """Show the message the notifier has ready, if any (the timer calls this); returns it."""
        msg = self.notifier.due()
        if msg is None:
            return None
        self.delivered = (self.delivered + [msg])[-50:]
        if self.tray is not None and self.tray.isVisible():
            icon = QSystemTrayIcon.MessageIcon.Critical if msg.urgent else QSystemTrayIcon.MessageIcon.Information
            self.tray.showMessage(msg.title, msg.body, icon, 10_000 if msg.urgent else 5_000)
        else:
            self._fallback(msg)
        return msg

    def _fallback(self, msg: Message) -> None:
        """No tray: the status bar; urgent messages also in the window's banner. (Not the Activity
        table: it shows the engine's stored log, where errors and fills already are.)"""
        win = self.win
        first = msg.body.splitlines()[0] if msg.body else ""
        text = f"{msg.title}: {first}" if msg.count == 1 else first or msg.title
        win.statusBar().showMessage(text, 10_000)
        if msg.urgent and msg.title != "Engine error":  # the window shows engine errors itself
            win.banner.show_message(f"{msg.title}: {msg.body}", "error")

    # -- icon, tooltip, menu ----------------------------------------------------------------------
    def _active(self) -> List[str]:
        return [c.name for c in self.services.connections() if self.services.engine_state(c.name) in ACTIVE_STATES]

    def refresh(self) -> None:
        """Update the icon and tooltip: ``LIVE: <names>`` while live engines run."""
        live = {c.name for c in self.services.connections() if c.live}
        active = self._active()
        self.live_names = [n for n in active if n in live]
        paper = [n for n in active if n not in live]
        parts = []
        if self.live_names:
            parts.append(f"LIVE: {', '.join(self.live_names)}")
        if paper:
            parts.append(f"paper: {', '.join(paper)}")
        tip = "CTS Desktop - " + ("; ".join(parts) if parts else "no engine running")
        self.tooltip = tip
        if self.tray is not None:
            self.tray.setIcon(self._icons[bool(self.live_names)])
            self.tray.setToolTip(tip)

    def rebuild_menu(self) -> None:
        """Show window, Start/Stop per connection, Stop all engines, Settings, Quit."""
        m = self.menu
        m.clear()
        self.engine_actions = {}
        show = m.addAction("Show CTS Desktop")
        show.setObjectName("tray_show")
        show.triggered.connect(self.show_window)
        m.addSeparator()
        for c in self.services.connections():
            state = self.services.engine_state(c.name)
            running = state in ACTIVE_STATES
            a = m.addAction(f"{'Stop' if running else 'Start'} {c.name}{'  [LIVE]' if c.live else ''}")
            a.setObjectName(f"tray_engine_{c.name}")
            a.setEnabled(state != ev.STOPPING)
            a.triggered.connect(lambda _c=False, n=c.name, r=running: self._toggle(n, r))
            self.engine_actions[c.name] = a
        m.addSeparator()
        stop_all = m.addAction("Stop all engines")
        stop_all.setObjectName("tray_stop_all")
        stop_all.setToolTip("Stops every engine; orders and positions stay as they are (the kill switch cancels "
                            "and flattens)")
        stop_all.setStatusTip(stop_all.toolTip())
        stop_all.setEnabled(bool(self._active()))
        stop_all.triggered.connect(self.stop_all)
        kill = m.addAction("Kill switch…")
        kill.setObjectName("tray_kill")
        kill.setToolTip("Cancel every open order, close every position, stop every engine (asks first)")
        kill.setEnabled(bool(self._active()))
        kill.triggered.connect(self._kill)
        settings = m.addAction("Settings...")
        settings.setObjectName("tray_settings")
        settings.triggered.connect(self.win.open_settings)
        m.addSeparator()
        quit_action = m.addAction("Quit")
        quit_action.setObjectName("tray_quit")
        quit_action.triggered.connect(self.win.close)

    def action(self, name: str) -> Optional[QAction]:
        """The menu action with object name ``name`` (``tray_show``, ``tray_stop_all``, ...)."""
        return next((a for a in self.menu.actions() if a.objectName() == name), None)

    # -- commands ---------------------------------------------------------------------------------
    def _run(self, coro, what: str) -> asyncio.Future:
        fut = asyncio.ensure_future(coro)

        def done(f: asyncio.Future) -> None:
            if not f.cancelled() and f.exception() is not None:
                self.win.notify(f"Could not {what}: {f.exception()}")
        fut.add_done_callback(done)
        return fut

    def _toggle(self, name: str, running: bool) -> asyncio.Future:
        if running:
            return self._run(self.services.stop_engine(name), f"stop {name}")
        return self._run(self.services.start_engine(name), f"start {name}")

    def _kill(self) -> None:
        from . import kill_switch  # the window's own confirmation and kill path
        self.win.showNormal()
        self.win.raise_()
        kill_switch.ask_kill(self.win)

    def stop_all(self) -> asyncio.Future:
        """Stop every engine (positions stay open)."""
        return self._run(self.services.stop_all("stopped from the tray menu"), "stop the engines")

    def show_window(self) -> None:
        w = self.win
        w.showNormal()
        w.raise_()
        w.activateWindow()

    def _activated(self, reason) -> None:
        if reason == QSystemTrayIcon.ActivationReason.Trigger:
            self.show_window()

    def close(self) -> None:
        self._timer.stop()
        if self.tray is not None:
            self.tray.hide()

