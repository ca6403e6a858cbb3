"""Candle files: bad input gets a message naming the line; good real files load."""
import pytest

from cts_desktop.exchange.candles import CandleFileError, load_candles_csv
from tests.conftest import DATA

HEADER = "timestamp,open,high,low,close,volume\n"


def write(tmp_path, text, name="c.csv"):
    p = tmp_path / name
    p.write_text(text)
    return p


def test_real_file_loads_with_timeframe():
    s = load_candles_csv(DATA / "FTX_BTC-PERP_1m_2022-01.csv")
    assert len(s.candles) == 45_031 and s.timeframe == "1m" and s.gaps == 0
    assert s.candles[0] == (1640991660000, 46319.0, 46385.0, 46319.0, 46377.0, 2300413.7295)


def test_gaps_are_warnings_with_line_numbers():
    s = load_candles_csv(DATA / "BITTREX_ADA-BTC_5m_2018-01.csv")
    assert s.gaps > 0 and s.warnings[0].startswith("line ")


@pytest.mark.parametrize("body, needle", [
    ("timestamp,open,high,low\n1,1,1,1\n", "missing close"),
    ("when,open,high,low,close,volume\n1,1,1,1,1,1\n", "missing a time column"),
    ("1,2,3\n4,5,6\n", "line 1: a row of 3 numbers and no header"),
    (HEADER + "60000,1,2,0.5,1,1\n120000,abc,2,0.5,1,1\n", "line 3: open is not a number: 'abc'"),
    (HEADER + "60000,1,2,0.5,1,1\n120000,-1,2,0.5,1,1\n", "line 3: prices must be > 0"),
    (HEADER + "60000,1,2,0.5,1,-5\n120000,1,2,0.5,1,1\n", "line 2: volume must be >= 0"),
    (HEADER + "60000,1,2,0.5,1,1\n60000,1,2,0.5,1,1\n", "line 3: duplicate timestamp"),
    (HEADER + "120000,1,2,0.5,1,1\n60000,1,2,0.5,1,1\n", "line 3: timestamp 60000 is earlier"),
    (HEADER + "60000,1,2,0.5,3,1\n120000,1,2,0.5,1,1\n", "line 2: inconsistent candle"),
    (HEADER + "60000,1,2,0.5,1\n", "line 2: expected 6 fields"),
    ("", "empty"),
])
def test_bad_files_name_the_line(tmp_path, body, needle):
    with pytest.raises(CandleFileError) as err:
        load_candles_csv(write(tmp_path, body))
    assert needle in str(err.value)


def test_missing_file(tmp_path):
    with pytest.raises(CandleFileError, match="file not found"):
        load_candles_csv(tmp_path / "nope.csv")


def test_binary_file(tmp_path):
    p = tmp_path / "b.csv"
    p.write_bytes(b"\xff\xfe\x00garbage\x00\x81")
    with pytest.raises(CandleFileError):
        load_candles_csv(p)
