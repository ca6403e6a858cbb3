"""The command line reads the files traders download: ``candles convert`` to Parquet and back,
and ``backtest --candles`` on a Binance archive zip and on Parquet, saying what it detected."""
import subprocess
import sys
import zipfile

from tests.conftest import DATA, REPO
from tests.unit.test_importer import kline_rows


def cts(*args):
    return subprocess.run([sys.executable, "-m", "cts_desktop", *args], cwd=REPO, capture_output=True, text=True,
                          timeout=120)


def test_convert_to_parquet_and_backtest_it_gives_the_same_trades(tmp_path):
    pq = tmp_path / "coinbase.parquet"
    r = cts("candles", "convert", str(DATA / "COINBASE_BTC-USD_1h_2017-2019.csv"), str(pq))
    assert r.returncode == 0, r.stderr
    assert "20,111 candles, 1h, written to" in r.stdout and "detected: CTS candle CSV" in r.stderr
    trades = {}
    for name, src in (("csv", DATA / "COINBASE_BTC-USD_1h_2017-2019.csv"), ("parquet", pq)):
        out = tmp_path / f"{name}.trades.csv"
        r = cts("--data-dir", str(tmp_path / "data"), "backtest", "--candles", str(src), "--symbol", "BTC/USD",
                "--no-store", "--trades", str(out))
        assert r.returncode == 0, r.stderr
        trades[name] = out.read_text()
    assert "detected: Parquet file" in r.stderr
    assert trades["csv"] == trades["parquet"] and trades["csv"].count("\n") == 388  # 387 trades + header


def test_backtest_reads_a_binance_archive_zip_and_says_so(tmp_path):
    p = tmp_path / "BTCUSDT-1m-2025-01.zip"
    with zipfile.ZipFile(p, "w") as z:
        z.writestr("BTCUSDT-1m-2025-01.csv", "\n".join(kline_rows(300, 1000)) + "\n")
    r = cts("--data-dir", str(tmp_path), "backtest", "--candles", str(p), "--no-store")
    assert r.returncode == 0, r.stderr
    assert ("detected: Binance archive klines (12 columns, no header), open time in microseconds, converted to ms"
            in r.stderr)
    assert "300 candles" in r.stdout


def test_convert_refuses_a_bad_file_with_its_lines_and_writes_nothing(tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("Date,Open,High,Low,Close\n2022-01-01,1,2,0.5,1\n2022-01-02,1,0.4,0.5,1\n")
    out = tmp_path / "out.parquet"
    r = cts("candles", "convert", str(bad), str(out))
    assert r.returncode == 2 and "line 3: inconsistent candle" in r.stderr and "Traceback" not in r.stderr
    assert not out.exists() and not list(tmp_path.glob("*.part"))
