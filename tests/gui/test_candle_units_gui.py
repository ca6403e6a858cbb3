"""The backtest window imports a candle file in seconds and tells the trader it converted it."""
from __future__ import annotations


def test_the_backtest_window_says_a_seconds_file_was_converted(services, qtbot, tmp_path):
    from cts_desktop.ui.backtest import BacktestWindow

    csv = tmp_path / "btc_seconds.csv"
    start = 1_640_995_200  # 2022-01-01 00:00 UTC in seconds
    csv.write_text("timestamp,open,high,low,close,volume\n" + "".join(
        f"{start + 60 * i},{100 + i % 7},{110 + i % 7},{90 + i % 7},{101 + i % 7},1\n" for i in range(300)))
    w = BacktestWindow(services)
    qtbot.addWidget(w)
    w.select_source("csv")
    assert w.import_csv(csv)
    text = w.csv_status.text()
    assert "2022-01-01 00:00" in text and "1m" in text
    assert "timestamps are in seconds, not milliseconds: converted" in text
    w.close()
