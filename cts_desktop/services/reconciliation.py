"""The reconciliation review: what the start of a run found about earlier runs and did about it.

The engine stores one summary per start that found something (``store/reconciliations.py``, shape
:class:`~cts_desktop.engine.carryover.ReconcileReport`). This service turns it into the review
the trader reads: the review dialog of the GUI and the lines headless mode prints come from
:func:`review_of`, so both say the same words.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional

from ..store import reconciliations as recs
from ..store import repositories as repo

CLOSE_ONLY_NOTE = ("This run is close-only: no new entries; exits, stop-losses and cancels stay allowed. "
                   "Check the orders at the exchange, then stop and start the run again.")


@dataclass(frozen=True)
class ReviewSection:
    """One part of the review: ``title`` and one readable line per item; a line indented by two
    spaces explains the line before it."""

    title: str
    rows: List[str]


@dataclass(frozen=True)
class ReconciliationReview:
    """A stored summary, readable. ``ok`` False: reconciliation failed (``error`` says why; the
    run is close-only). ``created_at``: ms UTC."""

    connection: str
    run_id: int
    ok: bool
    headline: str
    error: str = ""
    created_at: int = 0
    sections: List[ReviewSection] = field(default_factory=list)

    def lines(self) -> List[str]:
        """The review as plain text lines (headless mode prints them)."""
        out = [f"reconciliation of {self.connection}, run #{self.run_id}: {self.headline}"]
        if not self.ok:
            out.append(f"  FAILED: {self.error}")
            out.append(f"  {CLOSE_ONLY_NOTE}")
        for s in self.sections:
            out.append(f"  {s.title}:")
            out.extend(f"    {r}" for r in s.rows)
        return out


def _num(v: Any) -> str:
    return "-" if v is None else f"{float(v):,.8g}"


def _position(p: Dict[str, Any]) -> str:
    stop = f"stop {_num(p['stop_loss'])}" if p.get("stop_loss") else "no stop"
    target = f"target {_num(p['take_profit'])}" if p.get("take_profit") else "no target"
    amount = p["amount"] if p["action"] != "closed" else p.get("recorded_amount")
    text = (f"{p['action']}: {p['side']} {_num(amount)} {p['symbol']} entry {_num(p['entry_price'])}, {stop}, "
            f"{target} ({p.get('strategy') or 'strategy'}), from run #{p.get('from_run')}")
    if p["action"] != "carried":  # the why on a line of its own, indented (a sub-item in the dialog)
        held = (f"exchange {_num(p['exchange_amount'])}" if p.get("exchange_amount") is not None
                else f"wallet {_num(p.get('wallet_amount'))}")  # futures: the exchange's position (signed)
        text += f"\n  {p.get('note', '')} (recorded {_num(p.get('recorded_amount'))}, {held})"
    return text


def _order(o: Dict[str, Any], tail: str) -> str:
    run = f" (run #{o['run_id']})" if o.get("run_id") else ""
    return (f"{o.get('client_order_id') or o.get('id')}{run}: {o['side']} {_num(o['amount'])} {o['symbol']}, "
            f"{_num(o.get('filled', 0))} filled, {o.get('state', '')}{tail}")


def review_of(summary: Dict[str, Any], connection: str) -> Optional[ReconciliationReview]:
    """The review of one stored summary (as :func:`store.reconciliations.for_run` returns it), or
    None when it holds nothing to review."""
    sections = []
    if summary.get("resumed") is not None:
        sections.append(ReviewSection("Resumed", [f"run #{summary['resumed']} carried on after an unclean stop "
                                                  "(the app or machine stopped under it)"]))
    if summary.get("interrupted"):
        sections.append(ReviewSection("Runs marked interrupted", [
            f"run #{r}: the app stopped while it ran" for r in summary["interrupted"]]))
    if summary.get("settled"):
        sections.append(ReviewSection("Orders of earlier runs settled", [_order(o, "") for o in summary["settled"]]))
    if summary.get("fills"):
        sections.append(ReviewSection("Fills booked (executed while the app was down)", [
            f"trade {f['fill_id']}: {f['side']} {_num(f['amount'])} {f['symbol']} @ {_num(f['price'])}, order "
            f"{f['client_order_id']} (run #{f['run_id']})" for f in summary["fills"]]))
    if summary.get("positions"):
        sections.append(ReviewSection("Positions", [line for p in summary["positions"]
                                                    for line in _position(p).split("\n")]))
    if summary.get("adopted"):
        sections.append(ReviewSection("Orders adopted (followed by this run)",
                                      [_order(o, "") for o in summary["adopted"]]))
    if summary.get("listed"):
        sections.append(ReviewSection("Other open orders at the exchange (not this app's, left as they are)",
                                      [_order(o, "") for o in summary["listed"]]))
    if summary.get("positions_listed"):
        sections.append(ReviewSection("Other positions at the exchange (not this app's, left as they are)", [
            f"{p['side']} {_num(p['amount'])} {p['symbol']} entry {_num(p.get('entry_price'))}: {p.get('note', '')}"
            for p in summary["positions_listed"]]))
    ok = bool(summary.get("ok", not summary.get("error")))
    if not sections and ok:
        return None
    return ReconciliationReview(connection=connection, run_id=int(summary.get("run_id") or 0), ok=ok,
                                headline=str(summary.get("detail") or ""), error=str(summary.get("error") or ""),
                                created_at=int(summary.get("created_at") or 0), sections=sections)


def latest_review(connection: str, run_id: Optional[int] = None) -> Optional[ReconciliationReview]:
    """The newest review of run ``run_id`` (default: the connection's latest run), or None."""
    if run_id is None:
        run = repo.latest_run(connection)
        if run is None:
            return None
        run_id = int(run.id)
    stored = recs.for_run(run_id)
    return review_of(stored[-1], connection) if stored else None
