"""Latched circuit breakers: ``<data dir>/breakers.json``, next to the trade database.

A tripped max-drawdown breaker keeps its connection close-only until the trader re-arms it, across
restarts and across processes (the GUI, a headless run and ``cts-desktop risk rearm`` all read this
file). The file is a JSON object::

    {"version": 1, "latched": {"<connection>": {"reason": "...", "at": <ms UTC>}}}

written atomically (temp file in the same directory + ``os.replace``). A file that cannot be read
raises :class:`~cts_desktop.core.connection.SettingsError` naming it: the engine then refuses to
start rather than trade with an unknown latch (re-arming rewrites the file).
"""
from __future__ import annotations

import json
import os
import tempfile
import threading
from pathlib import Path
from typing import Any, Dict, Optional

from ..core.connection import SettingsError

BREAKERS_FILE = "breakers.json"
_LOCK = threading.Lock()


class LatchStore:
    """The latched breakers of one data dir (``data_dir``: where the trade database lives)."""

    def __init__(self, data_dir: Path) -> None:
        self.path = Path(data_dir) / BREAKERS_FILE

    def _read(self) -> Dict[str, Dict[str, Any]]:
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return {}
        except OSError as exc:
            raise SettingsError(f"cannot read {self.path}: {exc.strerror or exc}") from None
        try:
            data = json.loads(text)
            latched = data.get("latched", {})
            if not isinstance(latched, dict):
                raise ValueError("'latched' is not an object")
        except (ValueError, AttributeError) as exc:
            raise SettingsError(f"{self.path} is not a valid breakers file ({exc}); re-arm to rewrite it") from None
        return {str(k): dict(v) for k, v in latched.items() if isinstance(v, dict)}

    def _write(self, latched: Dict[str, Dict[str, Any]]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".breakers.", dir=self.path.parent)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                json.dump({"version": 1, "latched": latched}, f, indent=1, sort_keys=True)
            os.replace(tmp, self.path)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)

    def latched(self, connection: str) -> Optional[Dict[str, Any]]:
        """``{"reason": str, "at": ms}`` when ``connection``'s breaker is latched, else None."""
        return self._read().get(connection)

    def all(self) -> Dict[str, Dict[str, Any]]:
        """Every latched connection -> ``{"reason", "at"}``."""
        return self._read()

    def latch(self, connection: str, reason: str, at_ms: int) -> None:
        """Record that ``connection``'s breaker tripped (``reason``) at ``at_ms`` (ms UTC)."""
        with _LOCK:
            latched = self._read()
            latched[connection] = {"reason": reason, "at": int(at_ms)}
            self._write(latched)

    def clear(self, connection: str) -> bool:
        """Re-arm ``connection``: False when it was not latched. An unreadable file is rewritten."""
        with _LOCK:
            try:
                latched = self._read()
            except SettingsError:
                latched = {}
                self._write(latched)
                return True
            if connection not in latched:
                return False
            del latched[connection]
            self._write(latched)
            return True
