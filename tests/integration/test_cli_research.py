"""``cts-desktop optimize / walkforward / montecarlo`` as a user types them: the outputs they
promise, the stored study reopened, and one message naming the option for bad input (exit 2)."""
import csv
import json
import subprocess
import sys

import pytest

from cts_desktop.cli.main import main
from tests.conftest import REPO

SLICE = ["--dataset", "ftx-btc-perp-1m", "--from", "2022-01-01", "--to", "2022-01-03"]
SPACE = ["--space", "fast=4:12:4", "--space", "slow=20:40:20"]


def cli(*args, data):
    return subprocess.run([sys.executable, "-m", "cts_desktop", "--data-dir", str(data), *args], cwd=REPO,
                          capture_output=True, text=True, timeout=240)


def test_optimize_then_show_list_walkforward_and_montecarlo(tmp_path):
    data = tmp_path / "data"
    p = cli("optimize", *SLICE, *SPACE, "--objective", "sharpe", "--workers", "2", "--export", str(tmp_path / "t.csv"),
            "--report", str(tmp_path / "best.html"), "--save-preset", "from-study", data=data)
    assert p.returncode == 0, p.stderr
    assert "study 1: ma_cross on ftx-btc-perp-1m, grid search, sharpe (maximize), 6 trials" in p.stdout
    assert "best: trial" in p.stdout
    with open(tmp_path / "t.csv", newline="") as f:
        assert len(list(csv.DictReader(f))) == 6
    assert (tmp_path / "best.html").stat().st_size > 1000
    presets = json.loads((data / "config" / "presets.json").read_text())["presets"]
    assert presets["from-study"]["strategy"] == "ma_cross"

    shown = cli("optimize", "--show", "1", "--json", data=data)
    assert shown.returncode == 0, shown.stderr
    d = json.loads(shown.stdout)
    assert d["study_id"] == 1 and len(d["trials"]) == 6 and d["best"]["params"] == {
        k: presets["from-study"]["params"][k] for k in ("fast", "slow")}

    wf = cli("walkforward", *SLICE, *SPACE, "--in-sample", "1d", "--out-of-sample", "12h", "--workers", "1",
             "--objective", "total_return", data=data)
    assert wf.returncode == 0, wf.stderr
    assert "walk-forward study 2: 2 windows" in wf.stdout and "stitched out-of-sample: return" in wf.stdout

    listed = cli("optimize", "--list", data=data)
    assert [line.split()[:3] for line in listed.stdout.splitlines()[1:]][0][0] == "2"
    assert "walkforward" in listed.stdout and "optimize" in listed.stdout

    mc = cli("montecarlo", "--paths", "300", "--fan", str(tmp_path / "fan.csv"), data=data)  # the re-run best trial
    assert mc.returncode == 0, mc.stderr
    assert "Monte Carlo, bootstrap: 300 paths" in mc.stdout and "longest losing streak" in mc.stdout
    with open(tmp_path / "fan.csv", newline="") as f:
        assert next(csv.reader(f)) == ["trade", "p5", "p25", "p50", "p75", "p95"]


@pytest.mark.parametrize("args, message", [
    (["optimize", *SLICE, "--space", "nope=1:2"], "param nope: unknown parameter of ma_cross"),
    (["optimize", *SLICE, "--space", "fast=9:3"], "param fast: min 9 > max 3"),
    (["optimize", *SLICE, *SPACE, "--objective", "luck"], "objective: unknown metric 'luck'"),
    (["optimize", *SLICE, *SPACE, "--method", "tpe", "--trials", "0"], "--trials must be >= 1"),
    (["optimize", *SLICE, *SPACE, "--max-drawdown", "30"], "--max-drawdown: a fraction in (0, 1]"),
    (["optimize", "--dataset", "ftx-btc-perp-1m", "--to", "2022-01-01T00:30", *SPACE], "data: 89 candles"),
    (["walkforward", *SLICE, *SPACE, "--in-sample", "3d", "--out-of-sample", "1d"], "--in-sample: the first window"),
    (["optimize", *SPACE], "give --dataset KEY, --candles CSV or --history CONNECTION"),
    (["optimize", "--show", "7"], "--show: no study 7"),
    (["montecarlo"], "run: no backtest run yet"),
])
def test_bad_input_one_message_exit_2(tmp_path, capsys, args, message):
    assert main(["--data-dir", str(tmp_path), *args]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1, err


def _utc(ms: int) -> str:
    from datetime import datetime, timezone
    return datetime.fromtimestamp(ms / 1000, timezone.utc).strftime("%Y-%m-%dT%H:%M")


def test_optimize_on_exchange_history_through_a_connection(tmp_path, venue):
    """--history: the candles come from the exchange (the local venue, real ccxt client), are kept
    as a file in the data dir, and the study runs on exactly those candles; a second run asks the
    exchange for nothing (the cache); an unknown connection is bad input that names it."""
    from cts_desktop.store.settings import SettingsStore
    from tests.venue.harness import connection_for

    data = tmp_path / "data"
    store = SettingsStore(data / "config").load()
    store.add(connection_for(venue, "venue"))
    store.save()
    served = venue.state.candles("BTCUSDT")
    since, until = served[200][0], served[800][0]  # 600 closed 5m candles
    args = ["optimize", "--history", "venue", "--symbol", "BTC/USDT", "--timeframe", "5m", "--from", _utc(since),
            "--to", _utc(until), *SPACE, "--workers", "1", "--objective", "total_return"]
    p = cli(*args, data=data)
    assert p.returncode == 0, p.stderr
    assert "6 trials" in p.stdout and "kept in" in p.stderr
    kept = list((data / "history").glob("binance_BTC-USDT_5m_*.parquet"))
    assert len(kept) == 1
    from cts_desktop.exchange.importer import load
    cols = load(kept[0]).candles
    assert len(cols) == 600 and int(cols.arrays()[0][0]) == since
    klines = sum(1 for _m, path in venue.requests if path == "/api/v3/klines")
    again = cli(*args, data=data)
    assert again.returncode == 0, again.stderr
    assert sum(1 for _m, path in venue.requests if path == "/api/v3/klines") == klines

    bad = cli(*[("nope" if a == "venue" else a) for a in args], data=data)
    assert bad.returncode == 2 and "unknown connection 'nope'" in bad.stderr
