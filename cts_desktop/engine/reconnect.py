"""Reconciliation after a reconnect: the exchange was unreachable and answers again.

Before the live run trades on, :func:`recheck_after_reconnect` checks what may have changed at the
exchange meanwhile (see its docstring); the report has the shape of a start's
(:class:`~.carryover.ReconcileReport`) and is stored and published the same way.
"""
from __future__ import annotations

import asyncio
from typing import Any, Callable, Dict, List, Optional

from ..core import events as ev
from ..core.accounting import Portfolio
from ..core.models import BUY, LONG, SELL, Fill, Market, Order, Position
from ..exchange.errors import GatewayError
from ..store import reconciliations as store
from ..store.recorder import Recorder
from .exchange_positions import fetch_held, listing_line, unknown_positions
from .carryover import ReconcileReport, adjust_to_wallet, adopt_orders, close_only, split_open_orders
from .lifecycle import LogFn


async def recheck_after_reconnect(core: Any, gateway: Any, markets: Dict[str, Market], *, prefix: str,
                                  follow: Callable[[Order], None], recorder: Optional[Recorder],
                                  run_id: Optional[int], name: str, log: LogFn) -> ReconcileReport:
    """After the exchange was unreachable and answers again, before trading on: the run's open
    positions checked against the wallet (coins sold by hand meanwhile: the position is reduced
    or closed at its last price, reason "closed outside the app", with a log line) or, on
    perpetual futures, against the exchange's positions (reduced, closed or flipped there: the
    same; a position there that is not the run's is listed, :mod:`.exchange_positions`), open orders
    at the exchange that the database does not know adopted (``prefix``) or listed. A report
    that is not empty is stored and published; orders the run already follows are left to it.
    An exchange error makes the run close-only (the report says why). ``gateway``: the run's
    :class:`~cts_desktop.exchange.ccxt_gateway.CcxtGateway`."""
    report = ReconcileReport()
    loop = asyncio.get_running_loop()
    pf: Portfolio = core.portfolio
    try:
        balances = await gateway.fetch_balance()
        held = await fetch_held(gateway, markets)  # swap markets: the exchange keeps the positions
        open_orders: List[Order] = []
        for sym in markets:
            open_orders.extend(await gateway.fetch_open_orders(sym))
    except GatewayError as exc:
        report.error = f"cannot check the exchange after reconnecting: {exc.message}"
        balances, open_orders, held = {}, [], None
    if not report.error:
        positions = [p for p in pf.open.values() if p.symbol not in core._inflight]
        before = {p.id: p.amount for p in positions}
        rows = adjust_to_wallet([_copy(p) for p in positions], markets, balances, run_id, log, held)
        report.positions = [r for r in rows if r["action"] != "carried"]
        if held is not None:  # an order in flight may be changing the exchange's position: not judged now
            report.positions_listed = unknown_positions(
                {s: v for s, v in held.items() if s not in core._inflight}, rows, markets)
            for row in report.positions_listed:
                log(ev.CAT_POSITION, listing_line(row), "warning")
        for row in report.positions:
            p = pf.open[row["symbol"]]
            gone = before[p.id] - row["amount"]
            price = pf.last_prices.get(p.symbol) or p.last_price or p.entry_price
            pf.apply_fill(Fill(id=f"outside-{p.id}-{before[p.id]:g}", order_id="", clientOrderId="", symbol=p.symbol,
                               side=SELL if p.side == LONG else BUY, amount=gone, price=price, timestamp=core.last_ts, fee=0.0),
                          reason="closed outside the app")
        known = await loop.run_in_executor(None, store.known_client_ids, name, [o.clientOrderId for o in open_orders])
        followed = {o.clientOrderId for o in core.orders}
        report.adopted, report.listed = split_open_orders([o for o in open_orders if o.clientOrderId not in followed],
                                                          known, prefix)
        adopt = [o for o in open_orders if o.clientOrderId in {r["client_order_id"] for r in report.adopted}]
        for o in adopt:
            o.reason = "adopted"
    else:
        adopt = []
    if report.empty():
        return report
    if report.error:
        close_only(core, report.error, log)
    if recorder is not None and run_id is not None:
        await asyncio.wrap_future(recorder.flush())
        rid = run_id
        await loop.run_in_executor(None, lambda: store.save(rid, name, report.to_dict(), ok=report.ok,
                                                            detail=report.detail()))
    log(ev.CAT_ENGINE, f"reconciliation after reconnecting: {report.detail()}", "info" if report.ok else "error")
    core.bus.publish(ev.ReconciliationResult(name, 0, 0 if report.ok else 1, report.detail()))
    adopt_orders(core, adopt, follow)
    return report


def _copy(p: Position) -> Position:
    return Position(id=p.id, symbol=p.symbol, side=p.side, opened_at=p.opened_at, amount=p.amount,
                    entry_price=p.entry_price, last_price=p.last_price, stop_loss=p.stop_loss,
                    take_profit=p.take_profit, strategy=p.strategy, meta=dict(p.meta))


async def recheck_engine(engine: Any) -> ReconcileReport:
    """:func:`recheck_after_reconnect` for a running live
    :class:`~cts_desktop.engine.live.ExchangeEngine` ``engine``."""
    assert engine.core is not None and engine.gateway is not None and engine.orders is not None
    return await recheck_after_reconnect(engine.core, engine.gateway, engine.markets, prefix=engine.order_prefix or "",
                                         follow=engine.orders.follow, recorder=engine.recorder, run_id=engine.run_id,
                                         name=engine.name, log=engine._log)

