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

import errno
import json
import os
import tempfile
import typing
from dataclasses import fields
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

# The connection record lives in core (every layer holds one); re-exported here for the importers.
from ..core.connection import (API_TYPES, BUILTIN_PAPER_NAME, MARKET_TYPE_ALIASES, MARKET_TYPES,  # noqa: F401
                               PAPER_EXCHANGE, POSITION_MODES, SPEEDS, ConnectionConfig, SettingsError,
                               builtin_paper_connection)

SETTINGS_VERSION = 1


class SettingsFileError(SettingsError):
    """The settings file or its directory cannot be read or written. ``errno``: the operating
    system's error number (``errno.EACCES`` ...), or None when the file's content is at fault."""

    def __init__(self, message: str, errno_: Optional[int] = None):
        super().__init__(message)
        self.errno = errno_

    @property
    def permission_denied(self) -> bool:
        """True when the cause is permissions (``EACCES``/``EPERM``), and only then."""
        return self.errno in (errno.EACCES, errno.EPERM)


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

        Raises :class:`SettingsFileError` for an unreadable or corrupt file (it is left
        untouched): not JSON, a value of the wrong type (the message names the connection and
        the field), two connections with the same name, a newer settings version.
        """
        if not self.path.exists():
            self.connections = {BUILTIN_PAPER_NAME: builtin_paper_connection()}
            self.save()
            return self
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except OSError as exc:
            raise SettingsFileError(f"cannot read connection settings {self.path}: {exc.strerror or exc}",
                                    exc.errno) from None
        except ValueError as exc:  # JSONDecodeError, UnicodeDecodeError
            raise SettingsFileError(f"cannot read connection settings {self.path}: {exc}") from None
        conns = self._parse(data)
        self.connections = {c.name: c for c in conns}
        if not any(c.builtin for c in conns):
            self.connections[BUILTIN_PAPER_NAME] = builtin_paper_connection()
        return self

    def _parse(self, data: Any) -> List[ConnectionConfig]:
        """The connections in the file's JSON ``data``; :class:`SettingsFileError` naming what is wrong."""
        def bad(what: str) -> SettingsFileError:
            return SettingsFileError(f"cannot read connection settings {self.path}: {what}; "
                                     "fix or remove the file (nothing was changed)")
        if not isinstance(data, dict):
            raise bad(f"expected a JSON object with \"version\" and \"connections\", got {_kind(data)}")
        version = data.get("version", 1)
        if not isinstance(version, int) or isinstance(version, bool):
            raise bad(f"\"version\" must be a whole number, got {_kind(version)}")
        if version > SETTINGS_VERSION:
            raise SettingsFileError(
                f"{self.path} was written by a newer CTS Desktop (settings version {version}); "
                "upgrade the app to use it"
            )
        entries = data.get("connections", [])
        if not isinstance(entries, list):
            raise bad(f"\"connections\" must be a list, got {_kind(entries)}")
        conns: List[ConnectionConfig] = []
        first_of: Dict[str, int] = {}
        for number, entry in enumerate(entries, start=1):
            where = f"connection {number}"
            if not isinstance(entry, dict):
                raise bad(f"{where} must be an object of fields, got {_kind(entry)}")
            if isinstance(entry.get("name"), str):
                where += f" ({entry['name']!r})"
            problem = field_type_problem(entry)
            if problem:
                raise bad(f"{where}: {problem}")
            conn = ConnectionConfig.from_json(entry)
            if conn.name in first_of:
                raise bad(f"connections {first_of[conn.name]} and {number} are both named {conn.name!r}; "
                          "rename or remove one")
            first_of[conn.name] = number
            conns.append(conn)
        return conns

    def save(self) -> None:
        """Write atomically. Raises :class:`SettingsFileError` when the directory is not writable
        (``errno`` says why) and :class:`SettingsError` when two connections share a name or one is
        kept under another's name (nothing is written: a connection is never silently dropped)."""
        names: Dict[str, str] = {}
        for key, conn in self.connections.items():
            if conn.name != key or conn.name in names:
                raise SettingsError(f"two connections are named {conn.name!r}; give one another name (nothing was saved)")
            names[conn.name] = key
        payload = {"version": SETTINGS_VERSION, "connections": [c.to_json() for c in self.connections.values()]}
        try:
            self.config_dir.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=".connections.", dir=self.config_dir)
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                json.dump(payload, fh, indent=2, sort_keys=True)
            os.replace(tmp, self.path)
        except OSError as exc:
            raise SettingsFileError(f"cannot write connection settings in {self.config_dir}: {exc.strerror or exc}",
                                    exc.errno) from None

    def get(self, name: str) -> ConnectionConfig:
        """The connection called ``name``; ``KeyError`` lists the known names."""
        try:
            return self.connections[name]
        except KeyError:
            raise KeyError(f"unknown connection {name!r}; known: {', '.join(sorted(self.connections))}") from None

    def put(self, conn: ConnectionConfig) -> None:
        """Save ``conn`` in place of the connection of the same name (or as a new one)."""
        self.connections[conn.name] = conn
        self.save()

    def add(self, conn: ConnectionConfig) -> None:
        """Save new connection ``conn``; :class:`SettingsError` when its name is taken (the
        connection of that name is never replaced)."""
        if conn.name in self.connections:
            raise SettingsError(f"a connection called {conn.name!r} already exists")
        self.put(conn)

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


# ------------------------------------------------------------------------------------------------
# field types of a connection in the file
# ------------------------------------------------------------------------------------------------
def _kind(value: Any) -> str:
    """How a JSON value is called in a message: ``the text '1'``, ``a list``, ``the number 5``."""
    if isinstance(value, bool):
        return f"{str(value).lower()}"
    if isinstance(value, str):
        return f"the text {value!r}"
    if isinstance(value, (int, float)):
        return f"the number {value!r}"
    if value is None:
        return "null"
    if isinstance(value, list):
        return "a list"
    return "an object" if isinstance(value, dict) else type(value).__name__


def _expected(hint: Any) -> Tuple[Tuple[type, ...], str]:
    """``(accepted Python types, words)`` for a field's type hint."""
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if origin is typing.Union and type(None) in args:
        inner, words = _expected(next(a for a in args if a is not type(None)))
        return inner + (type(None),), words + " or null"
    table: Dict[Any, Tuple[Tuple[type, ...], str]] = {str: ((str,), "text"), bool: ((bool,), "true or false"), int: ((int,), "a whole number"),
             float: ((int, float), "a number"), list: ((list,), "a list"), dict: ((dict,), "an object")}
    return table.get(origin or hint, ((object,), "any value"))


_HINTS = typing.get_type_hints(ConnectionConfig)
_FIELD_TYPES = {f.name: _expected(_HINTS[f.name]) for f in fields(ConnectionConfig)}


def field_type_problem(entry: Dict[str, Any]) -> Optional[str]:
    """What is wrong with the types of a connection's fields in the file (``"field 'name' must be
    text, got the number 5"``), or None. Unknown fields are ignored; ``name`` is required."""
    if "name" not in entry:
        return "field 'name' is missing"
    for key, value in entry.items():
        if key not in _FIELD_TYPES:
            continue
        accepted, words = _FIELD_TYPES[key]
        wrong_bool = isinstance(value, bool) and bool not in accepted
        if wrong_bool or not isinstance(value, accepted):
            return f"field {key!r} must be {words}, got {_kind(value)}"
        if not isinstance(value, list):
            continue
        if key in ("symbols", "credential_fields", "strategy_symbols") and not all(isinstance(v, str) for v in value):
            return f"field {key!r} must be a list of texts"
        if key == "extra_strategies" and not all(isinstance(v, dict) for v in value):
            return f"field {key!r} must be a list of objects"
    return None
