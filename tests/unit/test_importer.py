"""The candle files traders download: each layout is recognised, its times converted to ms, what
was detected is said, and every layout goes through the same line-numbered checks. The sample
files are small real-shaped copies written here (no network)."""
import bisect
import gzip
import pickle
import zipfile

import numpy as np
import pytest

from cts_desktop.core.columns import CandleColumns
from cts_desktop.exchange.candles import CandleFileError, load_candles_csv, write_candles

T0 = 1_735_689_600_000  # 2025-01-01 00:00 UTC, ms


def kline_rows(n, unit_mul, start=T0, step=60_000):
    """Binance archive kline rows: open time, o, h, l, c, volume, close time, quote volume,
    trades, taker buy base, taker buy quote, ignore."""
    out, p = [], 93_500.0
    for i in range(n):
        o, c = p, p + (5.5 if i % 2 else -3.25)
        t = (start + i * step) * unit_mul
        out.append(f"{t},{o:.8f},{max(o, c) + 2:.8f},{min(o, c) - 2:.8f},{c:.8f},12.50000000,"
                   f"{t + (step - 1) * unit_mul},1168750.12,321,6.1,570000.5,0")
        p = c
    return out


def binance_zip(tmp_path, rows, name="BTCUSDT-1m-2025-01-01"):
    p = tmp_path / f"{name}.zip"
    with zipfile.ZipFile(p, "w") as z:
        z.writestr(f"{name}.csv", "\n".join(rows) + "\n")
    return p


def test_binance_spot_zip_in_microseconds(tmp_path):
    s = load_candles_csv(binance_zip(tmp_path, kline_rows(6, 1000)))
    assert s.layout == ("Binance archive klines (12 columns, no header), open time in microseconds, "
                        "converted to ms")
    assert len(s.candles) == 6 and s.timeframe == "1m" and s.start == T0
    assert s.candles[1] == (T0 + 60_000, 93_496.75, 93_504.25, 93_494.75, 93_502.25, 12.5)


def test_binance_futures_archive_with_header_in_ms(tmp_path):
    header = ("open_time,open,high,low,close,volume,close_time,quote_volume,count,taker_buy_volume,"
              "taker_buy_quote_volume,ignore")
    p = tmp_path / "BTCUSDT-5m.csv"
    p.write_text(header + "\n" + "\n".join(kline_rows(4, 1, step=300_000)) + "\n")
    s = load_candles_csv(p)
    assert s.layout == "Binance archive klines (12 columns, with header), open time in milliseconds"
    assert s.timeframe == "5m" and s.candles[0][0] == T0


def test_tradingview_export_in_seconds_with_extra_columns(tmp_path):
    p = tmp_path / "BINANCE_BTCUSDT, 60.csv"
    p.write_text("time,open,high,low,close,Volume,Volume MA\n" + "".join(
        f"{1_704_067_200 + i * 3600},{100 + i},{102 + i},{99 + i},{101 + i},{10 * i},5\n" for i in range(5)))
    s = load_candles_csv(p)
    assert s.layout == "TradingView export (time,open,high,low,close,Volume), time in seconds, converted to ms"
    assert s.timeframe == "1h" and s.candles[4] == (1_704_081_600_000, 104.0, 106.0, 103.0, 105.0, 40.0)
    assert "seconds" in s.unit_note


def test_tradingview_export_with_iso_time(tmp_path):
    p = tmp_path / "tv_iso.csv"
    p.write_text("time,open,high,low,close\n" + "".join(
        f"2024-01-01T{i:02d}:00:00Z,1,2,0.5,1.5\n" for i in range(3)))
    s = load_candles_csv(p)
    assert "no volume column: volumes set to 0" in s.layout and "ISO text with a zone" in s.layout
    assert s.candles[0] == (1_704_067_200_000, 1.0, 2.0, 0.5, 1.5, 0.0)


def test_date_column_with_offsets_and_header_aliases(tmp_path):
    p = tmp_path / "export.csv"
    p.write_text("Date,OPEN,High,low,Close,Volume BTC,Volume USD\n" + "".join(
        f"2022-01-01T{i:02d}:00:00+02:00,{100 + i},{102 + i},{99 + i},{101 + i},{i},{i * 100}\n" for i in range(4)))
    s = load_candles_csv(p)
    assert s.start == 1_640_988_000_000  # 2022-01-01 00:00+02:00 is 2021-12-31 22:00 UTC
    assert s.candles[3][5] == 3.0  # the first volume column
    assert "Date as time" in s.layout and "ISO text with a zone, converted to ms UTC" in s.layout


def test_naive_iso_dates_semicolons_are_taken_as_utc(tmp_path):
    p = tmp_path / "daily.csv"
    p.write_text("Datetime;open;high;low;close;volume\n2022-01-01 00:00:00;1;2;0.5;1;3\n"
                 "2022-01-02 00:00:00;1;2;0.5;1;3\n2022-01-03 00:00:00;1;2;0.5;1;3\n")
    s = load_candles_csv(p)
    assert s.timeframe == "1d" and s.start == 1_640_995_200_000
    assert "without a zone, taken as UTC" in s.layout


def test_gzip_file_in_seconds(tmp_path):
    p = tmp_path / "c.csv.gz"
    with gzip.open(p, "wt") as f:
        f.write("timestamp,open,high,low,close,volume\n" + "".join(
            f"{1_640_995_200 + i * 60},1,2,0.5,1,1\n" for i in range(4)))
    s = load_candles_csv(p)
    assert s.start == 1_640_995_200_000 and "time in seconds, converted to ms" in s.layout


def test_parquet_round_trip_is_exact(tmp_path):
    from tests.conftest import DATA
    src = load_candles_csv(DATA / "BITTREX_ADA-BTC_5m_2018-01.csv")
    out = write_candles(src, tmp_path / "ada.parquet")
    back = load_candles_csv(out)
    assert back.candles == src.candles and back.gaps == src.gaps and back.layout.startswith("Parquet file")
    again = load_candles_csv(write_candles(back, tmp_path / "ada.csv.gz"))
    assert again.candles == src.candles


def test_one_set_of_checks_for_every_layout(tmp_path):
    rows = kline_rows(8, 1000)
    rows[2], rows[3] = rows[3], rows[2]  # out of order at line 4 (no header: line = row)
    rows[6] = rows[5]  # duplicate at line 7
    f = rows[1].split(",")
    f[2], f[3] = f[3], f[2]  # high below low at line 2
    rows[1] = ",".join(f)
    with pytest.raises(CandleFileError) as err:
        load_candles_csv(binance_zip(tmp_path, rows))
    text = str(err.value)
    assert "line 2: inconsistent candle" in text and "line 4: timestamp" in text and "is earlier" in text
    assert "line 7: duplicate timestamp" in text


def test_gaps_are_reported_with_their_lines_for_headerless_files(tmp_path):
    rows = kline_rows(6, 1)
    del rows[3]  # a missing minute before (file) line 4
    s = load_candles_csv(binance_zip(tmp_path, rows))
    assert s.gaps == 1 and s.warnings == ["line 4: gap of 120 s before this candle (expected 60 s)"]


def test_unreadable_values_are_named_by_line_in_any_layout(tmp_path):
    rows = kline_rows(5, 1000)
    rows[3] = rows[3].replace(",12.50000000,", ",n/a,", 1)
    with pytest.raises(CandleFileError, match="line 4: volume is not a number: 'n/a'"):
        load_candles_csv(binance_zip(tmp_path, rows))
    p = tmp_path / "iso.csv"
    p.write_text("Date,Open,High,Low,Close\n2022-01-01,1,2,0.5,1\nyesterday,1,2,0.5,1\n")
    with pytest.raises(CandleFileError, match="line 3: timestamp is not an ISO date and time: 'yesterday'"):
        load_candles_csv(p)


@pytest.mark.parametrize("make, needle", [
    (lambda d: _zip(d, {"a.csv": "x", "b.csv": "y"}), "holds 2 files"),
    (lambda d: _write(d / "bad.zip", b"not a zip"), "not a valid zip file"),
    (lambda d: _write(d / "x.parquet", b"not parquet"), "not a readable Parquet file"),
])
def test_containers_that_cannot_be_read(tmp_path, make, needle):
    with pytest.raises(CandleFileError, match=needle):
        load_candles_csv(make(tmp_path))


def _zip(d, members):
    p = d / "two.zip"
    with zipfile.ZipFile(p, "w") as z:
        for name, text in members.items():
            z.writestr(name, text)
    return p


def _write(p, data):
    p.write_bytes(data)
    return p


def test_columns_are_a_sequence_of_candles():
    rows = [(T0 + i * 60_000, 1.0 + i, 2.0 + i, 0.5 + i, 1.5 + i, float(i)) for i in range(10)]
    cols = CandleColumns.from_rows(rows)
    assert list(cols) == rows and cols == rows and len(cols) == 10 and cols.nbytes == 480
    assert cols[3] == rows[3] and type(cols[3][0]) is int and type(cols[3][1]) is float
    tail = cols[4:]
    assert isinstance(tail, CandleColumns) and list(tail) == rows[4:] and np.shares_memory(tail.ts, cols.ts)
    assert bisect.bisect_right(cols, (T0 + 120_000, float("inf"))) == cols.index_after(T0 + 120_000) == 3
    assert pickle.loads(pickle.dumps(cols)) == cols


def test_checks_in_chunks_see_across_the_chunk_boundaries(tmp_path, monkeypatch):
    from cts_desktop.exchange import candle_checks
    monkeypatch.setattr(candle_checks, "CHUNK", 3)  # rows 0-2, 3-5, ...: line 5 is the first row of a chunk
    p = tmp_path / "c.csv"
    p.write_text("timestamp,open,high,low,close,volume\n" + "".join(
        f"{t},1,2,0.5,1,1\n" for t in (60_000, 120_000, 180_000, 180_000, 240_000, 230_000, 300_000)))
    with pytest.raises(CandleFileError) as err:
        load_candles_csv(p)
    assert str(err.value) == ("c.csv: line 5: duplicate timestamp 180000; line 7: timestamp 230000 is earlier "
                              "than the row before (240000): rows must be sorted by time")
