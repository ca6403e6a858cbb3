"""Keeping secrets out of text: :func:`redact` and the process-wide registry of secret values.

Every credential value the app loads (the keyring-backed ``SecretStore`` reads and writes them,
the ccxt factory hands them to an exchange) is handed to :func:`remember_secrets`; from then on
:class:`SecretRedactingFilter` replaces it with ``***`` in every log record it sees, whichever
logger wrote it (ours, ccxt's, asyncio's), at every level, in the message, its arguments, the
formatted traceback and the stack. The values live only in this process's memory.

Pure Python, no I/O: it sits in ``core`` so the store (which loads secrets) and the exchange
layer (which logs requests) share one registry without importing each other.
"""
from __future__ import annotations

import logging
import re
import threading
from typing import FrozenSet, Iterable, Mapping, Optional, Set, Union

REDACTED = "***"
MIN_SECRET_LEN = 4  # shorter values cannot be replaced in free text without mangling it

_QUERY_RE = re.compile(r"(https?://[^\s?\"'<>]+)\?[^\s\"'<>]*")
_SIGNATURE_RE = re.compile(r"(signature|apiKey|api_key|secret|passphrase|password|X-MBX-APIKEY|API-KEY|ACCESS-KEY"
                           r"|ACCESS-SIGN|ACCESS-PASSPHRASE)([\"']?\s*[:=]\s*[\"']?)([^&\s\"',}]+)", re.IGNORECASE)


def redact(text: str, secrets: Iterable[str] = ()) -> str:
    """``text`` with query strings cut off URLs, ``signature=``/``apiKey:``-style values masked,
    and every occurrence of each secret value (at least :data:`MIN_SECRET_LEN` characters)
    replaced by ``***``. Longest secrets are replaced first."""
    if not text:
        return text
    out = str(text)
    for secret in sorted({s for s in secrets if s and len(s) >= MIN_SECRET_LEN}, key=len, reverse=True):
        out = out.replace(secret, REDACTED)
    out = _QUERY_RE.sub(r"\1", out)
    out = _SIGNATURE_RE.sub(lambda m: m.group(1) + m.group(2) + REDACTED, out)
    return out


_lock = threading.Lock()
_known: Set[str] = set()


def remember_secrets(secrets: Union[Mapping[str, Optional[str]], Iterable[Optional[str]], None]) -> None:
    """Add secret values (a ``{field: value}`` mapping or an iterable of values; ``None`` and values
    shorter than :data:`MIN_SECRET_LEN` are ignored) to the registry, for the life of the process."""
    if not secrets:
        return
    values = secrets.values() if isinstance(secrets, Mapping) else secrets
    with _lock:
        _known.update(v.strip() for v in values if isinstance(v, str) and len(v.strip()) >= MIN_SECRET_LEN)


def known_secrets() -> FrozenSet[str]:
    """The secret values remembered so far (a snapshot)."""
    with _lock:
        return frozenset(_known)


def redact_known(text: str) -> str:
    """:func:`redact` with every remembered secret."""
    return redact(text, known_secrets())


class SecretRedactingFilter(logging.Filter):
    """A logging filter that scrubs every remembered secret from a record (message with its
    arguments, traceback text, stack) and lets the record through. Attach it to a *handler* to
    cover every logger that propagates there; a filter on a logger sees only that logger's own
    records."""

    _formatter = logging.Formatter()

    def filter(self, record: logging.LogRecord) -> bool:  # noqa: A003 - logging API
        secrets = known_secrets()
        try:
            text = record.getMessage()
        except (TypeError, ValueError):  # a bad format string: keep what can be shown
            text = f"{record.msg} {record.args}"
        clean = redact(text, secrets)
        if clean != text or record.args:
            record.msg, record.args = clean, None
        if record.exc_info and not record.exc_text:
            record.exc_text = self._formatter.formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text, secrets)
        if record.stack_info:
            record.stack_info = redact(record.stack_info, secrets)
        return True
