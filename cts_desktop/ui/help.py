"""Help: the About box (versions and folders) and the keyboard shortcuts table.

The shortcuts are never listed by hand: :func:`shortcut_rows` walks the window's menus and reads
each action's own shortcut (the actions are declared once, in ``main_window/chrome.py``), so
the table cannot drift from what the keys do. Qt shows the same shortcuts in the menus.
"""
from __future__ import annotations

import platform
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import List, Tuple

from PySide6 import __version__ as pyside_version
from PySide6.QtCore import Qt, QUrl, qVersion
from PySide6.QtGui import QAction, QDesktopServices, QKeySequence
from PySide6.QtWidgets import (QAbstractItemView, QDialog, QDialogButtonBox, QHeaderView, QLabel, QMenu,
                               QTableWidget, QTableWidgetItem, QVBoxLayout)

from ..store.logfile import current_log_file, log_dir


def _dist_version(name: str) -> str:
    try:
        return version(name)
    except PackageNotFoundError:
        return "not installed"


def app_version() -> str:
    """The installed package's version, "source checkout" when it is not installed."""
    v = _dist_version("cts-desktop")
    return "source checkout" if v == "not installed" else v


def about_rows(services) -> List[Tuple[str, str]]:
    """``[(label, text)]``: versions (app, Python, Qt, PySide6, ccxt, read from the package
    metadata: ccxt is not imported for this) and the data, config and log folders."""
    log_file = current_log_file()
    return [
        ("CTS Desktop", app_version()),
        ("Python", f"{platform.python_version()} ({platform.python_implementation()})"),
        ("Qt", qVersion()),
        ("PySide6", pyside_version),
        ("ccxt", _dist_version("ccxt")),
        ("Platform", f"{platform.system()} {platform.release()} ({platform.machine()})"),
        ("Data folder", str(services.data_dir)),
        ("Config folder", str(services.config_dir)),
        ("Log file", str(log_file) if log_file else f"not written in this run (normally in {log_dir()})"),
    ]


def _link(path: str) -> str:
    url = QUrl.fromLocalFile(path).toString()
    return f'<a href="{url}">{path}</a>'


def show_about(win) -> QDialog:
    """A non-modal About box; folders are links that open in the file manager. Returns it."""
    dlg = QDialog(win)
    dlg.setObjectName("AboutDialog")
    dlg.setWindowTitle("About CTS Desktop")
    dlg.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
    lay = QVBoxLayout(dlg)
    title = QLabel("<h2>CTS Desktop</h2><p>Desktop crypto trading station: paper trading on recorded markets "
                   "and live trading through ccxt; every order, fill and position kept in SQLite.</p>")
    title.setWordWrap(True)
    lay.addWidget(title)
    rows = about_rows(win.services)
    html = "".join(
        f"<tr><td style='padding-right:16px'><b>{label}</b></td><td>"
        f"{_link(text) if label.endswith(('folder', 'file')) and Path(text).is_absolute() else text}</td></tr>"
        for label, text in rows)
    table = QLabel(f"<table>{html}</table>")
    table.setObjectName("AboutTable")
    table.setTextInteractionFlags(Qt.TextInteractionFlag.TextBrowserInteraction)
    table.setOpenExternalLinks(False)
    table.linkActivated.connect(lambda url: QDesktopServices.openUrl(QUrl(url)))
    lay.addWidget(table)
    hint = QLabel("When reporting a problem, attach the log file: secrets are never written to it.")
    hint.setObjectName("Hint")
    hint.setWordWrap(True)
    lay.addWidget(hint)
    buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
    buttons.rejected.connect(dlg.close)
    lay.addWidget(buttons)
    dlg.setModal(False)
    dlg.show()
    win._about_dialog = dlg
    return dlg


def _walk(menu: QMenu, path: str, out: List[Tuple[str, str, str]]) -> None:
    for a in menu.actions():
        if a.menu() is not None:
            _walk(a.menu(), f"{path} > {a.text().replace('&', '')}", out)
        elif not a.isSeparator() and not a.shortcut().isEmpty():
            text = a.text().replace("&", "").replace("▶", "").replace("❚❚", "").replace("■", "").strip()
            out.append((a.shortcut().toString(QKeySequence.SequenceFormat.NativeText), text, path))


def shortcut_rows(win) -> List[Tuple[str, str, str]]:
    """``[(keys, action, menu)]`` of every menu action of ``win`` that has a shortcut, in menu
    order, read from the actions themselves."""
    out: List[Tuple[str, str, str]] = []
    for top in win.menuBar().actions():
        if top.menu() is not None:
            _walk(top.menu(), top.text().replace("&", ""), out)
    seen = {keys for keys, _t, _m in out}
    for a in win.findChildren(QAction):  # actions with a shortcut outside the menus (none today)
        keys = a.shortcut().toString(QKeySequence.SequenceFormat.NativeText)
        if keys and keys not in seen:
            out.append((keys, a.text().replace("&", "").strip(), ""))
            seen.add(keys)
    return out


class ShortcutsDialog(QDialog):
    """Help > Keyboard shortcuts: a table (keys, action, menu) generated from the actions."""

    def __init__(self, win):
        super().__init__(win)
        self.setObjectName("ShortcutsDialog")
        self.setWindowTitle("Keyboard shortcuts - CTS Desktop")
        rows = shortcut_rows(win)
        self.table = QTableWidget(len(rows), 3)
        self.table.setObjectName("ShortcutsTable")
        self.table.setHorizontalHeaderLabels(["Keys", "Action", "Menu"])
        self.table.verticalHeader().setVisible(False)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
        self.table.setShowGrid(False)
        for r, row in enumerate(rows):
            for c, text in enumerate(row):
                self.table.setItem(r, c, QTableWidgetItem(text))
        hh = self.table.horizontalHeader()
        hh.setSectionResizeMode(0, QHeaderView.ResizeMode.ResizeToContents)
        hh.setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
        hh.setSectionResizeMode(2, QHeaderView.ResizeMode.ResizeToContents)
        lay = QVBoxLayout(self)
        lay.addWidget(QLabel("Every shortcut of the menus (also shown next to each menu item)."))
        lay.addWidget(self.table, 1)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.close)
        lay.addWidget(buttons)
        self.table.resizeRowsToContents()
        rows_height = sum(self.table.rowHeight(r) for r in range(len(rows)))
        self.table.setMinimumHeight(min(520, rows_height + self.table.horizontalHeader().sizeHint().height() + 4))
        self.resize(560, self.sizeHint().height())


def show_shortcuts(win) -> ShortcutsDialog:
    """Open (non-modal) the shortcuts table for ``win``; returns the dialog."""
    dlg = ShortcutsDialog(win)
    dlg.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
    dlg.show()
    win._shortcuts_dialog = dlg
    return dlg


__all__ = ["ShortcutsDialog", "about_rows", "app_version", "show_about", "show_shortcuts", "shortcut_rows"]
