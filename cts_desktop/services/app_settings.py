"""The app's preferences (Settings dialog; a future ``cts-desktop settings`` command): what each
one means, its unit, default and limits, the validation whose messages both front ends show, and
the service that loads, changes and saves them (``<config dir>/settings.json``, see
:mod:`cts_desktop.store.app_settings`).

When a change takes effect (:attr:`Field.applies`):

* ``"now"``: at once, no restart: the theme, the UI refresh interval (the event bridge's timer),
  the REST polling interval (running exchange engines use it from their next poll), the
  notification switches;
* ``"new connections"``: the default rate limit and paper balance are copied into connections
  created afterwards (existing connections keep theirs);
* ``"stored"``: kept for features that read it when they act (kill-switch flattening, live order
  confirmation);
* ``"restart"``: the database folder, opened once at start.

No Qt here.
"""
from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Dict, List, Mapping, Optional, Tuple

from ..store.app_settings import AppSettingsFile

log = logging.getLogger(__name__)

THEMES = ("dark", "light", "system")
#: ccxt's ``Exchange`` base class gives every exchange ``rateLimit = 2000`` ms unless the exchange
#: declares its own (ccxt 4.x, ``ccxt/base/exchange.py``); that value therefore means "none declared".
CCXT_FALLBACK_RATE_LIMIT_MS = 2000.0


class AppSettingsError(ValueError):
    """A refused value; ``field`` is the key, the message names the field as the dialog labels it."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


@dataclass(frozen=True)
class Field:
    """One preference. ``kind``: ``"float"``, ``"int"``, ``"bool"``, ``"choice"`` or ``"folder"``;
    ``minimum``/``maximum`` bound numbers (inclusive); ``zero_means``: what 0 stands for, when 0
    is allowed below ``minimum``; ``applies``: ``"now"``, ``"new connections"``, ``"stored"``,
    ``"restart"`` (module doc)."""

    key: str
    group: str
    label: str
    kind: str
    default: Any
    unit: str
    help: str
    applies: str = "now"
    minimum: Optional[float] = None
    maximum: Optional[float] = None
    choices: Tuple[str, ...] = ()
    zero_means: str = ""


NOTIFY_KINDS = ("fills", "engine_errors", "circuit_breaker", "stale_feeds", "reconciliation")

FIELDS: Tuple[Field, ...] = (
    Field("poll_interval_s", "Engine", "REST polling interval", "float", 0.0, "s",
          "Seconds between polls of an exchange for new candles when its data comes over REST (live and "
          "exchange-paper runs). 0 = automatic: a twentieth of the candle timeframe, between 1 and 15 s. "
          "Running engines use a new value from their next poll.",
          minimum=0.5, maximum=300.0, zero_means="automatic"),
    Field("ui_refresh_ms", "Engine", "UI refresh interval", "int", 100, "ms",
          "How often the window collects the engines' events and redraws the tables and figures. Lower is "
          "livelier but costs more CPU during fast replays.", minimum=20, maximum=2000),
    Field("default_rate_limit", "Connections", "Default rate limit", "float", 2.0, "requests / s",
          "Used for a new exchange connection when the exchange declares no rate limit of its own. "
          "Existing connections keep theirs (edit them in the Connections tab).",
          applies="new connections", minimum=0.1, maximum=1000.0),
    Field("default_paper_balance", "Connections", "Default paper balance", "float", 10_000.0, "USD",
          "Starting balance of a new paper connection, in its quote currency (converted where the quote is "
          "not a dollar).", applies="new connections", minimum=1.0, maximum=1e12),
    Field("database_dir", "Storage", "Database folder", "folder", "", "folder",
          "Where the trade database (cts-desktop.sqlite3, with the downloaded candle history) is kept. "
          "Empty = the default user data folder. Takes effect at the next start (--data-dir on the command line "
          "overrides it); the current database is not moved.", applies="restart"),
    Field("theme", "Appearance", "Theme", "choice", "dark", "",
          "Dark, light, or follow the system's colour scheme (needs Qt 6.5 or later; dark when the system "
          "does not say).", choices=THEMES),
    Field("notify_fills", "Notifications", "Fills", "bool", True, "",
          "A notification when an order fills. Bursts (a fast replay) are summed up in one message every few "
          "seconds."),
    Field("notify_engine_errors", "Notifications", "Engine errors", "bool", True, "",
          "A notification when an engine stops in error."),
    Field("notify_circuit_breaker", "Notifications", "Circuit-breaker trips", "bool", True, "",
          "A notification when a circuit breaker halts trading."),
    Field("notify_stale_feeds", "Notifications", "Stale feeds", "bool", True, "",
          "A notification when a connection's market data stops arriving."),
    Field("notify_reconciliation", "Notifications", "Reconciliation results", "bool", True, "",
          "A notification with the outcome of reconciling orders with the exchange at start."),
    Field("kill_flattens", "Trading", "Kill switch flattens positions", "bool", True, "",
          "When the kill switch is used, also close every open position at market (on by default). "
          "Read by the kill switch when it acts.", applies="stored"),
    Field("confirm_live_orders", "Trading", "Confirm live orders", "bool", True, "",
          "Ask for confirmation before a manually placed order goes to a live exchange (on by default).",
          applies="stored"),
)
FIELD_BY_KEY: Dict[str, Field] = {f.key: f for f in FIELDS}
DEFAULTS: Dict[str, Any] = {f.key: f.default for f in FIELDS}


def _number(f: Field, value: Any) -> float:
    if isinstance(value, bool):
        raise AppSettingsError(f.key, f"{f.label}: must be a number")
    if isinstance(value, str):
        try:
            value = float(value.strip())
        except ValueError:
            raise AppSettingsError(f.key, f"{f.label}: {value!r} is not a number") from None
    if not isinstance(value, (int, float)) or not math.isfinite(value):
        raise AppSettingsError(f.key, f"{f.label}: must be a number")
    return float(value)


def _bool(f: Field, value: Any) -> bool:
    if isinstance(value, str) and value.strip().lower() in _WORDS:
        return _WORDS[value.strip().lower()]
    if not isinstance(value, bool):
        raise AppSettingsError(f.key, f"{f.label}: must be on or off")
    return value


def _folder(f: Field, value: Any) -> str:
    if not isinstance(value, str):
        raise AppSettingsError(f.key, f"{f.label}: must be a folder path")
    text = value.strip()
    if not text:
        return ""
    path = Path(text).expanduser()
    if not path.is_absolute():
        raise AppSettingsError(f.key, f"{f.label}: {text!r} must be an absolute path")
    if path.exists() and not path.is_dir():
        raise AppSettingsError(f.key, f"{f.label}: {text!r} is a file, not a folder")
    return str(path)


_WORDS = {"on": True, "true": True, "yes": True, "1": True, "off": False, "false": False, "no": False, "0": False}


def check(key: str, value: Any) -> Any:
    """``value`` as preference ``key`` stores it (strings are parsed, as a command line gives them).

    Raises :class:`AppSettingsError` naming the field for an unknown key or a refused value:
    a number out of range (with the unit), a choice not offered, a folder that is a file or not
    absolute.
    """
    f = FIELD_BY_KEY.get(key)
    if f is None:
        raise AppSettingsError(key, f"unknown setting {key!r}; known: {', '.join(FIELD_BY_KEY)}")
    if f.kind == "bool":
        return _bool(f, value)
    if f.kind == "choice":
        text = str(value).strip().lower()
        if text not in f.choices:
            raise AppSettingsError(key, f"{f.label}: {value!r} is not one of {', '.join(f.choices)}")
        return text
    if f.kind == "folder":
        return _folder(f, value)
    number = _number(f, value)
    if f.kind == "int":
        if number != int(number):
            raise AppSettingsError(key, f"{f.label}: must be a whole number of {f.unit}")
        number = int(number)
    if f.zero_means and number == 0:
        return 0 if f.kind == "int" else 0.0
    lo, hi = f.minimum, f.maximum
    if (lo is not None and number < lo) or (hi is not None and number > hi):
        zero = f" (or 0 = {f.zero_means})" if f.zero_means else ""
        raise AppSettingsError(key, f"{f.label}: must be between {lo:g} and {hi:g} {f.unit}{zero}; got {number:g}")
    return number


class AppSettingsService:
    """The preferences of one config directory: :attr:`values` (key -> value, every key of
    :data:`FIELDS`), :meth:`update` to change them, :meth:`subscribe` to hear of changes.

    A value in the file that fails :func:`check` (edited by hand) is replaced by its default and
    listed in :attr:`problems`; an unreadable file raises ``SettingsError`` (from the store).
    """

    def __init__(self, config_dir: Path) -> None:
        self.file = AppSettingsFile(config_dir)
        raw = self.file.read()
        self._unknown = {k: v for k, v in raw.items() if k not in FIELD_BY_KEY}
        self.values: Dict[str, Any] = dict(DEFAULTS)
        self.problems: List[str] = []
        for key in FIELD_BY_KEY:
            if key in raw:
                try:
                    self.values[key] = check(key, raw[key])
                except AppSettingsError as exc:
                    self.problems.append(f"{self.file.path}: {exc}; using {DEFAULTS[key]!r}")
                    log.warning("%s", self.problems[-1])
        self._listeners: List[Callable[[Dict[str, Any], List[str]], None]] = []

    def __getitem__(self, key: str) -> Any:
        return self.values[key]

    @property
    def path(self) -> Path:
        return self.file.path

    def notify_enabled(self, kind: str) -> bool:
        """Whether notifications of ``kind`` (one of :data:`NOTIFY_KINDS`) are switched on."""
        return bool(self.values.get(f"notify_{kind}", True))

    def update(self, changes: Mapping[str, Any]) -> List[str]:
        """Check every value of ``changes`` (key -> value), then save and tell the listeners.

        All or nothing: the first refused value raises :class:`AppSettingsError` and nothing is
        changed. Returns the keys whose value changed (``[]``: nothing saved). Raises
        ``SettingsError`` when the file cannot be written (the values stay as they were).
        """
        checked = {key: check(key, value) for key, value in changes.items()}
        changed = [k for k, v in checked.items() if self.values[k] != v]
        if not changed:
            return []
        new = dict(self.values)
        new.update(checked)
        self.file.write({**self._unknown, **new})
        self.values = new
        for listener in list(self._listeners):
            try:
                listener(dict(new), list(changed))
            except Exception:  # noqa: BLE001 - one broken listener must not stop the others
                log.exception("a settings listener failed")
        return changed

    def restore_defaults(self) -> List[str]:
        """:meth:`update` with every default."""
        return self.update(DEFAULTS)

    def subscribe(self, listener: Callable[[Dict[str, Any], List[str]], None]) -> Callable[[], None]:
        """Call ``listener(values, changed_keys)`` after every saved change; returns the unsubscribe."""
        self._listeners.append(listener)

        def unsubscribe() -> None:
            if listener in self._listeners:
                self._listeners.remove(listener)
        return unsubscribe

    def extra(self, key: str) -> Any:
        """A value kept in the file outside :data:`FIELDS` (not in the Settings dialog: e.g. the
        Dashboard's active connections), or None."""
        return self._unknown.get(key)

    def set_extra(self, key: str, value: Any) -> None:
        """Save ``value`` (JSON) under ``key`` outside :data:`FIELDS`; the caller checks it.
        Raises ``SettingsError`` when the file cannot be written (the value stays as it was)."""
        if key in FIELD_BY_KEY:
            raise AppSettingsError(key, f"{key!r} is a setting: change it with update()")
        self.file.write({**self._unknown, key: value, **self.values})
        self._unknown[key] = value

    def needs_restart(self, keys: List[str]) -> List[str]:
        """Labels of those ``keys`` that take effect only at the next start."""
        return [FIELD_BY_KEY[k].label for k in keys if FIELD_BY_KEY[k].applies == "restart"]

    def poll_interval(self) -> Optional[float]:
        """The REST polling interval in s for exchange engines, None for automatic."""
        value = float(self.values["poll_interval_s"])
        return value if value > 0 else None

    def rate_limit_for_new(self, declared_ms: float) -> Optional[float]:
        """Requests/s a new connection gets: None (ccxt's own) when the exchange declares a rate
        limit (``declared_ms``: its ccxt ``rateLimit``, ms between requests), else the default."""
        if declared_ms > 0 and declared_ms != CCXT_FALLBACK_RATE_LIMIT_MS:
            return None
        return float(self.values["default_rate_limit"])
