"""Backtest exports: the trades CSV matches the positions, the HTML report holds the metrics, the
SVG charts, the breakdowns, the trades and the simulator's assumptions; the CLI's --report."""
import csv
import re
import subprocess
import sys
import xml.etree.ElementTree as ET

import pytest

from cts_desktop.services import reports as report
from cts_desktop.engine import strategies
from cts_desktop.engine.backtest import TRADE_COLUMNS, Backtest
from cts_desktop.exchange.replay import ReplaySource, get_dataset
from tests.conftest import REPO


@pytest.fixture(scope="module")
def result():
    source = ReplaySource(get_dataset("bittrex-btc-5m"))
    bt = Backtest(strategies.get("ma_cross")({"fast": 8, "slow": 21}), {s: v.candles for s, v in source.series.items()},
                  source.markets, timeframe_ms=source.timeframe_ms, starting_balance=1.0, fee=0.001)
    r = bt.run()
    assert r.metrics.trades > 50
    return r


def test_trades_csv_matches_the_positions(tmp_path, result):
    path = tmp_path / "trades.csv"
    n = report.write_trades_csv(path, result.positions)
    rows = list(csv.reader(path.open(encoding="utf-8")))
    assert rows[0] == TRADE_COLUMNS
    closed = [p for p in result.positions if p.closed_at is not None]
    assert n == len(rows) - 1 == len(closed)
    for row, p in zip(rows[1:], closed):
        rec = dict(zip(TRADE_COLUMNS, row))
        assert int(rec["position_id"]) == p.id and rec["symbol"] == p.symbol and rec["side"] == p.side
        assert int(rec["entry_time"]) == p.opened_at and int(rec["exit_time"]) == p.closed_at
        assert float(rec["entry_price"]) == p.entry_price and float(rec["exit_price"]) == p.exit_price  # full precision
        assert float(rec["amount"]) == p.max_amount
        assert float(rec["pnl"]) == p.realized_pnl and float(rec["fees"]) == p.fees
        assert float(rec["net_pnl"]) == pytest.approx(p.realized_pnl - p.fees, abs=1e-15)
        assert rec["close_reason"] == p.close_reason and rec["strategy"] == "ma_cross"
    assert not list(tmp_path.glob(".*tmp"))  # written through a temporary file, nothing left over


def test_trades_csv_unwritable_raises_and_leaves_nothing(tmp_path, result):
    with pytest.raises(OSError):
        report.write_trades_csv(tmp_path / "missing-dir" / "t.csv", result.positions)
    assert list(tmp_path.iterdir()) == []


def test_html_report_contents(tmp_path, result):
    path = tmp_path / "r.html"
    report.write_html_report(path, result, "MA cross <on> Bittrex", {"fast": 8, "slow": 21},
                             settings={"fee": "0.1 %"})
    text = path.read_text(encoding="utf-8")
    assert text.startswith("<!DOCTYPE html>") and "<script" not in text and "http://" not in text.replace(
        'xmlns="http://www.w3.org/2000/svg"', "")  # self-contained: no scripts, no external resources
    assert "MA cross &lt;on&gt; Bittrex" in text  # escaped
    m = result.metrics
    # every metric, formatted with its unit
    for field, label, kind, _help in report.METRIC_ROWS:
        row = re.search(rf'<tr id="m-{field}">(.*?)</tr>', text)
        assert row, field
        assert report.format_metric(kind, getattr(m, field), "BTC") in row.group(1)
    assert f"{m.total_return * 100:.2f} %" in text
    assert "annualised with sqrt(365)" in text and "daily" in text
    assert "Money in BTC" in text
    # two charts, valid SVG, with drawn lines
    svgs = re.findall(r"<svg.*?</svg>", text, re.S)
    assert len(svgs) == 2
    for s in svgs:
        root = ET.fromstring(s)
        line = root.find("{http://www.w3.org/2000/svg}polyline")
        assert line is not None and len(line.get("points").split()) > 100
    # breakdowns and trades
    for sym in ("ETH/BTC", "LTC/BTC", "ADA/BTC"):
        assert f"<td>{sym}</td>" in text
    assert f"Trades ({m.trades:,})" in text
    assert text.count("<tr>") >= m.trades
    # assumptions
    assert "next candle&#x27;s open" in text or "next candle's open" in text
    assert "taker fee" in text
    assert "stop-loss is assumed to have come first" in text
    assert "<td>param: fast</td>" in text


def test_svg_chart_edge_cases():
    assert "no data" in report.svg_line_chart([])
    flat = report.svg_line_chart([(0, 5.0), (60_000, 5.0), (120_000, 5.0)])
    ET.fromstring(flat)
    big = [(i * 60_000, float(i % 97)) for i in range(200_000)]
    svg = report.svg_line_chart(big, width=800)
    ET.fromstring(svg)
    assert len(svg) < 100_000  # downsampled


def test_drawdown_series():
    dd = report.drawdown_series([(1, 100.0), (2, 110.0), (3, 99.0), (4, 120.0)], 100.0)
    assert [round(d, 6) for _t, d in dd] == [0.0, 0.0, -0.1, 0.0]


def test_cli_report(tmp_path):
    out = tmp_path / "out.html"
    r = subprocess.run([sys.executable, "-m", "cts_desktop", "--data-dir", str(tmp_path / "data"), "backtest",
                        "--dataset", "coinbase-btc-usd-1h", "--no-store", "--report", str(out)],
                       cwd=REPO, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert f"report written to {out}" in r.stdout
    text = out.read_text(encoding="utf-8")
    assert text.count("<svg") == 2 and "Sharpe ratio (daily, annualised with sqrt(365))" in text
    r = subprocess.run([sys.executable, "-m", "cts_desktop", "--data-dir", str(tmp_path / "data"), "backtest",
                        "--dataset", "coinbase-btc-usd-1h", "--no-store", "--report", str(tmp_path / "no" / "x.html")],
                       cwd=REPO, capture_output=True, text=True, timeout=120)
    assert r.returncode == 2 and "cannot write" in r.stderr
