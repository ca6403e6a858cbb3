"""Connection settings: a JSON file in the user's config directory.

The record itself (:class:`ConnectionConfig`, its allowed values, :class:`SettingsError`) is
defined in :mod:`cts_desktop.core.connection` and re-exported here.

Kept apart from the trade database on purpose: resetting the settings must not touch the trade
history, and deleting the database must not lose the connections. Secrets are never stored
here: a connection lists only the *names* of the credential fields it has in the OS keyring
(see ``store/secrets.py``).

File: ``<config dir>/connections.json`` (``platformdirs.user_config_dir("cts-desktop")`` unless
``--config-dir`` overrides it), written atomically (temp file + ``os.replace``).
"""
from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Dict

# The connection record lives in core (every layer holds one); re-exported here for the importers.
from ..core.connection import (API_TYPES, BUILTIN_PAPER_NAME, MARKET_TYPE_ALIASES, MARKET_TYPES,  # noqa: F401
                               PAPER_EXCHANGE, POSITION_MODES, SPEEDS, ConnectionConfig, SettingsError,
                               builtin_paper_connection)

SETTINGS_VERSION = 1


def default_config_dir() -> Path:
    """``platformdirs.user_config_dir("cts-desktop")``: where the settings file lives by default."""
    import platformdirs

    return Path(platformdirs.user_config_dir("cts-desktop", appauthor=False))


class SettingsStore:
    """Loads and saves the connections file. Not thread-safe; the UI and CLI own one each."""

    def __init__(self, config_dir: Path):
        self.config_dir = Path(config_dir)
        self.path = self.config_dir / "connections.json"
        self.connections: Dict[str, ConnectionConfig] = {}

    def load(self) -> "SettingsStore":
        """Read the file; create it with the built-in paper connection on first start.

        Raises :class:`SettingsError` for an unreadable or corrupt file (it is left untouched).
        """
        if not self.path.exists():
            self.connections = {BUILTIN_PAPER_NAME: builtin_paper_connection()}
            self.save()
            return self
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
            conns = [ConnectionConfig.from_json(c) for c in data.get("connections", [])]
        except (OSError, ValueError, TypeError, AttributeError) as exc:
            raise SettingsError(f"cannot read connection settings {self.path}: {exc}") from None
        if data.get("version", 1) > SETTINGS_VERSION:
            raise SettingsError(
                f"{self.path} was written by a newer CTS Desktop (settings version {data.get('version')}); "
                "upgrade the app to use it"
            )
        self.connections = {c.name: c for c in conns}
        if not any(c.builtin for c in conns):
            self.connections[BUILTIN_PAPER_NAME] = builtin_paper_connection()
        return self

    def save(self) -> None:
        """Write atomically. Raises :class:`SettingsError` when the directory is not writable."""
        payload = {"version": SETTINGS_VERSION, "connections": [c.to_json() for c in self.connections.values()]}
        try:
            self.config_dir.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=".connections.", dir=self.config_dir)
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                json.dump(payload, fh, indent=2, sort_keys=True)
            os.replace(tmp, self.path)
        except OSError as exc:
            raise SettingsError(f"cannot write connection settings in {self.config_dir}: {exc.strerror or exc}") from None

    def get(self, name: str) -> ConnectionConfig:
        """The connection called ``name``; ``KeyError`` lists the known names."""
        try:
            return self.connections[name]
        except KeyError:
            raise KeyError(f"unknown connection {name!r}; known: {', '.join(sorted(self.connections))}") from None

    def put(self, conn: ConnectionConfig) -> None:
        self.connections[conn.name] = conn
        self.save()

    def rename(self, old: str, new: str) -> ConnectionConfig:
        """Give connection ``old`` the name ``new`` (keeping its place in the file) and save.

        Only the settings file: moving the keyring entries is the caller's job
        (``SecretStore.rename_connection``). Raises ``KeyError`` for an unknown ``old`` and
        :class:`SettingsError` when ``new`` is taken or empty, or ``old`` is built in.
        """
        conn = self.get(old)
        if conn.builtin:
            raise SettingsError(f"{old!r} is built in and cannot be renamed")
        if new == old:
            return conn
        if not new or new != new.strip():
            raise SettingsError(f"connection name {new!r} must be non-empty without leading or trailing spaces")
        if new in self.connections:
            raise SettingsError(f"a connection called {new!r} already exists")
        conn.name = new
        self.connections = {(new if k == old else k): v for k, v in self.connections.items()}
        self.save()
        return conn

    def remove(self, name: str) -> ConnectionConfig:
        conn = self.get(name)
        if conn.builtin:
            raise SettingsError(f"{name!r} is built in and cannot be removed")
        del self.connections[name]
        self.save()
        return conn
