"""The main window's remembered layout: geometry, dock/toolbar state, the current tab and
connection, table column layouts and splitter positions, in ``<config dir>/window.ini``
(QSettings, INI format)."""
from __future__ import annotations

from typing import Dict

from PySide6.QtCore import QByteArray, QSettings

UI_SETTINGS_FILE = "window.ini"
DEFAULT_SIZE = (1280, 800)


def _saved(value) -> bool:
    return isinstance(value, QByteArray) and not value.isEmpty()


class WindowLayout:
    """Saves and restores ``win``'s layout in ``settings`` (the window's ``ui_settings``)."""

    def __init__(self, win, settings: QSettings):
        self.win = win
        self.settings = settings

    def _tables(self) -> Dict[str, object]:
        w = self.win
        t = {"connections": w.connections_tab.table, "log": w.activity_tab.table}
        t.update(w.positions_tab.tables)
        return t

    def _splitters(self) -> Dict[str, object]:
        w = self.win
        return {"connections": w.connections_tab.splitter, "positions": w.positions_tab.splitter}

    def save(self) -> None:
        w, s = self.win, self.settings
        s.setValue("geometry", w.saveGeometry())
        s.setValue("windowState", w.saveState())
        s.setValue("tab", w.tabs.currentIndex())
        s.setValue("positionsLowerTab", w.positions_tab.lower.currentIndex())
        if w.current:
            s.setValue("connection", w.current)
        for name, table in self._tables().items():
            s.setValue(f"headers/{name}", table.horizontalHeader().saveState())
        for name, sp in self._splitters().items():
            s.setValue(f"splitters/{name}", sp.saveState())
        s.sync()

    def restore(self) -> None:
        w, s = self.win, self.settings
        geo = s.value("geometry")
        if _saved(geo):
            w.restoreGeometry(geo)
        state = s.value("windowState")
        if _saved(state):
            w.restoreState(state)
        default = w.tabs.indexOf(w.live_tab)
        tab = s.value("tab", default, int)
        w.tabs.setCurrentIndex(tab if 0 <= tab < w.tabs.count() else default)
        w.positions_tab.lower.setCurrentIndex(s.value("positionsLowerTab", 0, int))
        for name, table in self._tables().items():
            st = s.value(f"headers/{name}")
            if _saved(st):
                table.horizontalHeader().restoreState(st)
                table.setProperty("user_sized", True)  # the remembered widths win over fitting to the window
        for name, sp in self._splitters().items():
            st = s.value(f"splitters/{name}")
            if _saved(st):
                sp.restoreState(st)

    def reset(self) -> None:
        self.settings.clear()
        self.win.resize(*DEFAULT_SIZE)
        self.win.statusBar().showMessage("Layout reset: column widths return to their defaults at the next start.",
                                         6000)
