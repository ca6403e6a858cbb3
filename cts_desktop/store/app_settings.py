"""The app's own preferences: ``<config dir>/settings.json``, next to ``connections.json``.

This module only reads and writes the file; what the values mean, their defaults and their
validation are :mod:`cts_desktop.services.app_settings`. The file is a JSON object::

    {"version": 1, "theme": "dark", "ui_refresh_ms": 100, ...}

* written atomically (temp file in the same directory + ``os.replace``), so a crash leaves the
  old file or the new one, never half of one;
* versioned (``version``, :data:`APP_SETTINGS_VERSION`); a file from a newer app is read (the
  keys this app knows) and saved back under the newer version number;
* keys this app does not know (written by a newer version, or by hand) are kept on save.

Secrets never go here.
"""
from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any, Dict, Optional

from ..core.connection import SettingsError

APP_SETTINGS_VERSION = 1
APP_SETTINGS_FILE = "settings.json"


class AppSettingsFile:
    """``<config_dir>/settings.json``. Not thread-safe; one per process."""

    def __init__(self, config_dir: Path) -> None:
        self.config_dir = Path(config_dir)
        self.path = self.config_dir / APP_SETTINGS_FILE
        self.version = APP_SETTINGS_VERSION  # of the file as read (never lower than ours)

    def read(self) -> Dict[str, Any]:
        """Every key of the file except ``version`` (``{}`` when there is no file yet).

        Raises :class:`SettingsError` naming the file for an unreadable file, invalid JSON, or a
        top level that is not an object; the file is left untouched.
        """
        if not self.path.exists():
            return {}
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise SettingsError(f"cannot read the app settings {self.path}: {exc}") from None
        if not isinstance(data, dict):
            raise SettingsError(f"cannot read the app settings {self.path}: not a JSON object")
        version = data.pop("version", APP_SETTINGS_VERSION)
        if isinstance(version, int) and version > APP_SETTINGS_VERSION:
            self.version = version
        return data

    def write(self, values: Dict[str, Any]) -> None:
        """Write ``values`` (plus ``version``) atomically. Raises :class:`SettingsError` when the
        directory cannot be written."""
        payload = dict(values)
        payload["version"] = self.version
        tmp: Optional[str] = None
        try:
            self.config_dir.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=".settings.", dir=self.config_dir)
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                json.dump(payload, fh, indent=2, sort_keys=True)
            os.replace(tmp, self.path)
            tmp = None
        except OSError as exc:
            raise SettingsError(f"cannot write the app settings in {self.config_dir}: {exc.strerror or exc}") from None
        finally:
            if tmp is not None and os.path.exists(tmp):
                os.unlink(tmp)


def stored_database_dir(config_dir: Path) -> Optional[Path]:
    """The database folder chosen in Settings (``database_dir``), or None when none is chosen or
    the file cannot be read (start-up then uses the default; opening the app settings later
    reports the problem). Used by :func:`cts_desktop.store.paths.resolve`."""
    try:
        value = AppSettingsFile(config_dir).read().get("database_dir")
    except SettingsError:
        return None
    if isinstance(value, str) and value.strip():
        return Path(value.strip()).expanduser()
    return None
