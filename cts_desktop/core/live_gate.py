"""The live-trading gate: may this connection send real orders with these credentials?

One pure rule for every place that asks: the Connections tab and ``cts-desktop connections live``
before switching live on, and the exchange engine every time it starts a live run (so a
``"live": true`` written into ``connections.json`` by hand cannot send orders).

A connection may trade live when

1. it is an exchange connection (the recorded-market paper exchange has no live mode),
2. it has credentials,
3. its last connection test passed (``last_test["ok"]``) with exactly these credentials
   (``last_test["credentials_fingerprint"]`` equals :func:`credentials_fingerprint` of them), and
4. for the engine: the trader's typed confirmation was recorded for these credentials
   (``live_confirmation["credentials_fingerprint"]``, written by the live switch).
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Dict, Mapping, Optional

from .connection import PAPER_EXCHANGE, ConnectionConfig
from .credentials import credentials_fingerprint


@dataclass(frozen=True)
class LiveRefusal:
    """``kind``: ``paper``, ``no-credentials``, ``untested``, ``failed``, ``changed``,
    ``unconfirmed``; ``message``: the sentence shown to the trader."""

    kind: str
    message: str


def live_refusal(conn: ConnectionConfig, secrets: Mapping[str, str], *,
                 require_confirmation: bool = False) -> Optional[LiveRefusal]:
    """Why ``conn`` may not trade live with ``secrets`` (its current credentials), or None when it
    may. ``require_confirmation``: also demand the recorded typed confirmation (rule 4; the engine
    asks for it, the live switch asks the trader instead)."""
    if conn.exchange == PAPER_EXCHANGE:
        return LiveRefusal("paper", f"{conn.name!r} replays a recorded market; it has no live mode")
    if not secrets:
        return LiveRefusal("no-credentials", f"live trading refused: {conn.name!r} has no credentials")
    test = conn.last_test or {}
    if not test:
        return LiveRefusal("untested", f"live trading refused: {conn.name!r} has not been tested")
    if not test.get("ok"):
        kind = test.get("error_kind") or test.get("status") or "error"
        return LiveRefusal("failed", f"live trading refused: the last test of {conn.name!r} failed ({kind})")
    fingerprint = credentials_fingerprint(conn.name, secrets)
    if test.get("credentials_fingerprint") != fingerprint:
        return LiveRefusal("changed", f"live trading refused: the credentials of {conn.name!r} changed since the "
                           "last passing test")
    if require_confirmation and (conn.live_confirmation or {}).get("credentials_fingerprint") != fingerprint:
        return LiveRefusal("unconfirmed", f"live trading refused: going live with {conn.name!r} was never confirmed "
                           "with these credentials (switch it on in the Connections tab or with "
                           "`cts-desktop connections live`)")
    return None


def confirmation_record(conn: ConnectionConfig, secrets: Mapping[str, str], typed: str,
                        now_ms: Optional[int] = None) -> Dict[str, Any]:
    """What the live switch stores in ``conn.live_confirmation`` once the trader typed ``typed``
    (the connection's name): when (``at``, ms UTC) and for which credentials (fingerprint only,
    never a secret)."""
    return {"at": int(time.time() * 1000) if now_ms is None else now_ms,
            "typed": typed, "credentials_fingerprint": credentials_fingerprint(conn.name, secrets)}
