"""The last public trades of a symbol for the Market tab's order book panel. No Qt.

Where the connection streams (``api_type == "websocket"``) and ccxt.pro has ``watchTrades`` for
the exchange, one ``watch_trades`` subscription follows the charted symbol (started on the first
ask, moved when another symbol is asked for, ended by :meth:`TradeTape.close`); until it has
delivered, or once it failed, the trades are read over REST (``fetch_trades``), at most every
:data:`TRADES_MIN_INTERVAL_S` per connection and symbol and not while the request budget is
tight (:func:`~.market_data.budget_tight`). A paper replay has no trades (recorded candles
carry none): it says so. Times in ms UTC, prices in quote, amounts in base, ``side`` is the
taker's (``"buy"``: someone bought at the ask).
"""
from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Deque, Dict, List, Tuple

from ..engine.tasks import end_task
from ..exchange.errors import GatewayError
from .market_data import budget_tight

log = logging.getLogger(__name__)

TRADES_SHOWN = 20
TRADES_MIN_INTERVAL_S = 2.0
REPLAY_TRADES_NOTE = "Paper replay: recorded candles have no trades."


@dataclass
class TradeRow:
    """One public trade: ``ts`` (ms UTC), ``price`` (quote), ``amount`` (base), ``side`` (the taker's)."""

    ts: int
    price: float
    amount: float
    side: str


@dataclass
class Trades:
    """The newest trades first; ``source`` ``"streamed"`` / ``"polled"`` / ``""`` (none to show);
    ``note`` for the trader."""

    symbol: str
    rows: List[TradeRow] = field(default_factory=list)
    source: str = ""
    note: str = ""


def rows_of(raw: List[Dict[str, Any]], n: int = TRADES_SHOWN) -> List[TradeRow]:
    """ccxt unified trades (oldest first) -> the newest ``n`` as :class:`TradeRow` s, newest first."""
    out = []
    for t in raw[-n:]:
        if t.get("price") is None or t.get("timestamp") is None:
            continue
        out.append(TradeRow(int(t["timestamp"]), float(t["price"]), float(t.get("amount") or 0.0),
                            str(t.get("side") or "")))
    out.reverse()
    return out


class TradeTape:
    """Trades for the connections of ``data`` (a :class:`~.market_data.MarketData`)."""

    def __init__(self, data: Any):
        self.data = data
        self._polled: Dict[Tuple[str, str], Tuple[float, Trades]] = {}
        self._streams: Dict[str, Tuple[str, "asyncio.Task[None]"]] = {}  # connection -> (symbol, watcher)
        self._streamed: Dict[Tuple[str, str], Deque[Dict[str, Any]]] = {}
        self._failed: set = set()  # (connection, symbol) whose stream failed: REST from then on

    async def trades(self, name: str, symbol: str, limit: int = TRADES_SHOWN) -> Trades:
        """The last ``limit`` public trades of ``symbol`` on ``name`` (module docstring). Raises
        ``KeyError`` (unknown connection), ``GatewayError`` (the exchange did not answer)."""
        conn = self.data.app.connection(name)
        if conn.is_paper_replay:
            return Trades(symbol, note=REPLAY_TRADES_NOTE)
        gateway = await self.data.gateway(name)
        key = (name, symbol)
        if conn.api_type == "websocket" and key not in self._failed and gateway.supports_stream("watchTrades"):
            self._follow(name, symbol, gateway)
            got = self._streamed.get(key)
            if got:
                return Trades(symbol, rows_of(list(got), limit), "streamed", f"{conn.exchange}: streamed trades")
        held = self._polled.get(key)
        if held is not None and time.monotonic() - held[0] < TRADES_MIN_INTERVAL_S:
            return held[1]
        tight = budget_tight(gateway)
        if tight:
            return Trades(symbol, held[1].rows if held else [], "polled", tight)
        rows = rows_of(await gateway.fetch_trades(symbol, limit), limit)
        out = Trades(symbol, rows, "polled", f"{conn.exchange}: polled trades" if rows else
                     f"{conn.exchange}: no recent trades of {symbol}")
        self._polled[key] = (time.monotonic(), out)
        return out

    def _follow(self, name: str, symbol: str, gateway: Any) -> None:
        held = self._streams.get(name)
        if held is not None and held[0] == symbol and not held[1].done():
            return
        if held is not None:
            held[1].cancel()
            self._streamed.pop((name, held[0]), None)
        task = asyncio.get_running_loop().create_task(self._watch(name, symbol, gateway), name=f"trades:{name}")
        # another failure (the engine closed the gateway under it) ends the stream quietly: asked
        # again, it starts over
        task.add_done_callback(lambda t: t.cancelled() or t.exception())
        self._streams[name] = (symbol, task)

    async def _watch(self, name: str, symbol: str, gateway: Any) -> None:
        tape: Deque[Dict[str, Any]] = deque(maxlen=TRADES_SHOWN * 5)
        self._streamed[(name, symbol)] = tape
        try:
            while True:
                tape.extend(await gateway.watch_trades(symbol))
        except GatewayError as err:
            log.info("trades of %s on %s by websocket failed (%s): polled from now on", symbol, name, err.message)
            self._failed.add((name, symbol))
            self._streamed.pop((name, symbol), None)

    async def close(self) -> None:
        """End the subscriptions."""
        streams, self._streams = self._streams, {}
        for _symbol, task in streams.values():
            await end_task(task, "the trade stream")
        self._streamed.clear()
