"""The kill switch and the breaker re-arm in the main window: a red toolbar button and
Ctrl+Shift+K, Engine menu entries, a confirmation that says what will happen (the words are the
service's, :meth:`cts_desktop.services.kill.KillService.plan`), and the result in the banner.
No rules here: everything is :class:`~cts_desktop.services.kill.KillService`."""
from __future__ import annotations

import asyncio
from typing import Optional

from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QInputDialog, QMessageBox

from ..services.kill import KillError, KillService

SHORTCUT = "Ctrl+Shift+K"


def install(win) -> None:
    """Add the kill switch (toolbar + Engine menu), "Re-arm risk breaker" and "Resume paused
    symbol…" to ``win``."""
    win.killer = KillService(win.services)
    kill = QAction("KILL SWITCH", win)
    kill.setObjectName("action_kill")
    kill.setShortcut(QKeySequence(SHORTCUT))
    kill.setToolTip(f"Kill switch: cancel every open order, close every position, stop every engine ({SHORTCUT})")
    kill.setStatusTip("Kill switch: cancel every open order, close every position, stop every engine")
    kill.triggered.connect(lambda: ask_kill(win))
    rearm = QAction("Re-arm risk breaker", win)
    rearm.setObjectName("action_rearm")
    rearm.setStatusTip("Allow new entries again on the selected connection after its max-drawdown breaker tripped")
    rearm.triggered.connect(lambda: rearm_selected(win))
    resume = QAction("Resume paused symbol…", win)
    resume.setObjectName("action_resume_symbol")
    resume.setStatusTip("Allow entries and exits again on a symbol paused after its exit was refused again and again")
    resume.triggered.connect(lambda: resume_paused(win))
    win.toolbar.addSeparator()
    win.toolbar.addAction(kill)
    button = win.toolbar.widgetForAction(kill)
    if button is not None:
        button.setObjectName("KillButton")
        button.setStyleSheet("QToolButton#KillButton { color: white; background: #c62828; font-weight: 600; "
                             "border-radius: 4px; padding: 4px 12px; }")
    for menu_action in win.menuBar().actions():
        if menu_action.text() == "&Engine" and menu_action.menu() is not None:
            menu_action.menu().addSeparator()
            menu_action.menu().addAction(kill)
            menu_action.menu().addAction(rearm)
            menu_action.menu().addAction(resume)
    win.actions["kill"], win.actions["rearm"], win.actions["resume_symbol"] = kill, rearm, resume


def ask_kill(win, name: Optional[str] = None) -> None:
    """The confirmation (non-blocking); the kill runs when the trader clicks "Kill". ``name``: that
    connection only (a Dashboard card's Kill), else every running engine."""
    try:
        plan = win.killer.plan([name] if name is not None else None)
    except KillError as exc:
        win.notify(str(exc), "info")
        return
    box = QMessageBox(QMessageBox.Icon.Warning, "Kill switch", plan, QMessageBox.StandardButton.Cancel, win)
    box.setObjectName("KillConfirm")
    box.setInformativeText("This acts at once and cannot be undone; the engines can be started again afterwards.")
    go = box.addButton("Kill", QMessageBox.ButtonRole.DestructiveRole)
    go.setObjectName("KillConfirmButton")
    box.setDefaultButton(QMessageBox.StandardButton.Cancel)
    box.buttonClicked.connect(lambda b: _killed(win, name) if b is go else None)
    box.open()
    win.kill_confirm = box


async def _kill_one(win, name: str) -> list:
    return [await win.killer.kill(name)]


def _killed(win, name: Optional[str] = None) -> None:
    fut = asyncio.ensure_future(win.killer.kill_all() if name is None else _kill_one(win, name))

    def done(f: asyncio.Future) -> None:
        if f.cancelled():
            return
        exc = f.exception()
        if exc is not None:
            win.notify(f"Kill switch failed: {exc}")
            return
        reports = f.result()
        bad = any(r.errors or r.left_open for r in reports)
        win.notify("\n".join(r.line() for r in reports), "error" if bad else "info")

    fut.add_done_callback(done)
    win.kill_future = fut


def rearm_selected(win) -> None:
    """Re-arm the selected connection's breaker; the answer goes to the banner."""
    name = win.current
    if name is None:
        return
    try:
        win.notify(win.killer.rearm(name), "info")
    except (KillError, KeyError) as exc:
        win.notify(str(exc.args[0] if isinstance(exc, KeyError) else exc), "info")


def resume_paused(win, symbol: Optional[str] = None) -> None:
    """Pick one of the selected connection's paused symbols (with why it was paused) and lift the
    pause; ``symbol`` skips the question (scripts and tests). The answer goes to the banner."""
    name = win.current
    paused = win.killer.paused(name) if name is not None else {}
    if not paused:
        win.notify(f"{name or 'No connection'}: no symbol is paused", "info")
        return
    if symbol is None:
        items = {f"{sym}  ({why})": sym for sym, why in paused.items()}
        choice, ok = QInputDialog.getItem(win, "Resume paused symbol", "Check the wallet at the exchange first. "
                                          "Resume:", list(items), 0, False)
        if not ok:
            return
        symbol = items[choice]
    try:
        win.notify(win.killer.resume_symbol(name, symbol), "info")
    except KillError as exc:
        win.notify(str(exc), "info")
