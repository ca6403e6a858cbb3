"""Backtests: parity with the paper-replay engine, the command line, and bad input."""
import asyncio
import csv
import subprocess
import sys

import pytest

from cts_desktop.engine import strategies
from cts_desktop.engine.backtest import TRADE_COLUMNS, Backtest
from cts_desktop.exchange.replay import ReplaySource, get_dataset
from cts_desktop.services import AppServices
from cts_desktop.store import repositories as repo
from cts_desktop.store.settings import ConnectionConfig
from tests.conftest import DATA, REPO

PARAMS = {"fast": 8, "slow": 21, "size": 0.3, "stop_loss": 1.5, "take_profit": 3.0, "allow_short": True}


def fill_key(f):
    return (f.timestamp, f.symbol, f.side, round(f.amount, 12), f.price, round(f.fee, 12))


@pytest.mark.parametrize("dataset", ["ftx-btc-perp-1m", "bittrex-btc-5m"])
def test_backtest_and_paper_replay_give_identical_fills(dirs, dataset):
    services = AppServices(*dirs)
    conn = ConnectionConfig(name="parity", dataset=dataset, speed="max", strategy="ma_cross",
                            strategy_params=PARAMS, risk={"max_position_fraction": 0.5, "max_open_positions": 3})
    services.save_connection(conn)

    async def replay():
        eng = await services.start_engine("parity")
        await eng.wait()
        return eng

    eng = asyncio.run(replay())
    services.close()
    assert eng.state == "stopped", eng.reason
    replay_fills = [fill_key(f) for f in eng.core.fills]

    source = ReplaySource(get_dataset(dataset))
    from cts_desktop.core.risk import RiskLimits
    bt = Backtest(strategies.get("ma_cross")(PARAMS), {s: v.candles for s, v in source.series.items()},
                  source.markets, timeframe_ms=source.timeframe_ms,
                  starting_balance=conn.starting_balance * source.quote_per_usd(),
                  limits=RiskLimits(0.5, 3))
    result = bt.run()
    backtest_fills = [fill_key(f) for f in result.fills]
    assert len(replay_fills) > 20
    assert backtest_fills == replay_fills
    assert result.metrics.final_equity == pytest.approx(eng.summary()["equity"], rel=1e-12)


def cts(*args):
    return subprocess.run([sys.executable, "-m", "cts_desktop", *args], cwd=REPO, capture_output=True, text=True,
                          timeout=120)


def test_cli_backtest_writes_trades_and_keeps_the_run(tmp_path):
    trades = tmp_path / "trades.csv"
    r = cts("--data-dir", str(tmp_path / "data"), "backtest", "--candles", str(DATA / "COINBASE_BTC-USD_1h_2017-2019.csv"),
            "--symbol", "BTC/USD", "--param", "fast=10", "--param", "slow=30", "--param", "size=1.0",
            "--param", "stop_loss=0", "--param", "take_profit=0", "--cash", "10000", "--fee", "0.001",
            "--trades", str(trades))
    assert r.returncode == 0, r.stderr
    for word in ("Total return", "Win rate", "Profit factor", "Sharpe", "Sortino", "Max drawdown", "Exposure",
                 "Fees paid", "Expectancy"):
        assert word in r.stdout
    rows = list(csv.reader(trades.open()))
    assert rows[0] == TRADE_COLUMNS
    body = rows[1:]
    assert len(body) > 100
    for row in body:
        rec = dict(zip(TRADE_COLUMNS, row))
        assert int(rec["exit_time"]) > int(rec["entry_time"]) > 1_498_000_000_000
        assert float(rec["net_pnl"]) == pytest.approx(float(rec["pnl"]) - float(rec["fees"]))
        # 100 % sizing: the fee is included, so every entry was affordable
        assert float(rec["amount"]) > 0
    services = AppServices(tmp_path / "data", tmp_path / "config")
    try:
        run = repo.latest_run("backtest")
        assert run.mode == "backtest" and run.state == "finished"
        assert len(repo.equity_curve(run.id)) == 20_111
        assert repo.counts("backtest")["closed_positions"] == len(body)
    finally:
        services.close()


def test_full_size_entries_are_affordable():
    source = ReplaySource(get_dataset("coinbase-btc-usd-1h"))
    from cts_desktop.core.risk import RiskLimits
    bt = Backtest(strategies.get("ma_cross")({"fast": 10, "slow": 30, "size": 1.0, "stop_loss": 0, "take_profit": 0}),
                  {s: v.candles for s, v in source.series.items()}, source.markets,
                  timeframe_ms=source.timeframe_ms, starting_balance=10_000, limits=RiskLimits(1.0, 1))
    result = bt.run()
    assert result.metrics.trades > 100
    assert not any(p.close_reason == "" for p in result.positions if p.closed_at)
    # no entry was ever refused for lack of funds
    assert all(o.error == "" for o in bt.core.orders)


@pytest.mark.parametrize("args, needle", [
    (["--param", "fast=30", "--param", "slow=10"], "slow: must be greater than fast"),
    (["--param", "size=2"], "size: must be <= 1"),
    (["--param", "nope=1"], "nope: unknown parameter"),
    (["--strategy", "magic"], "unknown strategy 'magic'"),
    (["--cash", "-5"], "--cash must be > 0"),
])
def test_cli_bad_parameters(tmp_path, args, needle):
    r = cts("--data-dir", str(tmp_path), "backtest", "--candles", str(DATA / "COINBASE_BTC-USD_1h_2017-2019.csv"),
            "--symbol", "BTC/USD", "--no-store", *args)
    assert r.returncode == 2 and needle in r.stderr and "Traceback" not in r.stderr


def test_cli_bad_candle_file_names_the_row(tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("timestamp,open,high,low,close,volume\n60000,1,2,0.5,1,1\n120000,1,2,0.5,1,1\n60000,1,2,0.5,1,1\n")
    r = cts("--data-dir", str(tmp_path), "backtest", "--candles", str(bad), "--no-store")
    assert r.returncode == 2 and "line 4: timestamp 60000 is earlier" in r.stderr
    r = cts("--data-dir", str(tmp_path), "backtest", "--candles", str(tmp_path / "missing.csv"), "--no-store")
    assert r.returncode == 2 and "file not found" in r.stderr
