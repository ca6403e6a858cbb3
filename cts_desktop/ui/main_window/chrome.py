"""The main window's chrome: the engine actions, the menus, the connection toolbar, the status
bar, the dismissible banner, and the About box. Builders take the window and set its widgets
(``win.actions``, ``win.view_menu``, ``win.connection_combo``, ``win.mode_badge``,
``win.toolbar_info``, ``win.status_state``, ``win.status_progress``)."""
from __future__ import annotations

from typing import Dict

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QComboBox, QFrame, QHBoxLayout, QLabel, QToolBar, QToolButton

from .. import help as help_ui
from .. import kill_switch, trade_actions
from ..tour import show_tour
from ..widgets import ElidedLabel, repolish
from . import exporting

TAB_NAMES = ("Dashboard", "Connections", "Live Trading", "Positions", "Activity")


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


def make_actions(win) -> Dict[str, QAction]:
    """Start, Pause, Resume, Stop (F5-F8), wired to the window's engine commands."""
    def act(key, text, shortcut, slot, tip):
        a = QAction(text, win)
        a.setObjectName(f"action_{key}")
        a.setShortcut(QKeySequence(shortcut))
        a.setToolTip(f"{tip} ({shortcut})")
        a.setStatusTip(tip)
        a.triggered.connect(slot)
        return a

    return {
        "start": act("start", "▶  Start", "F5", win.start_engine, "Start the selected connection's engine"),
        "pause": act("pause", "❚❚  Pause", "F6", win.pause_engine, "Hold the replay; positions stay open"),
        "resume": act("resume", "▶  Resume", "F7", win.resume_engine, "Continue a paused replay"),
        "stop": act("stop", "■  Stop", "F8", win.stop_engine, "Stop the engine and end the run"),
    }


def make_menus(win) -> None:
    """File (Export, Quit), Engine, View (tabs, reset layout), Tools (Backtest, Optimize, Settings), Help (shortcuts, tour,
    About)."""
    mb = win.menuBar()
    file_menu = mb.addMenu("&File")
    exporting.add_export_menu(win, file_menu)
    file_menu.addSeparator()
    quit_action = QAction("&Quit", win)
    quit_action.setShortcut(QKeySequence("Ctrl+Q"))  # StandardKey.Quit is empty on some Linux desktops
    quit_action.triggered.connect(win.close)
    file_menu.addAction(quit_action)
    engine_menu = mb.addMenu("&Engine")
    for key in ("start", "pause", "resume", "stop"):
        engine_menu.addAction(win.actions[key])
    win.view_menu = mb.addMenu("&View")
    for i, title in enumerate(TAB_NAMES):
        a = QAction(title, win)
        a.setShortcut(QKeySequence(f"Ctrl+{i + 1}"))
        a.triggered.connect(lambda _c=False, i=i: win.tabs.setCurrentIndex(i))
        win.view_menu.addAction(a)
    win.view_menu.addSeparator()
    reset = QAction("Reset layout", win)
    reset.triggered.connect(win.reset_layout)
    win.view_menu.addAction(reset)
    tools_menu = mb.addMenu("&Tools")
    backtest = QAction("&Backtest...", win)
    backtest.setShortcut(QKeySequence("Ctrl+B"))
    backtest.triggered.connect(win.open_backtest)
    tools_menu.addAction(backtest)
    optimize = QAction("&Optimize...", win)
    optimize.setObjectName("action_optimize")
    optimize.setShortcut(QKeySequence("Ctrl+Shift+O"))
    optimize.triggered.connect(win.open_optimize)
    tools_menu.addAction(optimize)
    settings = QAction("&Settings...", win)
    settings.setObjectName("action_settings")
    settings.setShortcut(QKeySequence("Ctrl+,"))
    settings.triggered.connect(win.open_settings)
    tools_menu.addAction(settings)
    help_menu = mb.addMenu("&Help")
    shortcuts = QAction("&Keyboard shortcuts", win)
    shortcuts.setObjectName("action_shortcuts")
    shortcuts.setShortcut(QKeySequence("F1"))
    shortcuts.triggered.connect(lambda: help_ui.show_shortcuts(win))
    tour = QAction("&Tour", win)
    tour.setObjectName("action_tour")
    tour.triggered.connect(lambda: show_tour(win))
    about = QAction("&About CTS Desktop", win)
    about.triggered.connect(win.show_about)
    for a in (shortcuts, tour, about):
        help_menu.addAction(a)


def make_toolbar(win) -> None:
    """The connection selector, the paper/LIVE badge and the last-run line."""
    tb = QToolBar("Connection")
    tb.setObjectName("ConnectionToolbar")
    tb.setMovable(False)
    tb.setFloatable(False)
    lbl = QLabel("Connection")
    lbl.setObjectName("FieldLabel")
    tb.addWidget(lbl)
    win.connection_combo = QComboBox()
    win.connection_combo.setObjectName("ConnectionCombo")
    win.connection_combo.setMinimumWidth(260)
    win.connection_combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
    tb.addWidget(win.connection_combo)
    win.mode_badge = QLabel()
    win.mode_badge.setObjectName("Badge")
    tb.addWidget(win.mode_badge)
    win.toolbar_info = ElidedLabel()  # takes the free width; the kill switch sits at the right end
    win.toolbar_info.setObjectName("Hint")
    tb.addWidget(win.toolbar_info)
    win.addToolBar(tb)
    win.toolbar = tb
    kill_switch.install(win)  # the kill switch button (Ctrl+Shift+K) and the breaker re-arm
    trade_actions.install(win)  # the order ticket dock, the Trade menu, the tables' cancel / close


def make_status_bar(win) -> None:
    """Replay progress and the engine state, permanently on the right."""
    sb = win.statusBar()
    sb.setObjectName("StatusBar")
    win.status_state = QLabel()
    win.status_state.setObjectName("StatusState")
    win.status_progress = QLabel()
    win.status_progress.setObjectName("StatusInfo")
    sb.addPermanentWidget(win.status_progress)
    sb.addPermanentWidget(win.status_state)


def show_about(win) -> None:
    """A non-modal About box: versions, data/config folders, the log file (see ``ui/help.py``)."""
    help_ui.show_about(win)
