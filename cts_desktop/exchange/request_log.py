"""What ccxt's traffic leaves behind, kept free of secrets: its log lines and our request log.

* :func:`remember_secrets` hands credential values to the process-wide registry of
  :mod:`cts_desktop.core.redaction`, whose filter on ccxt's loggers scrubs them from every
  record (ccxt logs request headers at DEBUG; Binance's ``X-MBX-APIKEY`` carries the API key).
* :func:`install_request_log` wraps an exchange's ``fetch`` so each HTTP request is reported
  (method, path, outcome, round trip), as the connection test shows it.
"""
from __future__ import annotations

import asyncio
import contextvars
import logging
import time
from typing import TYPE_CHECKING, Any, Callable, Dict, Iterable, Optional
from urllib.parse import urlsplit

from cts_desktop.core.redaction import SecretRedactingFilter, redact
from cts_desktop.core.redaction import remember_secrets as core_remember_secrets

if TYPE_CHECKING:  # ccxt is imported where a client is built (exchange/ccxt_factory.py)
    import ccxt.async_support as ccxt_async

RequestEntry = Dict[str, Any]


# ccxt logs each request with its headers at DEBUG (Binance's ``X-MBX-APIKEY`` carries the API key).
# The filter goes on the logger ccxt writes to (``ccxt.base.exchange``: a filter on a parent logger
# would not see its records), so even a handler without the filter never shows a remembered secret.
# The log file's handler (store/logfile.py) carries the same filter for every other logger.
_LOG_FILTER = SecretRedactingFilter()
for _name in ("ccxt", "ccxt.base.exchange"):
    logging.getLogger(_name).addFilter(_LOG_FILTER)


def remember_secrets(secrets: Optional[Dict[str, str]]) -> None:
    """Scrub the values of ``secrets`` (those of 4 characters or more) from every log line that
    passes a :class:`~cts_desktop.core.redaction.SecretRedactingFilter` (ccxt's loggers, the log
    file) from now on, for the life of the process."""
    core_remember_secrets(secrets)


_current_entry: contextvars.ContextVar[Optional[RequestEntry]] = contextvars.ContextVar("cts_ccxt_request", default=None)


def install_request_log(exchange: ccxt_async.Exchange, sink: Callable[[RequestEntry], None], secrets: Iterable[str] = (),
                        on_response: Optional[Callable[[str, Any], None]] = None) -> None:
    """Record every HTTP request ``exchange`` makes by wrapping its ``fetch``.

    ``sink`` receives one dict per request: ``time`` (ms, start), ``request`` (``"GET /api/v3/account"``:
    method and path only, never the query string or body), ``outcome`` (``"200"``, or
    ``"<status> <ccxt error class>"`` / the error class for transport failures), ``ms`` (round
    trip, float) and ``t0`` (start, float ms, for clock measurements). Everything is passed through :func:`redact` with ``secrets``.
    ``on_response(path, json)`` (optional) sees each successful decoded response.
    """
    original_fetch = exchange.fetch
    original_on_rest = exchange.on_rest_response
    secret_values = tuple(secrets)

    def on_rest_response(code: Any, reason: Any, url: str, method: str, headers: Any, body: Any, *args: Any) -> Any:
        entry = _current_entry.get()
        if entry is not None:
            entry["status"] = code
        return original_on_rest(code, reason, url, method, headers, body, *args)

    async def fetch(url: str, method: str = "GET", headers: Any = None, body: Any = None) -> Any:
        path = urlsplit(url).path or "/"
        entry: RequestEntry = {"status": None}
        token = _current_entry.set(entry)
        started_wall = time.time() * 1000
        t0 = time.perf_counter()
        outcome = "?"
        try:
            result = await original_fetch(url, method, headers, body)
            outcome = str(entry["status"] or "ok")
            if on_response is not None:
                on_response(path, result)
            return result
        except asyncio.CancelledError:
            outcome = "cancelled"
            raise
        except Exception as exc:  # any failure: named in the log, re-raised as it is
            outcome = f"{entry['status']} {type(exc).__name__}" if entry["status"] else type(exc).__name__
            raise
        finally:
            _current_entry.reset(token)
            sink({"time": int(started_wall), "t0": started_wall, "request": redact(f"{method} {path}", secret_values),
                  "outcome": redact(outcome, secret_values), "ms": round((time.perf_counter() - t0) * 1000, 2)})

    exchange.fetch = fetch
    exchange.on_rest_response = on_rest_response
