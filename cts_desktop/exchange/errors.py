"""Exchange errors turned into one :class:`GatewayError` with a kind and a message for people.

ccxt raises a class hierarchy (``AuthenticationError``, ``InvalidNonce``, ``NetworkError`` ...)
whose messages are written for developers and, worse, often contain the request URL with its
query string (the HMAC signature, sometimes the API key) or the response body. The UI must show
neither tracebacks nor secrets, so every ccxt exception that leaves the gateway goes through
:func:`map_exception`, which picks a :data:`KINDS` entry and writes a message that says what
happened and what to do, quoting at most the exchange's own short error text, redacted.

Kinds (``GatewayError.kind``):

=====================  ====================================================================
auth                   key unknown, secret (signature) wrong, key malformed or disabled
permission             key valid but not allowed to do this (e.g. no Spot trading right)
clock                  request timestamp outside the exchange's window (computer clock off)
dns                    the exchange's host name does not resolve
network                host unreachable, connection refused or dropped
timeout                no answer within the timeout
rate-limit             HTTP 429 / too many requests (``retry_after`` seconds when known)
banned                 HTTP 418: IP temporarily banned for ignoring rate limits
maintenance            exchange under maintenance / HTTP 503
unavailable            other exchange-side server errors (HTTP 5xx, internal error codes)
insufficient-funds     balance too low for the order
min-notional           order value below the market's minimum notional (cost)
invalid-order          any other order rejection (lot size, price filter, precision ...)
bad-symbol             market symbol unknown to the exchange
order-not-found        the exchange does not know the order (never means "canceled")
not-supported          the exchange (or its testnet) does not offer the function
exchange-error         any other error answer from the exchange
internal               a bug on our side (message: the exception type only)
=====================  ====================================================================
"""
from __future__ import annotations

import asyncio
import json
import re
import socket
import sys
from dataclasses import dataclass
from types import ModuleType
from typing import Any, Iterable, Iterator, Optional, Set, Tuple

from cts_desktop.core.redaction import MIN_SECRET_LEN, REDACTED, redact

KINDS = (
    "auth", "permission", "clock", "dns", "network", "timeout", "rate-limit", "banned",
    "maintenance", "unavailable", "insufficient-funds", "min-notional", "invalid-order",
    "bad-symbol", "order-not-found", "not-supported", "exchange-error", "internal",
)
TRANSIENT_KINDS = frozenset({"network", "timeout", "rate-limit", "banned", "maintenance", "unavailable"})
"""Kinds where retrying later may succeed. After one of these on create/cancel, the outcome of
the request is unknown: the order may or may not exist; query it, never assume."""

# redact(), REDACTED and MIN_SECRET_LEN live in core (one registry of secrets for every layer)


class GatewayError(Exception):
    """An exchange operation failed. ``kind``: one of :data:`KINDS`; ``message``: one or two
    sentences for the UI, free of secrets and tracebacks. ``code``: the exchange's numeric error
    code when it sent one (Binance ``-2015``), ``http_status`` when known, ``retry_after`` in
    seconds for rate limits and bans when the exchange said."""

    def __init__(self, kind: str, message: str, *, code: Optional[int] = None, http_status: Optional[int] = None,
                 retry_after: Optional[float] = None):
        super().__init__(message)
        self.kind = kind
        self.message = message
        self.code = code
        self.http_status = http_status
        self.retry_after = retry_after

    @property
    def transient(self) -> bool:
        """True when retrying later may succeed (see :data:`TRANSIENT_KINDS`)."""
        return self.kind in TRANSIENT_KINDS

    def __str__(self) -> str:
        return self.message

    def __repr__(self) -> str:
        return f"GatewayError({self.kind!r}, {self.message!r})"


# --------------------------------------------------------------------------- redaction

__all__ = ["KINDS", "MIN_SECRET_LEN", "REDACTED", "TRANSIENT_KINDS", "GatewayError", "is_ccxt_error", "map_exception",
           "redact"]


# --------------------------------------------------------------------------- ccxt, not imported here
# ``import ccxt`` loads every exchange class (~60 MB, and ``ccxt.async_support`` as much again), so
# this module never imports it: a ccxt exception can only exist once ccxt has been imported by whoever
# made a client, and then its classes are in ``sys.modules``. A paper replay and the GUI at start
# never load ccxt at all.

def _ccxt_errors() -> Optional[ModuleType]:
    """ccxt's exception module when ccxt has been imported, else None (no ccxt exception exists)."""
    return sys.modules.get("ccxt.base.errors")


def is_ccxt_error(exc: BaseException) -> bool:
    """True when ``exc`` is a ccxt exception (``ccxt.BaseError``), without importing ccxt."""
    errors = _ccxt_errors()
    return errors is not None and isinstance(exc, errors.BaseError)


# --------------------------------------------------------------------------- parsing ccxt messages

_JSON_RE = re.compile(r"\{.*\}", re.DOTALL)
_STATUS_RE = re.compile(r"\s(\d{3})\s")
_URL_RE = re.compile(r"https?://([^/\s?\"']+)")


def _exchange_payload(text: str) -> tuple:
    """(code, msg) from the JSON body quoted in a ccxt message, else (None, None)."""
    m = _JSON_RE.search(text)
    if not m:
        return None, None
    try:
        body = json.loads(m.group(0))
    except ValueError:
        return None, None
    if not isinstance(body, dict):
        return None, None
    code = body.get("code")
    try:
        code = int(code) if code is not None else None
    except (TypeError, ValueError):
        code = None
    msg = body.get("msg") or body.get("message") or body.get("error")
    return code, (str(msg) if msg is not None else None)


_LEADING_STATUS_RE = re.compile(r"^\S+ (\d{3}) [A-Z]")


def _http_status(text: str) -> Optional[int]:
    # ccxt writes "<id> <METHOD> <url> <status> <reason> <body>" or, for 418/429 in binance,
    # "<id> <status> <reason> <body>"
    m = _URL_RE.search(text)
    if m:
        sm = _STATUS_RE.search(text, m.end())
        return int(sm.group(1)) if sm else None
    lm = _LEADING_STATUS_RE.match(text)
    return int(lm.group(1)) if lm else None


def _host(text: str) -> str:
    m = _URL_RE.search(text)
    return m.group(1) if m else "the exchange"


def _causes(exc: BaseException) -> Iterator[BaseException]:
    seen: Set[int] = set()
    cur: Optional[BaseException] = exc
    while cur is not None and id(cur) not in seen:
        seen.add(id(cur))
        yield cur
        cur = cur.__cause__ or cur.__context__


def _is_dns_failure(exc: BaseException) -> bool:
    try:
        import aiohttp
        dns_error = getattr(aiohttp, "ClientConnectorDNSError", None)
    except ImportError:  # pragma: no cover - aiohttp ships with ccxt
        dns_error = None
    for e in _causes(exc):
        if isinstance(e, socket.gaierror) or (dns_error is not None and isinstance(e, dns_error)):
            return True
        os_error = getattr(e, "os_error", None)
        if isinstance(os_error, socket.gaierror):
            return True
    return False


def _connection_detail(exc: BaseException) -> Optional[str]:
    """A short description of a transport failure in ``exc``'s cause chain, or None."""
    try:
        import aiohttp
    except ImportError:  # pragma: no cover
        return None
    for e in _causes(exc):
        if isinstance(e, aiohttp.ServerDisconnectedError):
            return "the connection was closed without an answer"
        if isinstance(e, ConnectionRefusedError) or "Connect call failed" in str(e):
            return "the connection was refused (nothing listens on that address and port)"
        if isinstance(e, aiohttp.ClientConnectorError):
            return "the host could not be reached"
        if isinstance(e, (aiohttp.ClientConnectionError, ConnectionError)):
            return "the connection failed"
    return None


def _exchange_name(exchange: Any) -> str:
    name = getattr(exchange, "name", None) or getattr(exchange, "id", None)
    return str(name) if name else "The exchange"


# --------------------------------------------------------------------------- mapping


def map_exception(exc: BaseException, *, secrets: Iterable[str] = (), exchange: Any = None, action: str = "",
                  retry_after: Optional[float] = None, timeout_s: Optional[float] = None) -> GatewayError:
    """Translate ``exc`` (a ccxt exception, a timeout or anything else) into a GatewayError.

    ``secrets``: every credential value, redacted wherever it might appear. ``exchange``: the
    ccxt exchange (its name is used, and its ``last_response_headers`` for ``Retry-After``).
    ``action``: what was being done ("placing the order"), for the message. A GatewayError is
    returned unchanged. Never raises.
    """
    if isinstance(exc, GatewayError):
        return exc
    name = _exchange_name(exchange)
    doing = f" while {action}" if action else ""
    secret_values = tuple(secrets)
    ccxt = _ccxt_errors()
    is_ccxt = ccxt is not None and isinstance(exc, ccxt.BaseError)
    if isinstance(exc, (asyncio.TimeoutError, TimeoutError)) and not is_ccxt:
        secs = f" within {timeout_s:g} s" if timeout_s else " in time"
        return GatewayError("timeout", redact(f"{name} did not answer{secs}{doing}. The exchange may be slow or the "
                                              "network congested; try again.", secret_values))
    if ccxt is None or not is_ccxt:
        return GatewayError("internal", redact(f"Internal error{doing}: {type(exc).__name__}. This is a bug in CTS "
                                               "Desktop; please report it.", secret_values))
    text = str(exc)
    code, msg = _exchange_payload(text)
    c = _Failure(exc=exc, secrets=secret_values, name=name, exid=str(getattr(exchange, "id", "") or ""), doing=doing,
                 text=text, code=code, msg=msg, status=_http_status(text), said=f" ({name} said: {msg})" if msg else "",
                 retry_after=_retry_after(retry_after, exchange), timeout_s=timeout_s, exchange=exchange, ccxt=ccxt)
    return _by_code(c) or _by_access_class(c) or _by_request_class(c)


@dataclass
class _Failure:
    """A ccxt exception taken apart: the exchange's ``code`` and ``msg`` from the quoted body,
    the HTTP ``status``, and the words :func:`map_exception`'s messages are built from."""

    exc: BaseException
    secrets: Tuple[str, ...]
    name: str
    exid: str
    doing: str
    text: str
    code: Optional[int]
    msg: Optional[str]
    status: Optional[int]
    said: str
    retry_after: Optional[float]
    timeout_s: Optional[float]
    exchange: Any
    ccxt: ModuleType
    """ccxt's exception module (``ccxt.base.errors``: the classes ``ccxt.X`` names)."""

    def make(self, kind: str, message: str, **kw: Any) -> GatewayError:
        return GatewayError(kind, redact(message, self.secrets), **kw)

    def coded(self, kind: str, message: str) -> GatewayError:
        """A GatewayError carrying the exchange's code and the HTTP status."""
        return self.make(kind, message, code=self.code, http_status=self.status)


def _retry_after(given: Optional[float], exchange: Any) -> Optional[float]:
    """``given``, else the ``Retry-After`` header of the exchange's last response (seconds)."""
    if given is not None or exchange is None:
        return given
    headers = getattr(exchange, "last_response_headers", None) or {}
    ra = next((v for k, v in headers.items() if k.lower() == "retry-after"), None)
    try:
        return float(ra) if ra is not None else None
    except ValueError:
        return None


def _by_code(c: _Failure) -> Optional[GatewayError]:
    """Decisions by the exchange's own error code (Binance family)."""
    name, doing, said, code, ccxt = c.name, c.doing, c.said, c.code, c.ccxt
    if code == -2015:
        authenticated_before = bool(getattr(c.exchange, "options", {}).get("hasAlreadyAuthenticatedSuccessfully"))
        if authenticated_before:
            return c.coded("permission", f"{name} accepted this API key for reading but refused it{doing}{said}. "
                           "Enable the permission this needs (Spot trading) for the key, and check its IP whitelist.")
        return c.coded("auth", f"{name} rejected the API key{said}: the key is unknown, this computer's IP address is not on "
                       "the key's whitelist, or the key lacks the permission. Check the key in the exchange's API management.")
    if code == -2014:
        return c.coded("auth", f"{name} says the API key is malformed{said}. Paste the key again, without spaces or line breaks.")
    if code == -1022:
        return c.coded("auth", f"{name} rejected the request signature{said}: the API secret does not belong to this key. "
                       "Paste the secret again.")
    if code == -1021 or isinstance(c.exc, ccxt.InvalidNonce):
        return c.coded("clock", f"This computer's clock differs from {name}'s by more than the allowed window{said}. "
                       "Turn on automatic time synchronisation in the system settings and retry.")
    if code == -1121:
        return c.coded("bad-symbol", f"{name} does not know this market symbol{said}.")
    if c.msg and ("MIN_NOTIONAL" in c.msg or c.msg.endswith("NOTIONAL")):
        return c.coded("min-notional", f"The order value (amount x price) is below {name}'s minimum for this market{said}. "
                       "Increase the amount.")
    return None


def _by_access_class(c: _Failure) -> Optional[GatewayError]:
    """Decisions by ccxt's class: credentials, rate limits and reaching the exchange."""
    exc, name, doing, said, status, ccxt = c.exc, c.name, c.doing, c.said, c.status, c.ccxt
    if isinstance(exc, ccxt.PermissionDenied):
        return c.coded("permission", f"The API key is not allowed to do this{doing}{said}. Enable the needed permission for the key.")
    if isinstance(exc, ccxt.AuthenticationError):
        return c.coded("auth", f"{name} rejected the credentials{said}. Check the API key, secret and (where the exchange has one) passphrase.")
    if isinstance(exc, (ccxt.DDoSProtection, ccxt.RateLimitExceeded)):
        retry = f" Retry after {c.retry_after:g} s." if c.retry_after else " Wait a minute before retrying."
        if status == 418:
            return c.make("banned", f"{name} has temporarily banned this IP address for sending too many requests (HTTP 418).{retry} "
                          "Lower the request rate of this connection.", code=c.code, http_status=status, retry_after=c.retry_after)
        return c.make("rate-limit", f"{name} is rate-limiting requests{' (HTTP 429)' if status == 429 else ''}.{retry} "
                      "Lower the request rate of this connection if it keeps happening.", code=c.code, http_status=status,
                      retry_after=c.retry_after)
    if isinstance(exc, ccxt.RequestTimeout):
        secs = f" within {c.timeout_s:g} s" if c.timeout_s else " in time"
        return c.make("timeout", f"{name} did not answer{secs}{doing}. The exchange may be slow or the network congested; try again.", http_status=status)
    if isinstance(exc, ccxt.OnMaintenance):
        return c.coded("maintenance", f"{name} is under maintenance{said}. Try again later.")
    if isinstance(exc, ccxt.ExchangeNotAvailable):
        return _not_available(c)
    if isinstance(exc, ccxt.NetworkError):
        detail = _connection_detail(exc) or "the connection failed"
        return c.make("network", f"Network error talking to {name}{doing}: {detail}.", http_status=status)
    return None


def _not_available(c: _Failure) -> GatewayError:
    """An ``ExchangeNotAvailable``: a DNS or transport failure, maintenance, or a server error."""
    name, status = c.name, c.status
    if _is_dns_failure(c.exc):
        return c.make("dns", f"Cannot resolve the host name {_host(c.text)}: check the internet connection, the DNS settings "
                      "or the connection's base URL.")
    detail = _connection_detail(c.exc)
    if detail is not None:
        return c.make("network", f"Cannot reach {name} at {_host(c.text)}{c.doing}: {detail}. Check the internet connection, "
                      "firewall or proxy, and the connection's base URL.")
    if status == 503 or status is None:
        return c.coded("maintenance", f"{name} is temporarily unavailable or under maintenance (HTTP {status or 503}){c.said}. Try again later.")
    return c.coded("unavailable", f"{name} answered with a server error (HTTP {status}){c.said}. Try again later.")


def _by_request_class(c: _Failure) -> GatewayError:
    """Decisions by ccxt's class: the request itself (funds, order, symbol, support); the rest
    is ``exchange-error``."""
    exc, name, doing, said, code, exid, ccxt = c.exc, c.name, c.doing, c.said, c.code, c.exid, c.ccxt
    if isinstance(exc, ccxt.InsufficientFunds):
        return c.coded("insufficient-funds", f"Insufficient balance for this order{said}.")
    if isinstance(exc, ccxt.OrderNotFound):
        return c.coded("order-not-found", f"{name} does not know this order{said}. It may never have been placed, or be too old to query.")
    if isinstance(exc, ccxt.BadSymbol):
        short = _short(c.text, exid)
        if not c.msg and short.startswith("does not have"):
            return c.coded("bad-symbol", f"{name} {short}.")
        return c.coded("bad-symbol", f"Unknown market symbol{said or ': ' + short}.")
    if isinstance(exc, (ccxt.InvalidOrder, ccxt.BadRequest)) or code in (-1013, -2010, -1111, -1100):
        detail = c.msg or _short(c.text, exid)
        return c.coded("invalid-order", f"{name} rejected the request{doing}: {detail}.")
    if isinstance(exc, ccxt.NotSupported):
        return c.make("not-supported", f"Not supported: {_short(c.text, exid)}.")
    if isinstance(exc, ccxt.OperationFailed):
        return c.coded("unavailable", f"{name} failed to process the request{doing}{said}. Try again later.")
    return c.coded("exchange-error", f"{name} returned an error{doing}{said or ': ' + _short(c.text, exid)}.")


def _short(text: str, exchange_id: str) -> str:
    """ccxt's message without the leading exchange id, URLs and bodies, at most 200 chars."""
    t = text
    if exchange_id and t.startswith(exchange_id + " "):
        t = t[len(exchange_id) + 1:]
    t = t.split(" {", 1)[0]
    t = _URL_RE.sub("<url>", t)
    return t[:200].strip()
