"""Starting the desktop app: QApplication, the qasync loop, the main window, and a clean exit.

``run_gui`` owns the loop until the window closes, then stops every engine
(``services.stop_all()``) and closes the store. With ``screenshot`` it starts the selected
connection's engine, lets it run ``after`` seconds, saves ``window.grab()`` to that path and exits.
"""
from __future__ import annotations

import asyncio
import logging
import signal
import sys
from typing import Optional

import qasync
from PySide6.QtCore import QTimer
from PySide6.QtGui import QIcon
from PySide6.QtWidgets import QApplication

from ..core.resources import resources_dir
from .main_window import MainWindow
from .theme import apply_theme
from .tour import maybe_show_tour

log = logging.getLogger(__name__)


def ensure_app() -> QApplication:
    """The running QApplication, or a new one (name and style set)."""
    app = QApplication.instance()
    if app is None:
        app = QApplication(sys.argv[:1])
        app.setApplicationName("CTS Desktop")
        app.setOrganizationName("cts-desktop")
        app.setDesktopFileName("cts-desktop")  # Wayland matches the window to the menu entry by this
        app.setWindowIcon(QIcon(str(resources_dir() / "icons" / "cts-desktop.svg")))
        apply_theme(app)
    return app


async def run_window(app: QApplication, window: MainWindow, services, *, autostart: bool = False,
                     screenshot: Optional[str] = None, after: float = 5.0) -> int:
    """Show ``window`` and run until it closes (or, with ``screenshot``, until the picture is
    saved); then stop the engines and close the store. Returns the exit code."""
    closed = asyncio.Event()
    window.closing.connect(closed.set)
    window.show()
    if not screenshot:
        maybe_show_tour(window)  # the first start only (a flag in the config dir); Help > Tour later
    rc = 0
    try:
        if autostart or screenshot:
            fut = window.start_engine()
            if fut is not None:
                try:
                    await fut
                except Exception:  # noqa: BLE001 - any start failure is already shown in the window
                    log.debug("autostart failed (shown in the window)", exc_info=True)
        if screenshot:
            window.tabs.setCurrentWidget(window.live_tab)
            try:
                await asyncio.wait_for(closed.wait(), timeout=max(0.0, after))
            except asyncio.TimeoutError:
                pass
            window.bridge.flush()
            await asyncio.sleep(0.1)  # let Qt lay out and paint (never processEvents() inside a task)
            if window.grab().save(screenshot):
                print(f"screenshot saved to {screenshot}")
            else:
                print(f"cts-desktop: error: could not save the screenshot to {screenshot}", file=sys.stderr)
                rc = 1
            window.close()
        else:
            await closed.wait()
    finally:
        try:
            await services.stop_all()
        except Exception:  # noqa: BLE001 - the database must still be closed on the way out
            log.exception("stopping the engines failed")
        services.close()
    return rc


def run_gui(services, *, connection: Optional[str] = None, autostart: bool = False,
            screenshot: Optional[str] = None, after: float = 5.0) -> int:
    """Run the desktop app on ``services`` until the window closes; returns the exit code (0).

    ``connection``: the connection to show (default: the one shown last time). ``autostart``:
    start its engine at once. ``screenshot``: PNG path; start, wait ``after`` seconds, save, exit.
    """
    app = ensure_app()
    apply_theme(app, services.app_settings["theme"])
    app.setQuitOnLastWindowClosed(False)  # the loop ends when run_window returns
    loop = qasync.QEventLoop(app)
    asyncio.set_event_loop(loop)
    window = MainWindow(services, connection=connection)

    # Ctrl+C in the terminal closes the window (stopping the engines) instead of killing the app.
    previous = signal.signal(signal.SIGINT, lambda *_a: window.close())
    wake = QTimer()
    wake.start(250)  # lets Python run signal handlers while Qt waits
    wake.timeout.connect(lambda: None)
    try:
        with loop:
            return loop.run_until_complete(run_window(app, window, services, autostart=autostart,
                                                      screenshot=screenshot, after=after))
    finally:
        wake.stop()
        signal.signal(signal.SIGINT, previous)
