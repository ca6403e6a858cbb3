"""Candles built from trades (engine/trade_candles.py) against a recorded Binance trade tape and
the 1m candles Binance served for the same span: every candle identical (the recording leaves
out minutes without a trade, which the builder gives flat at the last close); plus the rules for
silent periods, repeated and late trades, and closing by the clock."""
from __future__ import annotations

import csv
from pathlib import Path

import pytest

from cts_desktop.engine.trade_candles import TradeCandles

REPO = Path(__file__).resolve().parents[2]
TRADES = REPO / "tests" / "venue" / "data" / "BINANCE_XRP-ETH_trades_2019-10.csv"
CANDLES = REPO / "resources" / "data" / "BINANCE_XRP-ETH_1m_2019-10.csv"
MINUTE = 60_000


def recorded_trades():
    with TRADES.open() as f:
        return [{"timestamp": int(r["timestamp"]), "id": r["id"], "price": float(r["price"]),
                 "amount": float(r["amount"])} for r in csv.DictReader(f)]


def recorded_candles():
    with CANDLES.open() as f:
        return [(int(r["timestamp"]), float(r["open"]), float(r["high"]), float(r["low"]), float(r["close"]),
                 float(r["volume"])) for r in csv.DictReader(f)]


def test_candles_from_the_recorded_trades_equal_the_recorded_candles():
    trades, expected = recorded_trades(), recorded_candles()
    assert len(trades) == 12_477 and len(expected) == 2_469
    builder = TradeCandles(MINUTE)
    built = []
    for i in range(0, len(trades), 37):  # in the stream's overlapping batches: every trade again once
        built.extend(builder.add_trades(trades[max(i - 5, 0):i + 37]))
    built.extend(builder.close_until(trades[-1]["timestamp"] - trades[-1]["timestamp"] % MINUTE + MINUTE))
    # the recording leaves out the minutes without a trade; the builder gives them flat, volume 0
    traded = [c for c in built if c[5] > 0]
    silent = [c for c in built if c[5] == 0]
    assert [c[0] for c in traded] == [c[0] for c in expected]
    assert len(silent) == len(built) - len(expected) > 0
    assert [c[0] for c in built] == list(range(built[0][0], built[-1][0] + MINUTE, MINUTE))  # no minute missing
    for c in silent:
        assert c[1] == c[2] == c[3] == c[4]
    for got, want in zip(traded, expected, strict=True):
        assert got[:5] == want[:5], got[0]  # prices exactly: the same trades, nothing computed
        assert got[5] == pytest.approx(want[5], rel=1e-9, abs=1e-9)
    assert builder.late_trades == 0


def test_silent_periods_give_flat_candles_at_the_last_close():
    b = TradeCandles(MINUTE)
    assert b.add(10_000, 5.0, 1.0) == [] and b.add(20_000, 7.0, 2.0) == []
    closed = b.add(3 * MINUTE + 5, 6.0, 1.0)  # minutes 1 and 2 without a trade
    assert closed == [(0, 5.0, 7.0, 5.0, 7.0, 3.0), (MINUTE, 7.0, 7.0, 7.0, 7.0, 0.0),
                      (2 * MINUTE, 7.0, 7.0, 7.0, 7.0, 0.0)]
    assert b.forming == (3 * MINUTE, 6.0, 6.0, 6.0, 6.0, 1.0)


def test_closing_by_the_clock_then_the_first_trade_opens_the_candle():
    b = TradeCandles(MINUTE)
    b.add(1_000, 5.0, 1.0)
    assert b.close_until(MINUTE - 1) == []  # not over yet
    assert b.close_until(MINUTE + 10) == [(0, 5.0, 5.0, 5.0, 5.0, 1.0)]
    assert b.add(MINUTE + 20, 6.0, 2.0) == []
    assert b.forming == (MINUTE, 6.0, 6.0, 6.0, 6.0, 2.0)  # opened by its first trade, not the last close
    assert b.close_until(3 * MINUTE) == [(MINUTE, 6.0, 6.0, 6.0, 6.0, 2.0), (2 * MINUTE, 6.0, 6.0, 6.0, 6.0, 0.0)]


def test_repeated_and_late_trades_are_left_out():
    b = TradeCandles(MINUTE)
    b.add_trades([{"timestamp": 1_000, "price": 5.0, "amount": 1.0, "id": 1}])
    b.add_trades([{"timestamp": 1_000, "price": 5.0, "amount": 1.0, "id": 1},  # the overlap
                  {"timestamp": MINUTE + 1, "price": 6.0, "amount": 1.0, "id": 2}])
    assert b.add(500, 9.0, 1.0, "0") == [] and b.late_trades == 1  # its minute was handed on already
    assert b.forming == (MINUTE, 6.0, 6.0, 6.0, 6.0, 1.0)
    with pytest.raises(ValueError):
        TradeCandles(0)
