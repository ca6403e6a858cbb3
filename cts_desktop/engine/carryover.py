"""Positions carried across live restarts, orders adopted or listed, and the reconciliation report.

At a live start, after the orders of earlier runs are settled (:mod:`.reconcile`):

* **Positions.** The open positions of the connection's previous live run are rebuilt from the
  records alone: the positions that run carried in (its first reconciliation record) plus every
  fill booked for it, in booking order (settled late fills included), through a
  :class:`~cts_desktop.core.accounting.Portfolio`. Each keeps its entry price, stop-loss /
  take-profit (the run's position row wins when there is one) and strategy. A run killed before
  its record was written carried what its own predecessor left, so the chain is walked back.
* **Wallet.** On spot markets a long position is held as base coins: when the wallet holds less
  than the position (coins sold or moved by hand at the exchange), the position is reduced to
  the wallet's total (free + locked), or closed ("closed outside the app") when nothing is
  left. A short on a spot market cannot exist and is dropped. Every adjustment is logged and
  kept in the report. On perpetual futures (``swap``) the exchange keeps the position: it is
  checked against the exchange's positions instead (:mod:`.exchange_positions`: reduced, closed,
  flipped), and what the exchange holds beyond the app's positions is listed, not adopted.
* **Orders.** Open orders at the exchange on the run's symbols that the database does not know
  are *adopted* when their clientOrderId has this installation's and data dir's prefix
  (:func:`cts_desktop.store.installation.order_id_prefix`): recorded in
  the new run and followed until settled, their fills booked in the new run. Others are *listed*.

:class:`ReconcileReport` is what the trader reviews; it is stored (``store/reconciliations.py``).
"""
from __future__ import annotations

import asyncio
import logging
from dataclasses import asdict, dataclass, field
from typing import Any, Callable, Dict, List, Optional, Tuple

from ..core import events as ev
from ..core.accounting import Portfolio
from ..core.models import LONG, Fill, Market, Order, Position
from ..store import reconciliations as store
from ..store.recorder import Recorder
from .exchange_positions import check_swap
from .exits import protective_prices
from .lifecycle import LogFn

log = logging.getLogger(__name__)



@dataclass
class ReconcileReport:
    """What a start found and did. Amounts in base, prices in quote, ids as stored.

    ``interrupted``: run ids marked interrupted; ``settled``: orders of earlier runs brought to
    a final state (dicts: client_order_id, run_id, symbol, side, state, filled, amount);
    ``fills``: executions booked while settling them (fill_id, client_order_id, run_id, symbol,
    side, amount, price); ``positions``: positions carried into the new run (symbol, side,
    amount, entry_price, stop_loss, take_profit, strategy, from_run, recorded_amount,
    wallet_amount (spot), exchange_amount (swap: signed, base), action = carried / reduced /
    closed, note); ``positions_listed``: positions at the exchange that are not this app's
    (symbol, side, amount, entry_price, exchange_amount, note; :mod:`.exchange_positions`); ``adopted`` / ``listed``: open
    orders at the exchange (client_order_id, symbol, side, amount, filled); ``error``: why
    reconciliation failed ("" when it did not: the run is then close-only); ``resumed``: a paper
    replay resumed after an unclean stop (run id) or None.
    """

    interrupted: List[int] = field(default_factory=list)
    settled: List[Dict[str, Any]] = field(default_factory=list)
    fills: List[Dict[str, Any]] = field(default_factory=list)
    positions: List[Dict[str, Any]] = field(default_factory=list)
    adopted: List[Dict[str, Any]] = field(default_factory=list)
    listed: List[Dict[str, Any]] = field(default_factory=list)
    positions_listed: List[Dict[str, Any]] = field(default_factory=list)
    error: str = ""
    resumed: Optional[int] = None

    @property
    def ok(self) -> bool:
        return not self.error

    def empty(self) -> bool:
        """Nothing to review: no earlier state found, nothing done."""
        return self.ok and self.resumed is None and not any(
            (self.interrupted, self.settled, self.fills, self.positions, self.adopted, self.listed,
             self.positions_listed))

    def to_dict(self) -> Dict[str, Any]:
        return asdict(self)

    def detail(self) -> str:
        """One line for the trader (notification, log)."""
        parts = []
        if self.resumed is not None:
            parts.append(f"run #{self.resumed} resumed after an unclean stop")
        if self.interrupted:
            parts.append(f"{len(self.interrupted)} run(s) marked interrupted")
        if self.settled:
            parts.append(f"{len(self.settled)} order(s) settled")
        if self.fills:
            parts.append(f"{len(self.fills)} fill(s) booked")
        for action in ("carried", "reduced", "closed"):
            n = sum(1 for p in self.positions if p["action"] == action)
            if n:
                parts.append(f"{n} position(s) {action}")
        if self.adopted:
            parts.append(f"{len(self.adopted)} order(s) adopted")
        if self.listed:
            parts.append(f"{len(self.listed)} other open order(s) listed")
        if self.positions_listed:
            parts.append(f"{len(self.positions_listed)} other position(s) at the exchange listed")
        if self.error:
            parts.append(f"FAILED, close-only: {self.error}")
        return "; ".join(parts) or "nothing to reconcile"


def order_row(o: Order, run_id: Optional[int] = None) -> Dict[str, Any]:
    """An order as a report entry."""
    row: Dict[str, Any] = {"client_order_id": o.clientOrderId, "symbol": o.symbol, "side": o.side,
                           "amount": o.amount, "filled": o.filled, "state": o.state}
    if run_id is not None:
        row["run_id"] = run_id
    return row


def fill_row(f: Fill, run_id: int) -> Dict[str, Any]:
    """A fill as a report entry."""
    return {"fill_id": f.id, "client_order_id": f.clientOrderId, "run_id": run_id, "symbol": f.symbol,
            "side": f.side, "amount": f.amount, "price": f.price}


# -- positions of the previous run (worker thread: store reads) --------------------------------------
def _seed(rows: List[Dict[str, Any]]) -> List[Position]:
    return [Position(id=int(p["id"]), symbol=p["symbol"], side=p["side"], opened_at=int(p.get("opened_at") or 0),
                     amount=float(p["amount"]), entry_price=float(p["entry_price"]), max_amount=float(p["amount"]),
                     last_price=float(p.get("last_price") or p["entry_price"]), stop_loss=p.get("stop_loss"),
                     take_profit=p.get("take_profit"), strategy=p.get("strategy") or "", meta=dict(p.get("meta") or {}))
            for p in rows if float(p.get("amount") or 0) > 0]


def _replay_run(run_id: int, seed: List[Position], markets: Dict[str, Market]) -> List[Position]:
    """Open positions at the end of run ``run_id``: ``seed`` (carried in) plus every fill of the run."""
    pf = Portfolio(1.0, "")
    pf.restore([p for p in seed], [], 1.0, 0.0, 0.0, 1.0, 0.0, max((p.id for p in seed), default=0) + 1)
    orders = store.run_orders(run_id)
    for fill, _pid in store.run_fills(run_id):
        if fill.amount <= 0 or fill.price <= 0:
            continue
        o = orders.get(fill.clientOrderId)
        reason, strategy = (o.reason, o.strategy) if o is not None else ("adopted", "")
        sl = tp = None
        market = markets.get(fill.symbol)
        if o is not None and reason == "entry" and market is not None:
            sl, tp = protective_prices(o.side, fill.price, o.stop_loss, o.take_profit, market.price_step)
        pf.apply_fill(fill, reason=reason, strategy=strategy, stop_loss=sl, take_profit=tp)
    rows = store.position_rows(run_id)
    out = []
    for p in pf.open.values():
        row = rows.get(p.id)
        if row is not None:
            p.stop_loss, p.take_profit = row["stop_loss"], row["take_profit"]
            p.strategy = row["strategy"] or p.strategy
            p.meta = {**row["meta"], **p.meta}
        out.append(p)
    return out


def previous_positions(connection: str, markets: Dict[str, Market]) -> Tuple[List[Position], Optional[int]]:
    """``(open positions the connection's latest live run left, that run's id)`` (module docstring);
    ``([], None)`` when there was no live run."""
    chain: List[int] = []
    seed: List[Position] = []
    for rid in store.live_runs_before(connection, None):
        chain.append(rid)
        carried = store.carried_in(rid)
        if carried is not None:
            seed = _seed(carried)
            break
    if not chain:
        return [], None
    positions = seed
    for rid in reversed(chain):
        positions = _replay_run(rid, positions, markets)
    return positions, chain[0]


def adjust_to_wallet(positions: List[Position], markets: Dict[str, Market], balances: Dict[str, Dict[str, float]],
                     from_run: Optional[int], log_fn: LogFn,
                     held: Optional[Dict[str, Tuple[float, float]]] = None) -> List[Dict[str, Any]]:
    """Report entries of ``positions`` after checking them against the wallet, or on swap markets
    against ``held`` (the exchange's positions, :func:`.exchange_positions.fetch_held`; None: not
    checked) (module docstring); the positions' ``amount`` is changed in place (0: closed)."""
    out = []
    for p in positions:
        market = markets.get(p.symbol)
        recorded = p.amount
        wallet: Optional[float] = None
        at_exchange: Optional[float] = None
        action, note = "carried", ""
        if market is not None and market.type == "swap" and held is not None:
            at_exchange = held.get(p.symbol, (0.0, 0.0))[0]
            action, note, p.amount = check_swap(p, market, at_exchange)
        if market is not None and market.type == "spot":
            wallet = float((balances.get(market.base) or {}).get("total", 0.0))
            tol = max(market.amount_step / 2, 1e-12)
            if p.side != LONG:
                action, note, p.amount = "closed", "a spot market cannot hold a short position", 0.0
            elif wallet < p.amount - tol:
                if wallet < max(market.min_amount, tol):
                    action, note, p.amount = "closed", f"closed outside the app: the wallet holds {wallet:g} {market.base}", 0.0
                else:
                    action, note, p.amount = "reduced", (f"reduced outside the app: the wallet holds {wallet:g} "
                                                         f"{market.base} of {recorded:g}"), wallet
        if action != "carried":
            log_fn(ev.CAT_POSITION, f"position #{p.id} {p.side} {recorded:g} {p.symbol} of run #{from_run}: {note}",
                   "warning")
        out.append({"id": p.id, "symbol": p.symbol, "side": p.side, "amount": p.amount, "entry_price": p.entry_price,
                    "stop_loss": p.stop_loss, "take_profit": p.take_profit, "strategy": p.strategy,
                    "opened_at": p.opened_at, "last_price": p.last_price, "meta": p.meta, "from_run": from_run,
                    "recorded_amount": recorded, "wallet_amount": wallet, "exchange_amount": at_exchange,
                    "action": action, "note": note})
    return out


def carried_notional(rows: List[Dict[str, Any]]) -> float:
    """Entry notional (quote) of the positions carried (still open after adjustment)."""
    return sum(r["amount"] * r["entry_price"] for r in rows if r["amount"] > 0)


# -- into the new run ---------------------------------------------------------------------------
def install(core: Any, report: ReconcileReport) -> None:
    """Put the carried positions into ``core``'s portfolio (new ids from 1, also written into
    ``report``; recorded in the new run) and make ``core`` close-only when reconciliation
    failed. ``core``: a
    :class:`~cts_desktop.engine.core.TradingCore` whose starting balance already counts the
    carried notional (:func:`carried_notional`)."""
    pf: Portfolio = core.portfolio
    carried: List[Position] = []
    for row in report.positions:
        if row["amount"] <= 0:
            continue
        p = _seed([row])[0]
        p.id = len(carried) + 1
        p.meta = {**p.meta, "carried_from_run": row["from_run"], "carried_position": row["id"]}
        row["id"] = p.id
        carried.append(p)
    if carried:
        pf.restore(carried, [], pf.balance, 0.0, 0.0, pf.peak, 0.0, len(carried) + 1)
        for p in carried:
            pf.last_prices[p.symbol] = p.last_price
            core.journal.position_changed(p)
            core.log(ev.CAT_POSITION, f"carried from run #{p.meta['carried_from_run']}: {p.side} {p.amount:g} "
                                      f"{p.symbol} entry {p.entry_price:g}"
                     + (f", stop {p.stop_loss:g}" if p.stop_loss else "")
                     + (f", target {p.take_profit:g}" if p.take_profit else "") + f" ({p.strategy or 'strategy'})")
    if report.error:
        close_only(core, report.error, core.log)


CLOSE_ONLY_KEY = "reconciliation"
"""The key of the close-only hold in :class:`~.breakers.Breakers` (``core.breakers.holds``)."""


def close_only(core: Any, error: str, log: LogFn) -> None:
    """Reconciliation failed (``error``): ``core`` refuses every new entry from now on (a hold in
    its breakers, :data:`CLOSE_ONLY_KEY`); exits, stop-losses and cancels stay allowed."""
    reason = f"close-only: reconciliation failed: {error}"
    if core.breakers is not None:
        core.breakers.hold(CLOSE_ONLY_KEY, reason)
    log(ev.CAT_ENGINE, f"{reason}; exits, stop-losses and cancels stay allowed", "error")


def adopt_orders(core: Any, orders: List[Order], follow: Callable[[Order], None]) -> None:
    """Record ``orders`` in ``core``'s run as in flight on their symbols and hand each to ``follow``."""
    for o in orders:
        core.orders.append(o)
        core._inflight[o.symbol] = o
        core.journal.order(o)
        follow(o)


def split_open_orders(open_orders: List[Order], known: set,
                      prefix: str) -> Tuple[List[Dict[str, Any]], List[Dict[str, Any]]]:
    """``(adopted, listed)`` report entries of orders open at the exchange that the database does
    not know (``known``: client ids it does): adopted when the client id starts with ``prefix``."""
    adopted: List[Dict[str, Any]] = []
    listed: List[Dict[str, Any]] = []
    for o in open_orders:
        if o.clientOrderId in known:
            continue
        row = order_row(o)
        row.update(id=o.id, timestamp=o.timestamp)
        (adopted if prefix and (o.clientOrderId or '').startswith(prefix) else listed).append(row)
    return adopted, listed


async def start_run(core: Any, report: ReconcileReport, adopt: List[Order],
                    follow: Optional[Callable[[Order], None]], *, recorder: Optional[Recorder],
                    run_id: Optional[int], name: str, log: LogFn) -> None:
    """At a run's start, before it trades: :func:`install`, the report stored (after the carried
    positions are committed) and published as a
    :class:`~cts_desktop.core.events.ReconciliationResult` when not empty, then the ``adopt``
    orders handed to ``follow`` (:func:`adopt_orders`)."""
    install(core, report)
    if recorder is not None and run_id is not None:
        await asyncio.wrap_future(recorder.flush())
        rid = run_id
        await asyncio.get_running_loop().run_in_executor(
            None, lambda: store.save(rid, name, report.to_dict(), ok=report.ok, detail=report.detail(),
                                     interrupted=report.interrupted))
    if not report.empty():
        log(ev.CAT_ENGINE, f"reconciliation: {report.detail()}", "info" if report.ok else "error")
        core.bus.publish(ev.ReconciliationResult(name, len(report.settled), 0 if report.ok else 1, report.detail()))
    if adopt and follow is not None:
        adopt_orders(core, adopt, follow)


def note_replay_start(connection: str, run_id: int, *, resumed: bool,
                      state: Optional[Dict[str, Any]] = None) -> ReconcileReport:
    """Mark ``connection``'s other runs left ``running`` interrupted and/or, when the replay run
    ``run_id`` resumes (``state``: its ``resume_state``), store a record saying so (with its
    open positions as ``carried`` and its orders in flight as ``adopted``). Returns the report
    (empty when there was nothing to note; then nothing is stored). Worker thread only."""
    report = ReconcileReport(interrupted=store.running_runs(
        connection, modes=("paper-replay", "paper", "live"), keep=run_id))
    if resumed:
        report.resumed = run_id
        st = state or {}
        report.positions = [{"id": p.id, "symbol": p.symbol, "side": p.side, "amount": p.amount,
                             "entry_price": p.entry_price, "stop_loss": p.stop_loss, "take_profit": p.take_profit,
                             "strategy": p.strategy, "from_run": run_id, "recorded_amount": p.amount,
                             "wallet_amount": None, "action": "carried", "note": "resumed"}
                            for p in st.get("positions", []) if p.closed_at is None and p.amount > 0]
        report.adopted = [{"client_order_id": o.clientOrderId, "symbol": o.symbol, "side": o.side,
                           "amount": o.amount, "filled": o.filled, "state": o.state, "run_id": run_id}
                          for o in st.get("open_orders", [])]
    if not report.empty():
        store.save(run_id, connection, report.to_dict(), ok=True, detail=report.detail(),
                   interrupted=report.interrupted)
    return report


async def paper_start_report(connection: str) -> ReconcileReport:
    """An exchange paper run's start: ``connection``'s live and paper runs left ``running``, to be
    marked interrupted when the report is stored (:func:`start_run`)."""
    ids = await asyncio.get_running_loop().run_in_executor(
        None, lambda: store.running_runs(connection, modes=("live", "paper")))
    return ReconcileReport(interrupted=ids)


async def start_run_of(engine: Any, core: Any) -> None:
    """:func:`start_run` for :class:`~cts_desktop.engine.live.ExchangeEngine` ``engine`` (nothing
    when its start made no report)."""
    if engine.reconciliation is not None:
        await start_run(core, engine.reconciliation, engine._adopt, engine.orders.follow if engine.orders else None,
                        recorder=engine.recorder, run_id=engine.run_id, name=engine.name, log=engine._log)

