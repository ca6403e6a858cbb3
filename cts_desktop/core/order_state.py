"""The order state table and the one :func:`apply` every order update goes through.

States (``Order.state``): ``pending-create`` (recorded, not acknowledged yet), ``outcome-unknown``
(sent, the answer was lost: it is queried, never resent), ``open``, ``partially-filled``,
``pending-cancel``, and the terminal ``filled``, ``canceled``, ``failed`` (rejected) and
``expired``. :data:`TRANSITIONS` lists which state may follow which; a terminal state is never
left. An update is what the exchange (or the paper exchange) said about an order: a state with
the cumulative ``filled`` amount (base) from a create / fetch / cancel answer, or one execution
(trade id, gross amount in base).

:func:`apply` changes the order in place and returns an :class:`Outcome`:

* an illegal transition (``filled`` -> ``open``, ``canceled`` -> anything...) is refused: the
  order's state is left as it was and ``Outcome.refused`` says why (the caller logs it);
* a cumulative ``filled`` lower than what is known (a stale answer) is ignored;
* an execution whose trade id was seen is ignored (``Outcome.duplicate``);
* ``filled`` never exceeds ``amount``: a larger value is clamped and the order flagged
  (``Order.flag``, ``Outcome.clamped``).

Pure: no I/O, no clock; imports only :mod:`.models`.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Dict, FrozenSet, Optional

from .models import (FAILED, FILLED, PARTIALLY_FILLED, PENDING_CANCEL, PENDING_CREATE, STATE_CANCELED, STATE_OPEN,
                     Order)

OUTCOME_UNKNOWN = "outcome-unknown"
EXPIRED = "expired"

TERMINAL: FrozenSet[str] = frozenset({FILLED, STATE_CANCELED, FAILED, EXPIRED})
"""States an order never leaves."""

_LIVE = frozenset({STATE_OPEN, PARTIALLY_FILLED, FILLED, STATE_CANCELED, EXPIRED, PENDING_CANCEL})
TRANSITIONS: Dict[str, FrozenSet[str]] = {
    PENDING_CREATE: _LIVE | {FAILED, OUTCOME_UNKNOWN},
    OUTCOME_UNKNOWN: _LIVE | {FAILED},
    STATE_OPEN: _LIVE,
    PARTIALLY_FILLED: _LIVE - {STATE_OPEN},
    PENDING_CANCEL: _LIVE,  # open again when the cancel was refused
    FILLED: frozenset(),
    STATE_CANCELED: frozenset(),
    FAILED: frozenset(),
    EXPIRED: frozenset(),
}
"""state -> the states that may follow it (staying in the same state is always allowed)."""

TOLERANCE = 1e-9
"""Relative tolerance (fraction of the amount) for comparing amounts in base."""


@dataclass(frozen=True)
class OrderUpdate:
    """What was said about an order. ``state``: the reported state (None: unchanged);
    ``filled``: cumulative executed amount in base (None: not reported); ``trade_id`` and
    ``trade_amount`` (base, gross): one execution; ``source``: who said it, for the log."""

    state: Optional[str] = None
    filled: Optional[float] = None
    trade_id: Optional[str] = None
    trade_amount: float = 0.0
    source: str = ""


@dataclass(frozen=True)
class Outcome:
    """The verdict of :func:`apply`. ``applied``: something changed or was accepted;
    ``refused``: why (part of) the update was not applied, "" when all was; ``duplicate``: the
    trade id was seen before; ``clamped``: ``filled`` was capped at ``amount``."""

    applied: bool
    refused: str = ""
    duplicate: bool = False
    clamped: bool = False


def is_terminal(state: str) -> bool:
    """True for ``filled``, ``canceled``, ``failed`` and ``expired``."""
    return state in TERMINAL


def allowed(old: str, new: str) -> bool:
    """Whether ``new`` may follow ``old`` (an unknown ``old`` allows what ``pending-create`` does)."""
    return new == old or new in TRANSITIONS.get(old, TRANSITIONS[PENDING_CREATE])


def _limit(order: Order) -> float:
    return order.amount * (1 + TOLERANCE) if order.amount > 0 else float("inf")


def _clamp(order: Order, filled: float, what: str) -> bool:
    """Set ``order.filled`` to ``filled`` capped at the amount; True when it was capped."""
    if filled > _limit(order):
        order.filled = order.amount
        order.flag = order.flag or f"{what} {filled:g} exceeds the order amount {order.amount:g}"
        clamped = True
    else:
        order.filled = min(filled, order.amount) if order.amount > 0 else filled
        clamped = False
    order.remaining = max(order.amount - order.filled, 0.0)
    return clamped


def apply(order: Order, update: OrderUpdate) -> Outcome:
    """Apply ``update`` to ``order`` in place (module docstring); never raises."""
    if update.trade_id is not None:
        return _apply_trade(order, update)
    refused, clamped, changed = "", False, False
    if update.filled is not None:
        if update.filled + TOLERANCE * max(order.amount, 1.0) < order.filled:
            refused = f"filled {update.filled:g} is below the {order.filled:g} already known (stale answer)"
        elif update.filled != order.filled:
            clamped = _clamp(order, update.filled, "reported filled")
            changed = True
    new = update.state
    if new is not None and new != order.state:
        if not allowed(order.state, new):
            why = f"{order.state} -> {new} is not a legal transition"
            refused = f"{refused}; {why}" if refused else why
        else:
            order.state = new
            changed = True
    return Outcome(applied=changed or not refused, refused=refused, clamped=clamped)


def _apply_trade(order: Order, update: OrderUpdate) -> Outcome:
    tid = str(update.trade_id)
    if tid in order.trade_ids:
        return Outcome(applied=False, duplicate=True, refused=f"trade {tid} was booked already")
    order.trade_ids.add(tid)
    order.booked += update.trade_amount
    clamped = False
    if order.booked > _limit(order):
        order.flag = order.flag or f"executions {order.booked:g} exceed the order amount {order.amount:g}"
        clamped = True
    if order.booked > order.filled:
        clamped = _clamp(order, order.booked, "executions") or clamped
    return Outcome(applied=True, clamped=clamped)


NOT_OURS = "not our order"
"""Start of ``Order.flag`` when the exchange's order under our client id is someone else's."""


def adoption_problem(order: Order, symbol: Optional[str], side: Optional[str], amount: Optional[float]) -> str:
    """Why an exchange order found under ``order``'s client id is not ``order`` ("" when its
    ``symbol``, ``side`` and ``amount`` (base; relative tolerance 1e-6) match ours; a value the
    exchange did not report is not compared)."""
    diffs = []
    if symbol and symbol != order.symbol:
        diffs.append(f"symbol {symbol} (ours {order.symbol})")
    if side and side != order.side:
        diffs.append(f"side {side} (ours {order.side})")
    if amount is not None and order.amount > 0 and abs(amount - order.amount) > 1e-6 * order.amount:
        diffs.append(f"amount {amount:g} (ours {order.amount:g})")
    if not diffs:
        return ""
    return f"{NOT_OURS}: the exchange's order {order.clientOrderId} has " + ", ".join(diffs) + "; its fills are not booked"


def excess(order: Order, trade_amount: float) -> float:
    """How much of an execution of ``trade_amount`` (base) would take the booked total of
    ``order`` past its amount (0.0 when none): the part that must not be booked."""
    room = max(order.amount - order.booked, 0.0)
    return max(trade_amount - room, 0.0) if order.amount > 0 else 0.0


class FrozenOrder(Order):
    """An immutable copy of an :class:`Order` (what events carry): setting an attribute raises
    :class:`dataclasses.FrozenInstanceError`. Made with :func:`snapshot`."""

    __slots__ = ()

    def __setattr__(self, name: str, value: object) -> None:
        raise dataclasses.FrozenInstanceError(f"an order snapshot is read-only (set {name})")

    def __delattr__(self, name: str) -> None:
        raise dataclasses.FrozenInstanceError(f"an order snapshot is read-only (del {name})")


def snapshot(order: Order) -> Order:
    """A :class:`FrozenOrder` copy of ``order`` as it is now (its trade ids as a frozenset)."""
    if isinstance(order, FrozenOrder):
        return order
    copy = object.__new__(FrozenOrder)
    for f in dataclasses.fields(Order):
        value = getattr(order, f.name)
        object.__setattr__(copy, f.name, frozenset(value) if isinstance(value, set) else value)
    return copy
