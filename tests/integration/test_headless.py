"""Headless mode as a server or CI runs it: a real process, real data, a real database."""
import json
import sqlite3
import subprocess
import sys

from cts_desktop.store.settings import BUILTIN_PAPER_NAME

from tests.conftest import REPO


def cts(*args, timeout=120):
    return subprocess.run([sys.executable, "-m", "cts_desktop", *args], cwd=REPO, capture_output=True,
                          text=True, timeout=timeout)


def summary_of(out: str) -> dict:
    line = next(l for l in out.splitlines() if l.startswith("summary "))
    return json.loads(line[len("summary "):])


def test_headless_ftx_month_at_max_speed(tmp_path):
    data = tmp_path / "data"
    r = cts("--data-dir", str(data), "--headless", "--connection", BUILTIN_PAPER_NAME, "--speed", "max")
    assert r.returncode == 0, r.stderr
    s = summary_of(r.stdout)
    assert s["state"] == "stopped" and s["reason"] == "end of data"
    assert s["candles"] == 45_031 and s["trades"] > 0 and s["currency"] == "USD"
    for word in ("trades", "total P&L", "win rate", "max drawdown", "equity at end"):
        assert word in r.stdout
    db = sqlite3.connect(data / "cts-desktop.sqlite3")
    assert db.execute("pragma journal_mode").fetchone()[0] == "wal"
    assert db.execute("select count(*) from orders").fetchone()[0] == s["orders"]
    assert db.execute("select count(*) from fills").fetchone()[0] == s["fills"]
    assert db.execute("select count(*) from signals").fetchone()[0] > 0
    assert db.execute("select sum(points) from equity_chunks").fetchone()[0] == 45_031
    assert db.execute("select count(*) from positions where closed_at is not null").fetchone()[0] == s["trades"]


def test_headless_duration_stops_cleanly(tmp_path):
    r = cts("--data-dir", str(tmp_path), "--headless", "--connection", BUILTIN_PAPER_NAME,
            "--speed", "x1000", "--duration", "1.5")
    assert r.returncode == 0, r.stderr
    s = summary_of(r.stdout)
    assert s["reason"] == "duration of 1.5 s reached" and 0 < s["candles"] < 45_031


def test_unknown_connection_exits_2(tmp_path):
    r = cts("--data-dir", str(tmp_path), "--headless", "--connection", "Nope")
    assert r.returncode == 2
    assert "unknown connection 'Nope'" in r.stderr and BUILTIN_PAPER_NAME in r.stderr
    assert "Traceback" not in r.stderr


def test_unwritable_data_dir_exits_2(tmp_path):
    blocker = tmp_path / "afile"
    blocker.write_text("")
    r = cts("--data-dir", str(blocker / "data"), "--headless", "--connection", BUILTIN_PAPER_NAME)
    assert r.returncode == 2 and "cannot" in r.stderr and "Traceback" not in r.stderr


def test_invalid_parameters_exit_nonzero_with_message(tmp_path):
    cfg = tmp_path / "data" / "config"
    cfg.mkdir(parents=True)
    conn = {"name": "Bad", "dataset": "bittrex-btc-5m", "strategy_params": {"fast": 20, "slow": 10}}
    (cfg / "connections.json").write_text(json.dumps({"version": 1, "connections": [conn]}))
    r = cts("--data-dir", str(tmp_path / "data"), "--headless", "--connection", "Bad", "--speed", "max")
    assert r.returncode != 0 and "slow: must be greater than fast (20), got 10" in r.stderr
