"""The order state table and apply(): every transition in a table, trade ids once, filled capped."""
from __future__ import annotations

import dataclasses

import pytest

from cts_desktop.core.models import (FAILED, FILLED, PARTIALLY_FILLED, PENDING_CANCEL, PENDING_CREATE,
                                     STATE_CANCELED, STATE_OPEN, Order)
from cts_desktop.core.order_state import (EXPIRED, OUTCOME_UNKNOWN, TERMINAL, TRANSITIONS, OrderUpdate, apply,
                                          excess, snapshot)

ALL = [PENDING_CREATE, OUTCOME_UNKNOWN, STATE_OPEN, PARTIALLY_FILLED, PENDING_CANCEL, FILLED, STATE_CANCELED,
       FAILED, EXPIRED]

LEGAL = {
    (PENDING_CREATE, OUTCOME_UNKNOWN), (PENDING_CREATE, STATE_OPEN), (PENDING_CREATE, PARTIALLY_FILLED),
    (PENDING_CREATE, FILLED), (PENDING_CREATE, STATE_CANCELED), (PENDING_CREATE, FAILED),
    (PENDING_CREATE, EXPIRED), (PENDING_CREATE, PENDING_CANCEL),
    (OUTCOME_UNKNOWN, STATE_OPEN), (OUTCOME_UNKNOWN, PARTIALLY_FILLED), (OUTCOME_UNKNOWN, FILLED),
    (OUTCOME_UNKNOWN, STATE_CANCELED), (OUTCOME_UNKNOWN, FAILED), (OUTCOME_UNKNOWN, EXPIRED),
    (OUTCOME_UNKNOWN, PENDING_CANCEL),
    (STATE_OPEN, PARTIALLY_FILLED), (STATE_OPEN, FILLED), (STATE_OPEN, STATE_CANCELED), (STATE_OPEN, EXPIRED),
    (STATE_OPEN, PENDING_CANCEL),
    (PARTIALLY_FILLED, FILLED), (PARTIALLY_FILLED, STATE_CANCELED), (PARTIALLY_FILLED, EXPIRED),
    (PARTIALLY_FILLED, PENDING_CANCEL),
    (PENDING_CANCEL, STATE_OPEN), (PENDING_CANCEL, PARTIALLY_FILLED), (PENDING_CANCEL, FILLED),
    (PENDING_CANCEL, STATE_CANCELED), (PENDING_CANCEL, EXPIRED),
}


def order(state: str = PENDING_CREATE, amount: float = 1.0, filled: float = 0.0) -> Order:
    return Order(clientOrderId="c1", symbol="BTC/USDT", side="buy", type="market", amount=amount, state=state,
                 filled=filled)


@pytest.mark.parametrize("old", ALL)
@pytest.mark.parametrize("new", ALL)
def test_every_transition_of_the_table(old, new):
    o = order(old)
    out = apply(o, OrderUpdate(state=new))
    if old == new or (old, new) in LEGAL:
        assert o.state == new and not out.refused
    else:
        assert o.state == old, f"{old} -> {new} must be refused"
        assert "not a legal transition" in out.refused


def test_the_table_is_the_one_written_down():
    assert {(a, b) for a, nexts in TRANSITIONS.items() for b in nexts if a != b} == LEGAL
    assert TERMINAL == {FILLED, STATE_CANCELED, FAILED, EXPIRED}
    assert all(not TRANSITIONS[t] for t in TERMINAL)


def test_filled_to_open_is_refused_and_the_fill_amount_kept():
    o = order(FILLED, filled=1.0)
    out = apply(o, OrderUpdate(state=STATE_OPEN, filled=0.5))
    assert o.state == FILLED and o.filled == 1.0
    assert "stale" in out.refused and "filled -> open" in out.refused


def test_a_trade_id_is_booked_once():
    o = order(PARTIALLY_FILLED)
    assert apply(o, OrderUpdate(trade_id="7", trade_amount=0.4)).applied
    again = apply(o, OrderUpdate(trade_id="7", trade_amount=0.4))
    assert again.duplicate and not again.applied
    assert o.booked == pytest.approx(0.4) and o.filled == pytest.approx(0.4)


def test_filled_never_exceeds_amount_clamped_and_flagged():
    o = order(STATE_OPEN)
    out = apply(o, OrderUpdate(state=FILLED, filled=1.5))
    assert out.clamped and o.filled == 1.0 and o.remaining == 0.0 and o.state == FILLED
    assert "exceeds" in o.flag
    t = order(STATE_OPEN)
    apply(t, OrderUpdate(trade_id="1", trade_amount=0.7))
    assert excess(t, 0.7) == pytest.approx(0.4)
    out = apply(t, OrderUpdate(trade_id="2", trade_amount=0.7))
    assert out.clamped and t.filled == 1.0 and "exceed" in t.flag


def test_partial_fill_then_fill_then_late_stale_answer():
    o = order()
    apply(o, OrderUpdate(state=PARTIALLY_FILLED, filled=0.3))
    apply(o, OrderUpdate(state=FILLED, filled=1.0))
    out = apply(o, OrderUpdate(state=PARTIALLY_FILLED, filled=0.6))
    assert o.state == FILLED and o.filled == 1.0 and out.refused


def test_snapshot_is_a_frozen_copy():
    o = order(STATE_OPEN)
    apply(o, OrderUpdate(trade_id="1", trade_amount=0.2))
    snap = snapshot(o)
    assert isinstance(snap, Order) and snap.filled == pytest.approx(0.2) and snap.trade_ids == {"1"}
    with pytest.raises(dataclasses.FrozenInstanceError):
        snap.state = FILLED
    apply(o, OrderUpdate(state=FILLED, filled=1.0))
    assert snap.state == STATE_OPEN and snap.filled == pytest.approx(0.2)


def test_a_spot_sell_never_opens_or_grows_a_short():
    from cts_desktop.core.accounting import Portfolio
    from cts_desktop.core.models import Fill

    def fill(i, side, amount):
        return Fill(id=str(i), order_id="o", clientOrderId="c", symbol="BTC/USDT", side=side, amount=amount,
                    price=100.0, timestamp=i, fee=0.1)

    pf = Portfolio(1000.0, "USDT")
    pf.apply_fill(fill(1, "buy", 1.0), spot=True)
    changed = pf.apply_fill(fill(2, "sell", 1.5), spot=True)  # more than held: only the long is closed
    assert [p.closed_at for p in changed] == [2] and not pf.open
    assert changed[0].exit_amount == 1.0
    assert pf.apply_fill(fill(3, "sell", 0.5), spot=True) == [] and not pf.open  # flat: nothing opens
    pf.apply_fill(fill(4, "sell", 0.5))  # a market that can short (spot=False) still can
    assert pf.open["BTC/USDT"].side == "short"
