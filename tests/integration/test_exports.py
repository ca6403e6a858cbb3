"""CSV exports against real records: a headless replay's database for the table exports, and
fills recorded as a live connection's (through the real recorder and SQLite file) for tax."""
from __future__ import annotations

import csv
import sqlite3
import subprocess
import sys
from datetime import datetime, timezone

import pytest

from cts_desktop.core.models import Fill, Position
from cts_desktop.services import exports
from cts_desktop.services.tax_rows import TAX_COLUMNS
from cts_desktop.store.db import open_database
from cts_desktop.store.recorder import Recorder
from cts_desktop.store.settings import BUILTIN_PAPER_NAME
from tests.conftest import REPO


def _read(path):
    raw = path.read_bytes()
    raw.decode("utf-8")  # UTF-8, or this raises
    with open(path, newline="", encoding="utf-8") as f:
        rows = list(csv.reader(f))
    return rows[0], rows[1:]


def _iso(ms):
    return datetime.fromtimestamp(ms / 1000, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.") + f"{ms % 1000:03d}Z"


def _same(cell: str, value) -> bool:
    if value is None:
        return cell == ""
    if isinstance(value, float):
        return float(cell) == value and cell == repr(value)  # unformatted: Python's round-trip form
    return cell == str(value)


@pytest.fixture(scope="module")
def replay_db(tmp_path_factory):
    data = tmp_path_factory.mktemp("replay") / "data"
    r = subprocess.run([sys.executable, "-m", "cts_desktop", "--data-dir", str(data), "--headless",
                        "--connection", BUILTIN_PAPER_NAME, "--speed", "max"],
                       cwd=REPO, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    return data


SQL = {
    "orders": ("select run_id, timestamp, timestamp, client_order_id, exchange_id, symbol, side, type, amount, price, "
               "status, state, filled, remaining, average, cost, fee, fee_currency, reason, position_id, strategy, error, "
               "stop_loss, take_profit, trigger from orders where connection=? order by run_id, timestamp, id"),
    "fills": ("select run_id, timestamp, timestamp, fill_id, order_id, client_order_id, symbol, side, amount, price, cost, "
              "fee, fee_currency, taker_or_maker, position_id from fills where connection=? order by run_id, timestamp, id"),
    "positions": ("select run_id, position_id, closed_at, symbol, side, opened_at, opened_at, closed_at, closed_at, amount, "
                  "max_amount, entry_price, exit_price, last_price, realized_pnl, fees, realized_pnl - fees, stop_loss, "
                  "take_profit, close_reason, strategy from positions where connection=? order by run_id, position_id"),
    "activity": ("select run_id, timestamp, timestamp, wall_time, category, level, message from events "
                 "where connection=? order by id"),
}
ISO_COLUMNS = {"time_utc", "opened_utc", "closed_utc"}


@pytest.mark.parametrize("kind", exports.KINDS)
def test_table_export_matches_the_database_column_by_column(replay_db, tmp_path, kind):
    db = open_database(replay_db)
    try:
        out = tmp_path / exports.default_file_name(kind, BUILTIN_PAPER_NAME)
        n = exports.export_table(kind, BUILTIN_PAPER_NAME, out)
    finally:
        db.close()
    header, rows = _read(out)
    assert header == list(exports.columns(kind))
    raw = sqlite3.connect(replay_db / "cts-desktop.sqlite3").execute(SQL[kind], (BUILTIN_PAPER_NAME,)).fetchall()
    assert n == len(rows) == len(raw) > 0  # every row of the connection, not a screen's worth
    for row, rec in zip(rows, raw, strict=True):
        for name, cell, value in zip(header, row, rec, strict=True):
            if name in ISO_COLUMNS:
                assert cell == ("" if value is None else _iso(value)), name
            elif name == "status":
                assert cell == ("open" if value is None else "closed")
            elif name == "wall_time_utc":
                assert cell == _iso(int(round(value * 1000))), name
            elif name == "net_pnl":
                assert float(cell) == pytest.approx(value, rel=1e-12, abs=1e-12)
            else:
                assert _same(cell, value), (name, cell, value)


def test_unknown_kind_and_unwritable_file_are_refused(replay_db, tmp_path):
    db = open_database(replay_db)
    try:
        with pytest.raises(exports.ExportError, match="unknown export 'trades'"):
            exports.export_table("trades", BUILTIN_PAPER_NAME, tmp_path / "x.csv")
        with pytest.raises(exports.ExportError, match="cannot write"):
            exports.export_table("fills", BUILTIN_PAPER_NAME, tmp_path / "missing" / "x.csv")
        # a replay's fills are paper: never a tax record
        with pytest.raises(exports.ExportError, match="no live trades: .* never exported for tax"):
            exports.export_tax_csv(BUILTIN_PAPER_NAME, tmp_path / "tax.csv")
        assert not (tmp_path / "tax.csv").exists()
    finally:
        db.close()


T0 = 1_700_000_000_000  # 2023-11-14 22:13:20 UTC


def test_tax_export_live_fills_in_koinly_universal_layout(tmp_path):
    db = open_database(tmp_path)
    rec = Recorder(db)
    name = "My Binance"
    try:
        spot = rec.begin_run(name, "live", dataset="binance:spot:1m", currency="USDT")
        rec.fill(spot, name, Fill("t1", "o1", "cts-1-1", "BTC/USDT", "buy", 0.25, 40000.0, T0, 10.0, "USDT"), 1)
        rec.fill(spot, name, Fill("t2", "o2", "cts-1-2", "BTC/USDT", "sell", 0.25, 41000.5, T0 + 61_000, 0.0001, "BNB"), 1)
        rec.fill(spot, name, Fill("t3", "o3", "cts-1-3", "ETH/BTC", "buy", 2.0, 0.05, T0 + 120_000, 0.0, ""), 2)
        paper = rec.begin_run(name, "paper", dataset="binance:spot:1m", currency="USDT")
        rec.fill(paper, name, Fill("p1", "po1", "cts-2-1", "BTC/USDT", "buy", 1.0, 40000.0, T0 + 30_000, 40.0, "USDT"), 1)
        perp = rec.begin_run(name, "live", dataset="binance:swap:1m", currency="USDT")
        rec.fill(perp, name, Fill("f1", "fo1", "cts-3-1", "BTC/USDT:USDT", "buy", 1.0, 40000.0, T0 + 180_000, 4.0, "USDT"), 1)
        rec.fill(perp, name, Fill("f2", "fo2", "cts-3-2", "BTC/USDT:USDT", "sell", 1.0, 40500.0, T0 + 240_000, 4.0, "USDT"), 1)
        rec.position(perp, name, Position(1, "BTC/USDT:USDT", "long", T0 + 180_000, amount=0.0, entry_price=40000.0,
                                          max_amount=1.0, exit_price=40500.0, realized_pnl=500.0, fees=8.0,
                                          closed_at=T0 + 240_000, close_reason="signal"))
        rec.position(perp, name, Position(2, "BTC/USDT:USDT", "short", T0 + 300_000, amount=0.0, entry_price=40500.0,
                                          max_amount=1.0, exit_price=40600.0, realized_pnl=-100.0, fees=8.0,
                                          closed_at=T0 + 360_000, close_reason="stop-loss"))
        rec.position(perp, name, Position(3, "BTC/USDT:USDT", "long", T0 + 400_000, amount=1.0, entry_price=40000.0,
                                          max_amount=1.0))  # still open: realized nothing
        rec.flush().result(timeout=30)
        out = tmp_path / "tax.csv"
        n = exports.export_tax_csv(name, out)
    finally:
        rec.close()
        db.close()
    header, rows = _read(out)
    assert header == list(TAX_COLUMNS) == [
        "Date", "Sent Amount", "Sent Currency", "Received Amount", "Received Currency", "Fee Amount", "Fee Currency",
        "Net Worth Amount", "Net Worth Currency", "Label", "Description", "TxHash"]
    assert n == len(rows) == 5  # 3 spot fills + 2 closed perpetual positions; no paper fill, no perp fill
    by_hash = {r[-1]: dict(zip(header, r, strict=True)) for r in rows}
    assert "p1" not in by_hash and "f1" not in by_hash and "f2" not in by_hash
    buy, sell, eth = by_hash["t1"], by_hash["t2"], by_hash["t3"]
    assert buy == {"Date": "2023-11-14 22:13 UTC", "Sent Amount": "10000.0", "Sent Currency": "USDT",
                   "Received Amount": "0.25", "Received Currency": "BTC", "Fee Amount": "10.0", "Fee Currency": "USDT",
                   "Net Worth Amount": "", "Net Worth Currency": "", "Label": "",
                   "Description": buy["Description"], "TxHash": "t1"}
    assert "buy 0.25 BTC/USDT at 40000.0" in buy["Description"] and "cts-1-1" in buy["Description"]
    assert (sell["Date"], sell["Sent Amount"], sell["Sent Currency"], sell["Received Amount"], sell["Received Currency"],
            sell["Fee Amount"], sell["Fee Currency"], sell["Label"]) == (
        "2023-11-14 22:14 UTC", "0.25", "BTC", repr(0.25 * 41000.5), "USDT", "0.0001", "BNB", "")
    assert (eth["Sent Amount"], eth["Sent Currency"], eth["Received Amount"], eth["Received Currency"],
            eth["Fee Amount"], eth["Fee Currency"]) == ("0.1", "BTC", "2.0", "ETH", "", "")
    gain, loss = (by_hash[f"cts-{name}-run3-position{i}"] for i in (1, 2))
    assert (gain["Date"], gain["Sent Amount"], gain["Received Amount"], gain["Received Currency"], gain["Label"]) == (
        "2023-11-14 22:17 UTC", "", "492.0", "USDT", "realized gain")
    assert (loss["Date"], loss["Sent Amount"], loss["Sent Currency"], loss["Received Amount"], loss["Label"]) == (
        "2023-11-14 22:19 UTC", "108.0", "USDT", "", "realized gain")
    assert "gross 500.0, fees 8.0" in gain["Description"]
    assert [r[0] for r in rows] == sorted(r[0] for r in rows)  # time order
