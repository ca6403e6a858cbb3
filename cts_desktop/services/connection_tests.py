"""The connection test, for the Connections tab and ``cts-desktop connections test`` alike: running
it (:mod:`cts_desktop.exchange.conntest`, which imports ccxt, is loaded on first use and, from the
event loop, on a worker thread so the window never waits for it), keeping its result with the
connection, and reading the result (permissions, capabilities, rate limits) the same way in both.

No Qt. The result is a ``ConnectionTestResult``; stored, it is a plain dict
(:func:`~cts_desktop.services.connection_rules.test_record`); the readers here take either.
"""
from __future__ import annotations

import asyncio
from types import ModuleType
from typing import Any, Callable, Dict, List, Mapping, Optional, Tuple

from ..store.settings import ConnectionConfig, SettingsStore
from . import connection_rules as rules

Progress = Callable[[str, float], None]


def load() -> ModuleType:
    """The connection test module (imports ccxt: about a second the first time). Raises
    ``ImportError`` when this build has no connection test."""
    from ..exchange import conntest

    return conntest


async def run(conn: ConnectionConfig, secrets: Dict[str, str], *, timeout: float = 15.0,
              on_progress: Optional[Progress] = None) -> Any:
    """Test ``conn`` with ``secrets`` (connect, check keys, permissions, balances) within
    ``timeout`` seconds; returns the ``ConnectionTestResult``. ``on_progress(stage, fraction)``
    follows it. The test module is imported off the loop's thread; cancelling the task cancels
    the test."""
    loop = asyncio.get_running_loop()
    conntest = await loop.run_in_executor(None, load)
    return await conntest.test_connection(conn, secrets, timeout=timeout, on_progress=on_progress)


def tested_connection(settings: SettingsStore, conn: ConnectionConfig) -> Optional[ConnectionConfig]:
    """The stored connection if it is still the one ``conn`` (the copy that was tested) describes:
    same name, venue and credential fields; None when it changed or went during the test."""
    stored = settings.connections.get(conn.name)
    if stored is None:
        return None
    if any(getattr(stored, f) != getattr(conn, f) for f in rules.TEST_RELEVANT_FIELDS):
        return None
    return stored if sorted(stored.credential_fields) == sorted(conn.credential_fields) else None


def keep(settings: SettingsStore, stored: ConnectionConfig, record: Dict[str, Any]) -> None:
    """Store test ``record`` (:func:`~cts_desktop.services.connection_rules.test_record`) with
    connection ``stored`` and save; raises ``SettingsError`` (``stored.last_test`` is set anyway)."""
    stored.last_test = record
    settings.put(stored)


# -- reading a result ---------------------------------------------------------------------------------
def field(result: Any, name: str) -> Any:
    """Field ``name`` of a test result or of its stored dict; None when it has none."""
    if isinstance(result, Mapping):
        return result.get(name)
    return getattr(result, name, None)


def permissions(perms: Mapping[str, Any]) -> Tuple[List[str], List[str]]:
    """``(granted, not granted)`` key permissions (those reported as True / False)."""
    return [k for k, v in perms.items() if v is True], [k for k, v in perms.items() if v is False]


def capabilities(caps: Mapping[str, Any]) -> Tuple[List[str], List[str], List[str]]:
    """``(supported, emulated, missing)`` exchange capabilities (ccxt ``has`` flags)."""
    return ([k for k, v in caps.items() if v is True], [k for k, v in caps.items() if v == "emulated"],
            [k for k, v in caps.items() if not v])


def exchange_limit(item: Any) -> Optional[Tuple[str, str]]:
    """An exchange-reported rate limit rule (``{"rateLimitType", "limit", "intervalNum",
    "interval"}``) as ``(kind, "1200 per 1 minute")``; None for anything else."""
    if isinstance(item, Mapping) and {"rateLimitType", "limit"} <= set(item):
        return (str(item["rateLimitType"]),
                f"{item['limit']} per {item.get('intervalNum', 1)} {str(item.get('interval', '')).lower()}")
    return None


def describe_rate_limits(limits: Mapping[str, Any]) -> str:
    """The rate limits of a test, one per line: ccxt's request rate, the exchange's own rules and
    the weight used; ``"–"`` when none is known."""
    parts = []
    if limits.get("requests_per_second"):
        parts.append(f"{limits['requests_per_second']:g} requests/s (ccxt: {limits.get('ccxt_rate_limit_ms')} ms apart)")
    for item in limits.get("exchange") or []:
        rule = exchange_limit(item)
        if rule is not None:
            parts.append(f"{rule[0]} {rule[1]}")
    if limits.get("used_weight_1m") is not None:
        parts.append(f"used weight (1 min): {limits['used_weight_1m']}")
    return "\n".join(parts) or "–"


def danger_warnings(warnings: List[str], perms: Any) -> List[str]:
    """The warnings to show loudest: those starting with DANGER or saying the withdrawal check
    could not be done, or, when the test reported none, one for an API key that may withdraw funds."""
    loud = [w for w in warnings if w.startswith(("DANGER", "WITHDRAWAL CHECK NOT DONE"))]
    if isinstance(perms, Mapping) and perms.get("enableWithdrawals") and not loud:
        loud = ["DANGER: this API key can WITHDRAW funds."]
    return loud
