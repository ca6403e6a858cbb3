"""Dialogs shown when the desktop app cannot start as it is: the reason in a window, not only on
the terminal a double-click never shows.

* :func:`show_startup_error`: the data or config directory is unusable, the settings file is
  corrupt, the database is from a newer version. One button, Quit.
* :func:`ask_fresh_database`: the database is damaged. "Start a fresh database" (the damaged file
  is kept, renamed ``<name>.damaged-<UTC time>``) or Quit.

Each has a ``build_*`` twin returning the unshown :class:`QMessageBox` (screenshots, tests).
"""
from __future__ import annotations

from pathlib import Path

from PySide6.QtWidgets import QMessageBox

TITLE = "CTS Desktop cannot start"
# wide enough that a path or an option (--data-dir) is not broken at a hyphen
_WIDE = "QLabel#qt_msgbox_informativelabel { min-width: 520px; }"


def build_startup_error(message: str) -> QMessageBox:
    """The dialog for a start-up problem ``message`` (a sentence naming the file and the reason)."""
    from .app_gui import ensure_app
    ensure_app()
    box = QMessageBox(QMessageBox.Icon.Critical, TITLE, "CTS Desktop cannot use its files.")
    sentence = message[:1].upper() + message[1:] + ("" if message.endswith(".") else ".")
    box.setInformativeText(sentence + "\n\nFix this, or start the app with another "
                           "--data-dir or --config-dir, then start it again.")
    box.setStyleSheet(_WIDE)
    box.setStandardButtons(QMessageBox.StandardButton.Close)
    box.button(QMessageBox.StandardButton.Close).setText("Quit")
    box.setObjectName("startupError")
    return box


def show_startup_error(message: str) -> None:
    """Show :func:`build_startup_error` and wait until it is closed."""
    build_startup_error(message).exec()


def build_fresh_database(path: Path, detail: str) -> QMessageBox:
    """The question for a damaged database at ``path`` (``detail``: what SQLite found). Its
    accept button has the object name ``freshDatabase``."""
    from .app_gui import ensure_app
    ensure_app()
    path = Path(path)
    box = QMessageBox(QMessageBox.Icon.Warning, "CTS Desktop: damaged database",
                      "The trade database is damaged. Nothing was written to it.")
    box.setInformativeText(
        f"{path}\n\nSQLite reports: {detail}\n\n"
        f"CTS Desktop can start with a new, empty database. The damaged file stays in the same folder, "
        f"renamed {path.name}.damaged-<UTC time> (with its -wal and -shm files), for a later rescue.")
    box.setStyleSheet(_WIDE)
    fresh = box.addButton(f"Start a fresh database (the damaged file is kept as {path.name}.damaged-…)",
                          QMessageBox.ButtonRole.AcceptRole)
    fresh.setObjectName("freshDatabase")
    quit_button = box.addButton("Quit", QMessageBox.ButtonRole.RejectRole)
    quit_button.setObjectName("quit")
    box.setDefaultButton(quit_button)
    box.setEscapeButton(quit_button)
    box.setObjectName("damagedDatabase")
    return box


def ask_fresh_database(path: Path, detail: str) -> bool:
    """Ask :func:`build_fresh_database`'s question; True when the trader chose a fresh database."""
    box = build_fresh_database(path, detail)
    box.exec()
    clicked = box.clickedButton()
    return clicked is not None and clicked.objectName() == "freshDatabase"
