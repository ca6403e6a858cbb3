"""What is done with a connection, for the Connections tab and ``cts-desktop connections`` alike:
the keyring handle, create / duplicate / rename / delete, the save (secrets to the keyring first,
then the settings file, the keyring writes undone when the file cannot be written), and the live
switch. The rules these apply (required credentials, test invalidation, the live gate) are
:mod:`cts_desktop.services.connection_rules`; running the connection test is
:mod:`cts_desktop.services.connection_tests`.

No Qt. Functions raise the store's own exceptions (:class:`SecretStoreError`,
:class:`NoSecureKeyringError`, :class:`SettingsError`) or :class:`RuleError`; the callers choose
how to say it (an inline status line, an exit code), the words of the refusal are the same.
"""
from __future__ import annotations

import contextlib
import copy
import difflib
from functools import partial
from typing import Callable, Dict, Iterable, List, Mapping, Optional, Tuple

from ..core.live_gate import confirmation_record
from ..store.secrets import CREDENTIAL_FIELDS, NoSecureKeyringError, SecretStore, SecretStoreError
from ..store.settings import PAPER_EXCHANGE, ConnectionConfig, SettingsError, SettingsStore
from . import connection_rules as rules
from .app_settings import AppSettingsService
from .connection_rules import BUSY_STATES, RuleError

#: Backend short names (``SecretStore.backend_name``) as the screens name them.
KEYRING_NAMES = {"secretservice": "Secret Service", "kwallet": "KWallet", "macos": "macOS Keychain",
                 "windows": "Windows Credential Locker"}

PAPER_NO_CREDENTIALS = "the recorded-market 'paper' exchange takes no credentials"


class Keyring:
    """The OS keyring, opened on first need and kept. ``opener`` opens it (``SecretStore.open``;
    tests swap in a refused backend, then call :meth:`reset`). Nothing falls back to plaintext."""

    def __init__(self, opener: Callable[[], SecretStore] = SecretStore.open) -> None:
        self.opener = opener
        self._store: Optional[SecretStore] = None

    def store(self) -> SecretStore:
        """The opened keyring; raises :class:`NoSecureKeyringError` (message: what to install/start)."""
        if self._store is None:
            self._store = self.opener()
        return self._store

    def reset(self) -> None:
        """Forget the opened keyring (after ``opener`` changed)."""
        self._store = None

    def status(self) -> Tuple[bool, str]:
        """``(True, backend description)`` or ``(False, message)``; never raises."""
        try:
            store = self.store()
        except NoSecureKeyringError as exc:
            return False, str(exc)
        except Exception as exc:  # noqa: BLE001 - a keyring surprise is reported, never crashes the caller
            return False, f"the keyring could not be opened ({type(exc).__name__})"
        return True, KEYRING_NAMES.get(getattr(store, "backend_name", ""), "OS keyring")

    def stored(self, conn: ConnectionConfig) -> Dict[str, str]:
        """The stored credentials of ``conn`` (``{}`` when it has none; the keyring is then not opened)."""
        if not conn.credential_fields:
            return {}
        return self.store().get_all(conn.name, conn.credential_fields)


# -- names ----------------------------------------------------------------------------------------------
def unique_name(settings: SettingsStore, base: str) -> str:
    """``base``, or ``"base 2"``, ``"base 3"``... whichever is free first."""
    names = set(settings.connections)
    if base not in names:
        return base
    n = 2
    while f"{base} {n}" in names:
        n += 1
    return f"{base} {n}"


def find(settings: SettingsStore, name: str) -> ConnectionConfig:
    """Connection ``name``; :class:`RuleError` with close matches and the known names otherwise."""
    if name in settings.connections:
        return settings.connections[name]
    known = sorted(settings.connections)
    close = difflib.get_close_matches(name, known, n=3, cutoff=0.5)
    hint = f" Did you mean {', '.join(repr(c) for c in close)}?" if close else ""
    raise RuleError(f"unknown connection {name!r}.{hint} Known: {', '.join(repr(k) for k in known)}.")


def check_rename(settings: SettingsStore, before: ConnectionConfig, new_name: str, engine_state: str = "idle") -> None:
    """:class:`RuleError` when ``before`` may not be called ``new_name``: built in, the name is
    taken, or its engine is running."""
    if new_name == before.name:
        return
    if before.builtin:
        raise RuleError(f"{before.name!r} is built in and cannot be renamed")
    if new_name in settings.connections:
        raise RuleError(f"a connection called {new_name!r} already exists")
    if engine_state in BUSY_STATES:
        raise RuleError("stop the engine before renaming the connection")


def check_credentials(exchange: str, fields: Iterable[str]) -> None:
    """The credential fields ``fields`` fit ``exchange``: none for the recorded-market paper
    exchange; none or every required one for a ccxt exchange. :class:`RuleError` otherwise."""
    fields = list(fields)
    if exchange == PAPER_EXCHANGE:
        if fields:
            raise RuleError(PAPER_NO_CREDENTIALS)
        return
    rules.check_complete(exchange, fields)


# -- writing ---------------------------------------------------------------------------------------------
def store_connection(settings: SettingsStore, new: ConnectionConfig, *, old_name: Optional[str] = None,
                     keyring: Optional[SecretStore] = None, current: Optional[Mapping[str, str]] = None,
                     final: Optional[Mapping[str, str]] = None) -> None:
    """Write ``new`` (the connection once called ``old_name``; None: a new one): the keyring first,
    then the settings file, keeping the connection's place in it. ``current``: the secrets stored
    under ``old_name``; ``final``: the secrets to store under ``new.name`` (None: the keyring is
    left alone). When any step fails the settings in memory and the keyring writes are undone and
    the exception (``SecretStoreError``, ``SettingsError``) propagates."""
    current = dict(current or {})
    old = new.name if old_name is None else old_name
    renamed = old != new.name
    previous = dict(settings.connections)
    undo: List[Callable[[], object]] = []
    try:
        if keyring is not None and final is not None:
            for field, value in final.items():
                if renamed or current.get(field) != value:
                    keyring.set(new.name, field, value)
                    if field in current and not renamed:
                        undo.append(partial(keyring.set, old, field, current[field]))
                    else:
                        undo.append(partial(keyring.delete, new.name, field))
            for field in current:
                if renamed or field not in final:
                    keyring.delete(old, field)
                    undo.append(partial(keyring.set, old, field, current[field]))
        if old in settings.connections:
            settings.connections = {(new.name if k == old else k): (new if k == old else v)
                                    for k, v in settings.connections.items()}
        else:
            settings.connections[new.name] = new
        settings.save()
    except BaseException:
        settings.connections = previous
        for step in reversed(undo):
            with contextlib.suppress(SecretStoreError):
                step()
        raise


def add(settings: SettingsStore, conn: ConnectionConfig, keyring: Optional[SecretStore] = None,
        secrets: Optional[Mapping[str, str]] = None) -> None:
    """Save new connection ``conn`` with ``secrets`` (keyring entries an earlier connection of the
    same name left behind are removed first). Raises ``SettingsError`` for an invalid connection
    and :class:`RuleError` when the name is taken (the existing connection is never replaced)."""
    conn.validate()
    if conn.name in settings.connections:
        raise RuleError(f"a connection called {conn.name!r} already exists")
    if keyring is not None and secrets:
        keyring.delete_connection(conn.name, [f for f in CREDENTIAL_FIELDS if f not in secrets])
        conn.credential_fields = sorted(secrets)
        store_connection(settings, conn, keyring=keyring, final=secrets)
    else:
        store_connection(settings, conn)


def new_exchange_connection(name: str, exchange: str, defaults: Optional[AppSettingsService] = None) -> ConnectionConfig:
    """A new spot connection to ccxt exchange ``exchange`` on BTC/USDT, on its testnet where ccxt
    knows one; paper trading and without credentials until they are entered and tested. With
    ``defaults`` (the app's preferences): their paper balance, and their rate limit when the
    exchange declares none."""
    facts = rules.exchange_facts(exchange)
    conn = ConnectionConfig(name=name, exchange=exchange, testnet=facts.has_testnet, symbols=["BTC/USDT"],
                            market_type="spot")
    if defaults is not None:
        apply_defaults(conn, defaults)
    return conn


def apply_defaults(conn: ConnectionConfig, defaults: AppSettingsService) -> None:
    """Give a new connection the app's preferences (Settings): the default paper balance (quote
    currency), and for an exchange connection whose ccxt class declares no rate limit, the default
    requests/s. The GUI's Add and ``cts-desktop connections add`` both call this, before the
    values the trader typed are applied."""
    conn.starting_balance = float(defaults["default_paper_balance"])
    if conn.exchange != PAPER_EXCHANGE:
        conn.rate_limit_per_second = defaults.rate_limit_for_new(rules.exchange_facts(conn.exchange).rate_limit_ms)


def apply_strategy(settings: SettingsStore, name: str, strategy: str, params: Mapping[str, object],
                   engine_state: str = "idle") -> ConnectionConfig:
    """Make ``strategy`` with ``params`` the main strategy of connection ``name`` (an optimised
    study's best, a preset); its symbols and additional strategies stay. Raises :class:`RuleError`
    (unknown connection, engine running), ``KeyError`` (unknown strategy), ``ParamError`` (a value
    the strategy refuses) or ``SettingsError`` (the file could not be written)."""
    from ..engine import strategies

    conn = find(settings, name)
    if engine_state in BUSY_STATES:
        raise RuleError(f"stop the engine of {name!r} before changing its strategy")
    cls = strategies.get(strategy)
    resolved = cls.resolve_params(dict(params))
    cls(resolved)  # the strategy's own cross-checks (fast < slow...)
    new = copy.deepcopy(conn)
    new.strategy, new.strategy_params = strategy, resolved
    store_connection(settings, new)
    return new


def duplicate(settings: SettingsStore, name: str) -> ConnectionConfig:
    """Save a copy of ``name``'s settings as ``"<name> (copy)"`` (or the next free name): never its
    credentials, test or live switch. Raises ``SettingsError``."""
    new = copy.deepcopy(settings.get(name))
    new.name = unique_name(settings, f"{name} (copy)")
    new.builtin = False
    new.live = False
    new.last_test = {}
    new.credential_fields = []
    new.validate()
    settings.put(new)
    return new


def remove(settings: SettingsStore, name: str, open_keyring: Callable[[], SecretStore]) -> List[str]:
    """Delete connection ``name``: its keyring entries first (nothing is deleted when the keyring
    refuses), then its settings. Returns the credential fields removed from the keyring.
    Raises :class:`RuleError` (built in), ``SecretStoreError``, ``SettingsError``."""
    conn = settings.get(name)
    if conn.builtin:
        raise RuleError(f"{name!r} is built in and cannot be removed")
    removed: List[str] = []
    if conn.credential_fields:
        removed = open_keyring().delete_connection(name, CREDENTIAL_FIELDS)
    settings.remove(name)
    return removed


def set_live(settings: SettingsStore, name: str, live: bool, *, secrets: Optional[Mapping[str, str]] = None,
             typed: str = "") -> ConnectionConfig:
    """Save ``name`` with live trading on or off and return the saved copy. The caller has
    judged the live gate (:func:`~cts_desktop.core.live_gate.live_refusal`) and got the typed
    confirmation ``typed``; switching on records it for ``secrets`` (the credentials that passed,
    by fingerprint), which the engine checks at every live start. Switching off clears it.
    Raises ``SettingsError``."""
    new = copy.deepcopy(settings.get(name))
    new.live = live
    if live:
        if not secrets:
            raise SettingsError(f"{name!r}: live trading is switched on with the credentials that passed the test")
        new.live_confirmation = confirmation_record(new, secrets, typed or name)
    else:
        new.live_confirmation = {}
    new.validate()
    settings.put(new)
    return new
