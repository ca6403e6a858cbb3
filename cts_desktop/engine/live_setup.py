"""What an exchange run checks and opens before it trades: the gateway (with the credentials in
live mode), the markets of the configured symbols, and a paper run's starting balance.

Every refusal is an :class:`~cts_desktop.engine.lifecycle.EngineError` with a message for the
user. The keyring is read in the default executor (it may block).
"""
from __future__ import annotations

import asyncio
from typing import Dict, Optional, Tuple

from ..core.live_gate import live_refusal
from ..core.models import Market
from ..core.gateway import Gateway
from ..exchange.ccxt_gateway import CcxtGateway
from ..store.settings import ConnectionConfig
from .lifecycle import EngineError

DOLLARS = frozenset({"USDT", "USD", "USDC", "BUSD", "FDUSD", "TUSD", "DAI"})


async def open_gateway(conn: ConnectionConfig, tf: str, *, live: bool, secrets: Optional[Dict[str, str]],
                       timeout_ms: Optional[int], recv_window_ms: Optional[int]) -> Tuple[CcxtGateway, Tuple[str, ...]]:
    """``(gateway, the secret values to redact)``: live mode with ``secrets`` (None: read from the
    keyring) and the credentials checked; candles at ``tf`` must be offered. Live mode is refused
    (:class:`EngineError`, before any request) unless :func:`~cts_desktop.core.live_gate.live_refusal`
    passes with the recorded confirmation: a passing test and the typed confirmation, both for
    exactly these credentials."""
    creds: Dict[str, str] = {}
    if live:
        creds = secrets if secrets is not None else \
            await asyncio.get_running_loop().run_in_executor(None, _read_keyring, conn)
    secret_values = tuple(v for v in creds.values() if v)
    if live:  # the live gate, judged here too: a hand-edited "live": true cannot send an order
        refusal = live_refusal(conn, creds, require_confirmation=True)
        if refusal is not None:
            raise EngineError(refusal.message)
    gateway = CcxtGateway(conn, creds, timeout_ms=timeout_ms)
    if recv_window_ms is not None:
        gateway.set_recv_window(recv_window_ms)
    caps = gateway.capabilities()
    missing = gateway.missing_credentials() if live else []
    if missing:
        raise EngineError(f"{conn.name}: live trading needs the API credentials ({', '.join(missing)}); "
                          "none are stored in the keyring for this connection")
    if not caps.fetch_ohlcv:
        raise EngineError(f"{caps.name} does not provide candles (OHLCV) through ccxt")
    if not caps.offers_timeframe(tf):
        raise EngineError(f"{caps.name} has no {tf} candles; it offers {', '.join(caps.timeframes)}")
    return gateway, secret_values


def _read_keyring(conn: ConnectionConfig) -> Dict[str, str]:
    from ..store.secrets import SecretStore

    fields = conn.credential_fields or ["apiKey", "secret"]
    return SecretStore.open().get_all(conn.name, fields)


async def load_markets(gateway: CcxtGateway, conn: ConnectionConfig) -> Tuple[Dict[str, Market], Dict[str, Market]]:
    """``(every market of the exchange, the configured symbols' markets)``; the symbols must be
    listed and share one quote currency."""
    all_markets = await gateway.load_markets()
    for sym in conn.symbols:
        if sym not in all_markets:
            raise EngineError(f"{gateway.name} does not list {sym} ({conn.market_type} markets); "
                              "check the symbol (unified form, e.g. BTC/USDT)")
    markets = {s: all_markets[s] for s in conn.symbols}
    quotes = sorted({m.quote for m in markets.values()})
    if len(quotes) > 1:
        raise EngineError(f"{conn.name}: all symbols must share one quote currency (found {', '.join(quotes)})")
    return all_markets, markets


async def paper_balance(gateway: Gateway, conn: ConnectionConfig, quote: str, all_markets: Dict[str, Market],
                        timeframe: str) -> float:
    """``conn.starting_balance`` (USDT-equivalent) in ``quote``: converted at the last
    ``QUOTE/USDT`` close when the quote currency is not a dollar."""
    balance = float(conn.starting_balance)
    if quote in DOLLARS:
        return balance
    pair = f"{quote}/USDT"
    if pair in all_markets:
        candles = await gateway.fetch_ohlcv(pair, timeframe, limit=2)
        if candles and candles[-1][4] > 0:
            return balance / candles[-1][4]
    raise EngineError(f"cannot express the starting balance in {quote}: the exchange lists no {pair}; "
                      "use symbols quoted in a dollar stablecoin")
