"""The end of an exchange run: its followers stopped, what is left open said, the gateway closed.

Orders and positions stay as they are at the exchange (the kill switch is what cancels and
flattens): orders still in flight are named (the next start reconciles them), the orders open at
the exchange on the run's symbols are listed (a report only: a failure to list them is logged),
positions left open are named, protective orders stay resting.
"""
from __future__ import annotations

import asyncio
from typing import Any, List

from ..core import events as ev
from ..core.gateway import Gateway
from ..core.models import TERMINAL_STATES, Order


async def wind_down(engine: Any) -> None:
    """Wind down :class:`~cts_desktop.engine.live.ExchangeEngine` ``engine`` (module docstring)."""
    for part in (engine.feed, engine.protector, engine.order_stream):
        if part is not None:
            await part.close()  # the protector's orders stay at the exchange
    if engine.worker is not None:
        engine.worker.close()
    if engine.orders is not None:
        await engine.orders.cancel_all()
    core = engine.core
    if core is not None and engine.live:
        for o in core.orders:
            if o.state not in TERMINAL_STATES:
                engine._log(ev.CAT_ORDER, f"order {o.clientOrderId} is still {o.state}: left as it is; "
                                          "the next start reconciles it", "warning")
        if engine.gateway is not None and engine.gateway.markets():
            await report_open_orders(engine, engine.gateway)
    if core is not None:
        for p in core.portfolio.open.values():
            engine._log(ev.CAT_POSITION, f"position left open: {p.side} {p.amount:g} {p.symbol} "
                                         f"entry {p.entry_price:g}")
    if engine.gateway is not None:
        await engine.gateway.close()
        getattr(engine, "_unwatch_budgets", lambda: None)()


async def report_open_orders(engine: Any, gateway: Gateway) -> None:
    """List the orders open at the exchange on ``engine``'s symbols (only a report)."""
    try:
        open_orders = await asyncio.wait_for(_open_orders(gateway, list(engine.markets)), 5.0)
    except Exception as exc:  # noqa: BLE001 - only a report: any failure is logged, not raised
        engine._log(ev.CAT_ORDER, f"could not list the open orders at the exchange: {engine._describe(exc)}",
                    "warning")
        return
    for o in open_orders:
        engine._log(ev.CAT_ORDER, f"open at the exchange, left as it is: {o.side} {o.amount:g} "
                                  f"{o.symbol} ({o.clientOrderId or o.id}, {o.state})")


async def _open_orders(gateway: Gateway, symbols: List[str]) -> List[Order]:
    out: List[Order] = []
    for sym in symbols:
        out.extend(await gateway.fetch_open_orders(sym))
    return out
