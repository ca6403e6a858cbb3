"""Opening the services at start-up, with the failures a person can act on handled here.

* an unusable data or config directory, a corrupt settings file, a database from a newer app:
  the reason on stderr and, for the desktop app, in a dialog; exit code ``BAD_INPUT``;
* a damaged database (``PRAGMA quick_check``): never written into. With ``--fresh-database`` it
  is moved aside (``cts-desktop.sqlite3.damaged-<UTC time>``, with its -wal/-shm) and a fresh one
  starts; the desktop app asks (start fresh, or quit); a headless run says which option does it
  and exits ``BAD_INPUT``.
"""
from __future__ import annotations

import argparse
from pathlib import Path
from typing import Callable, Union

from ..services import AppServices
from ..store.db import DatabaseDamaged, StoreError, set_aside_damaged
from ..store.settings import SettingsError
from .exit_codes import BAD_INPUT

FRESH_OPTION = "--fresh-database"


def damaged_advice(exc: DatabaseDamaged) -> str:
    """The command-line advice for a damaged database: the option that keeps it aside."""
    return (f"Start again with {FRESH_OPTION} to keep the damaged file aside (renamed "
            f"{exc.path.name}.damaged-<UTC time>, with its -wal/-shm) and begin a new, empty database.")


def fresh_database(data_dir: Path, report: Callable[[str], None]) -> None:
    """Move the damaged database of ``data_dir`` aside and say where; raises ``StoreError``."""
    aside = set_aside_damaged(data_dir)
    report(f"the damaged database was moved to {aside} (with its -wal/-shm); starting a fresh database")


def open_services(args: argparse.Namespace, data_dir: Path, config_dir: Path,
                  report: Callable[[str], None]) -> Union[AppServices, int]:
    """:class:`AppServices` on the two directories, or the exit code after the problem was
    reported (``report`` writes a line to stderr; the GUI also shows a dialog)."""
    gui = not args.headless
    fresh = bool(getattr(args, "fresh_database", False))
    try:
        try:
            return AppServices(data_dir, config_dir)
        except DatabaseDamaged as exc:
            if not fresh and gui:
                from ..ui.startup_dialogs import ask_fresh_database
                fresh = ask_fresh_database(exc.path, exc.detail)
            if not fresh:
                report(f"{exc}. {damaged_advice(exc)}")
                return BAD_INPUT
            fresh_database(data_dir, report)
            return AppServices(data_dir, config_dir)
    except (StoreError, SettingsError) as exc:
        report(str(exc))
        if gui:
            from ..ui.startup_dialogs import show_startup_error
            show_startup_error(str(exc))
        return BAD_INPUT

