"""Positions on perpetual futures (``swap`` markets) checked against the exchange's positions.

A futures position is not coins in a wallet: the exchange keeps it (Binance USD-M, one-way mode:
one signed amount per symbol). At a live start (:mod:`.reconcile`) and after an outage
(:mod:`.reconnect`) the carried positions on swap markets are compared with
:meth:`~cts_desktop.core.gateway.Gateway.fetch_positions` instead of the wallet
(:func:`cts_desktop.engine.carryover.adjust_to_wallet` calls :func:`check_swap`):

* the exchange holds as much on the same side (within half an amount step): carried;
* less on the same side: **reduced** to the exchange's amount ("reduced outside the app");
* nothing: **closed** ("closed outside the app");
* the other side: **closed** ("flipped outside the app"), and the exchange's position is listed;
* more on the same side: carried as recorded, the excess listed.

A position at the exchange that the app does not hold (or the part it does not hold) is
**listed** in the report (:attr:`~cts_desktop.engine.carryover.ReconcileReport.positions_listed`),
never adopted: the app does not know its strategy, stops or intent.
Amounts are base currency (contracts times contract size), prices quote.
"""
from __future__ import annotations

from typing import Any, Dict, List, Optional, Tuple

from ..core.gateway import Gateway
from ..core.models import LONG, SHORT, Market, Position


def swap_symbols(markets: Dict[str, Market]) -> List[str]:
    """The symbols of ``markets`` whose positions the exchange keeps (``swap`` markets)."""
    return [s for s, m in markets.items() if m.type == "swap"]


def held_by_exchange(raw: List[Dict[str, Any]]) -> Dict[str, Tuple[float, float]]:
    """symbol -> ``(signed amount base: > 0 long, < 0 short, entry price quote)`` of ccxt unified
    position dicts (``contracts`` times ``contractSize``, ``side``, ``entryPrice``)."""
    out: Dict[str, Tuple[float, float]] = {}
    for p in raw:
        amount = float(p.get("contracts") or 0) * float(p.get("contractSize") or 1)
        if not amount or not p.get("symbol"):
            continue
        sign = -1.0 if p.get("side") == SHORT else 1.0
        before = out.get(p["symbol"], (0.0, 0.0))[0]
        out[p["symbol"]] = (before + sign * abs(amount), float(p.get("entryPrice") or 0))
    return out


async def fetch_held(gateway: Gateway, markets: Dict[str, Market]) -> Optional[Dict[str, Tuple[float, float]]]:
    """:func:`held_by_exchange` of the exchange's positions on the swap markets of ``markets``;
    None when there are none (spot: the wallet is checked instead). Raises
    :class:`~cts_desktop.exchange.errors.GatewayError`."""
    symbols = swap_symbols(markets)
    if not symbols:
        return None
    held = held_by_exchange(await gateway.fetch_positions(symbols))
    return {s: v for s, v in held.items() if s in symbols}


def check_swap(p: Position, market: Market, held: float) -> Tuple[str, str, float]:
    """``(action, note, amount)`` of carried position ``p`` when the exchange holds ``held``
    (signed, base) on its symbol: action carried / reduced / closed (module docstring)."""
    tol = max(market.amount_step / 2, 1e-12)
    same = held if p.side == LONG else -held
    if same < -tol:
        other = SHORT if p.side == LONG else LONG
        return "closed", f"flipped outside the app: the exchange holds a {other} of {abs(held):g} {market.base}", 0.0
    if same <= tol:
        return "closed", f"closed outside the app: the exchange holds no {p.symbol} position", 0.0
    if same < p.amount - tol:
        return "reduced", (f"reduced outside the app: the exchange's {p.side} is {same:g} {market.base} "
                           f"of {p.amount:g}"), same
    return "carried", "", p.amount


def unknown_positions(held: Dict[str, Tuple[float, float]], rows: List[Dict[str, Any]],
                      markets: Dict[str, Market]) -> List[Dict[str, Any]]:
    """Report entries (symbol, side, amount, entry_price, note) of what the exchange holds beyond
    the positions of ``rows`` (report entries after :func:`check_swap`: their ``amount`` on their
    ``side``): positions opened by hand at the exchange, the excess of a position increased by hand,
    the other side of a flip. Listed, never adopted."""
    ours: Dict[str, float] = {}
    for r in rows:
        if r["amount"] > 0:
            ours[r["symbol"]] = ours.get(r["symbol"], 0.0) + (r["amount"] if r["side"] == LONG else -r["amount"])
    out = []
    for symbol, (amount, entry) in sorted(held.items()):
        market = markets.get(symbol)
        tol = max(market.amount_step / 2, 1e-12) if market is not None else 1e-12
        extra = amount - ours.get(symbol, 0.0)
        if abs(extra) <= tol:
            continue
        note = (f"more than this app's position (the exchange holds {amount:+g}), left as it is" if symbol in ours
                else "not this app's, left as it is")
        out.append({"symbol": symbol, "side": LONG if extra > 0 else SHORT, "amount": abs(extra),
                    "entry_price": entry, "exchange_amount": amount, "note": note})
    return out


def listing_line(row: Dict[str, Any]) -> str:
    """The log line of a listed position (:func:`unknown_positions` entry)."""
    return (f"position at the exchange: {row['side']} {row['amount']:g} {row['symbol']} entry "
            f"{row['entry_price']:g}, {row['note']}")
