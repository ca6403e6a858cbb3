"""API credentials kept only in the operating system's keyring.

Nothing secret is ever written by CTS Desktop itself: the settings file lists only the
*names* of a connection's credential fields (``ConnectionConfig.credential_fields``) and the
values live in the OS keyring, one entry per connection and field:

* service ``cts-desktop`` (:data:`SERVICE`),
* username ``"<connection name>:<field>"``, e.g. ``"My Binance:apiKey"``.

Only secure backends are accepted, chosen explicitly rather than by keyring's own priority
list (which may quietly end at a plaintext file or at a backend that fails every call):

========  ==========================================================================
Linux     Secret Service over D-Bus (GNOME Keyring, KWallet >= 5.97, KeePassXC) via
          SecretStorage; KWallet's own D-Bus API when that is installed
macOS     Keychain
Windows   Windows Credential Locker
========  ==========================================================================

Anything else (``keyrings.alt`` plaintext or "encrypted" files, the null/fail backends, a
chainer with nothing secure inside) is refused with :class:`NoSecureKeyringError`, whose
message tells the user what to install or start. There is never a silent fallback.

Display: :func:`mask` decides how much of a credential may be shown (see there).
Live-trading gate: :func:`credentials_fingerprint` identifies the exact credential set a
connection test ran with; the connection test stores it and the live switch compares it
(defined in :mod:`cts_desktop.core.credentials`, re-exported here).
"""
from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Callable, Dict, Iterable, List, Optional, Tuple, Type, TypeVar

from ..core.credentials import credentials_fingerprint  # noqa: F401 - defined in core, re-exported here
from ..core.redaction import remember_secrets

if TYPE_CHECKING:
    from keyring.backend import KeyringBackend
    from keyring.backends.SecretService import Keyring as SecretServiceKeyring

T = TypeVar("T")

SERVICE = "cts-desktop"

#: Credential field names, as in ccxt's ``Exchange.requiredCredentials``.
CREDENTIAL_FIELDS: Tuple[str, ...] = (
    "apiKey",
    "secret",
    "uid",
    "accountId",
    "login",
    "password",
    "twofa",
    "privateKey",
    "walletAddress",
    "token",
)

#: Fields that identify an account rather than authenticate it: :func:`mask` shows the
#: first 4 characters of these. Every other field is shown as a fixed row of dots.
IDENTIFIER_FIELDS = frozenset({"apiKey", "uid", "accountId", "login", "walletAddress"})

_MASK = "••••••••"

# alias -> dotted class path of a backend we trust to encrypt at rest.
_SECURE_BACKENDS: Dict[str, str] = {
    "secretservice": "keyring.backends.SecretService.Keyring",
    "kwallet": "keyring.backends.kwallet.DBusKeyring",
    "macos": "keyring.backends.macOS.Keyring",
    "windows": "keyring.backends.Windows.WinVaultKeyring",
}
_HUMAN_NAMES = {
    "secretservice": "Secret Service (GNOME Keyring / KWallet)",
    "kwallet": "KWallet",
    "macos": "macOS Keychain",
    "windows": "Windows Credential Locker",
}


class SecretStoreError(Exception):
    """A keyring operation failed. The message names the connection and field, never a value."""


class NoSecureKeyringError(SecretStoreError):
    """No secure OS keyring can be used; the message says what to install or start."""


class SecretValidationError(SecretStoreError, ValueError):
    """Bad input: empty value, unknown field name or empty connection name."""


def _platform_defaults() -> List[str]:
    if sys.platform == "darwin":
        return ["macos"]
    if sys.platform.startswith("win"):
        return ["windows"]
    return ["secretservice", "kwallet"]


def _how_to_fix() -> str:
    if sys.platform == "darwin":
        return (
            "No secure keyring is available: the macOS Keychain cannot be reached. "
            "Log in to a normal desktop session (the login keychain must be unlocked) and try again."
        )
    if sys.platform.startswith("win"):
        return (
            "No secure keyring is available: Windows Credential Locker cannot be reached. "
            "Run CTS Desktop in a normal (non-service) user session and try again."
        )
    return (
        "No secure keyring is available: start a Secret Service (GNOME Keyring or KWallet) in "
        "your desktop session, or install one (Debian/Ubuntu: `apt install gnome-keyring`, "
        "Fedora: `dnf install gnome-keyring`) and make sure D-Bus is running "
        "(DBUS_SESSION_BUS_ADDRESS must be set; over SSH use `dbus-run-session`). "
        "CTS Desktop never stores API keys in plain files."
    )


def _resolve_backend_path(backend: str) -> Tuple[str, str]:
    """(alias, dotted class path) of a secure backend, or NoSecureKeyringError."""
    key = backend.strip()
    if key.lower() in _SECURE_BACKENDS:
        return key.lower(), _SECURE_BACKENDS[key.lower()]
    for alias, path in _SECURE_BACKENDS.items():
        if key == path:
            return alias, path
    raise NoSecureKeyringError(
        f"keyring backend {key!r} is not a secure store (plaintext, null, failing or chained "
        f"backends are refused); use one of: {', '.join(sorted(_SECURE_BACKENDS))}. " + _how_to_fix()
    )


def _load_backend(alias: str, path: str) -> "KeyringBackend":
    """Instantiate and probe one secure backend; NoSecureKeyringError with the reason if unusable."""
    import importlib

    module_name, _, class_name = path.rpartition(".")
    try:
        cls = getattr(importlib.import_module(module_name), class_name)
    except Exception as exc:  # noqa: BLE001 - missing optional dependency, wrong platform: any import failure refuses it
        raise NoSecureKeyringError(f"{_how_to_fix()} ({_HUMAN_NAMES[alias]}: {type(exc).__name__}: {exc})") from None
    try:
        priority = cls.priority  # keyring raises here when the backend cannot work
    except Exception as exc:  # noqa: BLE001 - keyring's own viability check also takes any failure here as "unusable"
        raise NoSecureKeyringError(f"{_how_to_fix()} ({_HUMAN_NAMES[alias]}: {exc})") from None
    if not priority or priority <= 0:
        raise NoSecureKeyringError(f"{_how_to_fix()} ({_HUMAN_NAMES[alias]} reports itself unusable)")
    backend = cls()
    if type(backend).__module__ + "." + type(backend).__qualname__ != path:
        raise NoSecureKeyringError(f"{_how_to_fix()} (unexpected backend {type(backend)!r})")
    if alias == "secretservice":
        backend.appid = "CTS Desktop"
        _probe_secret_service(backend)
    return backend


def _probe_secret_service(backend: "SecretServiceKeyring") -> None:
    """The default collection must exist and be (or become) unlocked; may show the unlock prompt."""
    from contextlib import closing

    try:
        collection = backend.get_preferred_collection()
        with closing(collection.connection):
            pass
    except Exception as exc:  # noqa: BLE001 - D-Bus and SecretStorage failures have no common base class
        raise NoSecureKeyringError(
            f"{_how_to_fix()} (Secret Service is running but its default collection is not usable: {exc}; "
            "create/unlock the 'login' keyring, e.g. with Seahorse)"
        ) from None


def _check_connection_name(connection: str) -> None:
    if not isinstance(connection, str) or not connection.strip():
        raise SecretValidationError("connection name must be a non-empty string")


def _check_field(field: str) -> None:
    if field not in CREDENTIAL_FIELDS:
        raise SecretValidationError(
            f"unknown credential field {field!r}; expected one of: {', '.join(CREDENTIAL_FIELDS)}"
        )


def _username(connection: str, field: str) -> str:
    return f"{connection}:{field}"


class SecretStore:
    """Credentials of all connections in one secure OS keyring backend.

    Build it with :meth:`open`, not the constructor. Every method opens its own keyring call;
    the object holds no secret. Methods raise :class:`SecretValidationError` for bad input and
    :class:`SecretStoreError` when the keyring call fails (locked, D-Bus gone); messages name
    connection and field but never contain a value.
    """

    def __init__(self, backend: "KeyringBackend", name: str):
        self._backend = backend
        #: short name of the backend in use: ``secretservice``, ``kwallet``, ``macos``, ``windows``
        self.backend_name = name

    # -- construction ----------------------------------------------------------------------
    @classmethod
    def open(cls, backend: Optional[str] = None) -> "SecretStore":
        """Open the secure keyring.

        ``backend``: ``None`` for this platform's secure backends (Linux: Secret Service, then
        KWallet; macOS: Keychain; Windows: Credential Locker), or one alias (``"secretservice"``,
        ``"kwallet"``, ``"macos"``, ``"windows"``) or the dotted keyring class path of one of them.
        Any other backend (e.g. ``"keyrings.alt.file.PlaintextKeyring"``,
        ``"keyring.backends.fail.Keyring"``) is refused without being imported. The environment
        variable ``PYTHON_KEYRING_BACKEND`` and keyring's config file are ignored on purpose.

        On Linux this may make the desktop show its "unlock keyring" prompt.
        Raises :class:`NoSecureKeyringError` (message: what to install or start).
        """
        if backend is not None:
            alias, path = _resolve_backend_path(backend)
            return cls(_load_backend(alias, path), alias)
        first_error: Optional[NoSecureKeyringError] = None
        for alias in _platform_defaults():
            try:
                return cls(_load_backend(alias, _SECURE_BACKENDS[alias]), alias)
            except NoSecureKeyringError as exc:
                first_error = first_error or exc
        assert first_error is not None
        raise first_error

    @classmethod
    def available(cls, backend: Optional[str] = None) -> Tuple[bool, str]:
        """``(True, "<backend description>")`` when :meth:`open` would succeed, else
        ``(False, "<message saying what to install or start>")``. Never raises. Like
        :meth:`open` it may make the desktop ask the user to unlock the keyring."""
        try:
            store = cls.open(backend)
        except NoSecureKeyringError as exc:
            return False, str(exc)
        except Exception as exc:  # noqa: BLE001  # pragma: no cover - defensive: the UI must not crash here
            return False, f"{_how_to_fix()} ({type(exc).__name__}: {exc})"
        return True, f"credentials are kept in the {_HUMAN_NAMES[store.backend_name]}"

    # -- operations ------------------------------------------------------------------------
    def set(self, connection: str, field: str, value: str) -> None:
        """Store ``value`` (leading/trailing whitespace stripped) for ``field`` of ``connection``,
        replacing an existing one. Raises SecretValidationError for an empty value or unknown
        field, SecretStoreError if the keyring refuses."""
        _check_connection_name(connection)
        _check_field(field)
        if not isinstance(value, str):
            raise SecretValidationError(f"{field} of {connection!r} must be a string")
        cleaned = value.strip()
        if not cleaned:
            raise SecretValidationError(f"{field} of {connection!r} is empty")
        remember_secrets([cleaned])  # scrubbed from every log line from now on (core.redaction)
        self._call("store", connection, field, lambda: self._backend.set_password(SERVICE, _username(connection, field), cleaned), cleaned)

    def get(self, connection: str, field: str) -> Optional[str]:
        """The stored value, or ``None`` when there is none."""
        _check_connection_name(connection)
        _check_field(field)
        value = self._call("read", connection, field, lambda: self._backend.get_password(SERVICE, _username(connection, field)))
        remember_secrets([value])  # from now on scrubbed from every log line (core.redaction)
        return value

    def get_all(self, connection: str, fields: Iterable[str]) -> Dict[str, str]:
        """``{field: value}`` for those of ``fields`` that have a stored value (missing ones omitted)."""
        out: Dict[str, str] = {}
        for field in fields:
            value = self.get(connection, field)
            if value is not None:
                out[field] = value
        return out

    def delete(self, connection: str, field: str) -> bool:
        """Remove one entry; True if something was removed."""
        from keyring.errors import PasswordDeleteError

        _check_connection_name(connection)
        _check_field(field)
        removed = False
        # Loop: a duplicate left by another tool must not survive a delete.
        for _ in range(10):
            try:
                self._call(
                    "delete", connection, field,
                    lambda: self._backend.delete_password(SERVICE, _username(connection, field)),
                    passthrough=(PasswordDeleteError,),
                )
            except PasswordDeleteError:
                break
            removed = True
        return removed

    def delete_connection(self, connection: str, fields: Iterable[str] = CREDENTIAL_FIELDS) -> List[str]:
        """Remove the connection's entries for ``fields`` (default: every known field).
        Returns the fields that had an entry. Missing entries are not an error."""
        return [f for f in fields if self.delete(connection, f)]

    def rename_connection(self, old: str, new: str, fields: Iterable[str] = CREDENTIAL_FIELDS) -> List[str]:
        """Move the entries of ``fields`` from ``old`` to ``new`` (existing entries of ``new``
        for those fields are replaced). Copies first, deletes after: if a write fails, the
        copies made so far are removed and ``old`` is left intact. Returns the moved fields."""
        _check_connection_name(new)
        values = self.get_all(old, fields)
        written: List[str] = []
        try:
            for field, value in values.items():
                self.set(new, field, value)
                written.append(field)
        except SecretStoreError:
            for field in written:
                try:
                    self.delete(new, field)
                except SecretStoreError:
                    pass
            raise
        for field in values:
            self.delete(old, field)
        return list(values)

    def _call(self, verb: str, connection: str, field: str, fn: Callable[[], T], value: Optional[str] = None,
              passthrough: Tuple[Type[BaseException], ...] = ()) -> T:
        """``fn()``; any failure but ``passthrough`` becomes :class:`SecretStoreError`, with
        ``value`` hidden from the message."""
        try:
            return fn()
        except passthrough:
            raise
        except Exception as exc:  # noqa: BLE001 - backends (D-Bus, Keychain, Credential Locker) raise unrelated types
            detail = f"{type(exc).__name__}: {exc}"
            if value:
                detail = detail.replace(value, "<hidden>")
            raise SecretStoreError(f"cannot {verb} {field} of connection {connection!r} in the keyring ({detail})") from None


def mask(value: Optional[str], field: str = "secret") -> str:
    """A display form of a credential that reveals almost nothing.

    * ``None`` or empty: ``""`` (not set).
    * Identifier fields (:data:`IDENTIFIER_FIELDS`: apiKey, uid, accountId, login,
      walletAddress) of 12 characters or more: the first 4 characters, ``…``, 8 dots
      (``"abcd…••••••••"``), enough to tell two keys apart.
    * Everything else (secret, password, privateKey, token, twofa), and short identifiers:
      8 dots, whatever the length, so not even the length leaks.
    """
    if not value:
        return ""
    if field in IDENTIFIER_FIELDS and len(value) >= 12:
        return value[:4] + "…" + _MASK
    return _MASK
