"""The rows the recorder writes: snapshots of orders and positions as table rows, JSON of a
signal's or position's meta, equity chunks, and a commit's records grouped by table."""
from __future__ import annotations

import json
from array import array
from dataclasses import dataclass, field
from concurrent.futures import Future
from typing import Dict, List

from ..core.models import Order, Position

# json.dumps(x, default=str) with the encoder built once: dumps builds a new one per call when
# given any option, and signal and position meta are encoded per record
_encode = json.JSONEncoder(default=str).encode
_key = json.encoder.encode_basestring_ascii  # json's own key quoting (C)


def _to_json(meta: dict) -> str:
    """``json.dumps(meta, default=str)``, the same text; a flat dict of finite floats and ints
    (what strategies put in a signal's meta) is written directly, ~4x faster."""
    parts = []
    for k, v in meta.items():
        t = type(v)
        if type(k) is not str or not (t is int or (t is float and v - v == 0)):
            return _encode(meta)
        parts.append(f"{_key(k)}: {v!r}")
    return "{" + ", ".join(parts) + "}"




def _order_row(run_id: int, connection: str, o: Order) -> dict:
    return {
        "run": run_id, "connection": connection, "client_order_id": o.clientOrderId, "exchange_id": o.id,
        "symbol": o.symbol, "side": o.side, "type": o.type, "amount": o.amount, "price": o.price,
        "status": o.status, "state": o.state, "filled": o.filled, "remaining": o.remaining,
        "average": o.average, "cost": o.cost, "fee": o.fee, "fee_currency": o.fee_currency,
        "reason": o.reason, "position_id": o.position_id, "strategy": o.strategy, "error": o.error,
        "stop_loss": o.stop_loss, "take_profit": o.take_profit, "timestamp": o.timestamp,
        "trigger": o.trigger,
    }


def _position_row(run_id: int, connection: str, p: Position) -> dict:
    return {
        "run": run_id, "connection": connection, "position_id": p.id, "symbol": p.symbol, "side": p.side,
        "amount": p.amount, "max_amount": p.max_amount, "entry_price": p.entry_price,
        "exit_price": p.exit_price, "realized_pnl": p.realized_pnl, "fees": p.fees,
        "last_price": p.last_price, "stop_loss": p.stop_loss, "take_profit": p.take_profit,
        "opened_at": p.opened_at, "closed_at": p.closed_at, "close_reason": p.close_reason,
        "strategy": p.strategy, "meta": _to_json(p.meta) if p.meta else "{}", "protection": p.protection,
    }


def _materialize(items: List[tuple]) -> List[tuple]:
    """Turn deferred object references into rows of their final state, one per object, at the
    place of the object's last mention (so orders still precede their fills)."""
    out: List[tuple] = []
    seen = set()
    for kind, payload in reversed(items):
        if kind == "order_obj" or kind == "position_obj":
            key = id(payload[2])
            if key in seen:
                continue
            seen.add(key)
            row = (_order_row if kind == "order_obj" else _position_row)(*payload)
            out.append(("order" if kind == "order_obj" else "position", row))
        else:
            out.append((kind, payload))
    out.reverse()
    return out


def _chunk(run_id: int, ts: array, equity: array, balance: array) -> dict:
    return {"run": run_id, "first_ts": ts[0], "last_ts": ts[-1], "points": len(ts), "timestamps": ts.tobytes(),
            "equity": equity.tobytes(), "balance": balance.tobytes()}


@dataclass
class _Grouped:
    """One commit's records by kind, in arrival order; the latest snapshot of an order, a
    position or a run's fields wins. ``waiters``: flush futures; ``calls``: ``(fn, future)``."""

    waiters: List[Future] = field(default_factory=list)
    calls: List[tuple] = field(default_factory=list)
    orders: Dict[str, dict] = field(default_factory=dict)
    positions: Dict[tuple, dict] = field(default_factory=dict)
    runs: Dict[int, dict] = field(default_factory=dict)
    fills: List[dict] = field(default_factory=list)
    signals: List[dict] = field(default_factory=list)
    chunks: List[dict] = field(default_factory=list)
    events: List[dict] = field(default_factory=list)


def _group(items: List[tuple]) -> _Grouped:
    g = _Grouped()
    for kind, payload in items:
        if kind == "order":
            g.orders[payload["client_order_id"]] = payload  # the latest snapshot wins
        elif kind == "fill":
            g.fills.append(payload)
        elif kind == "position":
            g.positions[(payload["run"], payload["position_id"])] = payload
        elif kind == "signal":
            g.signals.append(payload)
        elif kind == "chunk":
            g.chunks.append(payload)
        elif kind == "event":
            g.events.append(payload)
        elif kind == "run":
            g.runs.setdefault(payload[0], {}).update(payload[1])
        elif kind == "flush":
            g.waiters.append(payload)
        elif kind == "call":
            g.calls.append(payload)
    return g
