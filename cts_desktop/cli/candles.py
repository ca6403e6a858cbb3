"""``cts-desktop candles convert IN OUT``: read a candle file of any supported layout and write it
as Parquet (``OUT.parquet``) or this app's CSV (``OUT.csv``, ``OUT.csv.gz``).

    cts-desktop candles convert BTCUSDT-1m-2025-01.zip btc-2025-01.parquet

Prints what was detected and the gaps found; the checks and messages are the backtests
service's (:func:`cts_desktop.services.backtests.convert_candles`), the same as a backtest's.
Exit codes (:mod:`.exit_codes`): 0 written, 2 bad input (a bad candle file, an output that
cannot be written).
"""
from __future__ import annotations

import sys

from . import exit_codes


def add_subparser(sub) -> None:
    p = sub.add_parser("candles", help="candle files: convert between layouts and to Parquet",
                       description="Candle files: read any supported layout, write Parquet or CSV.")
    csub = p.add_subparsers(dest="candles_command", required=True)
    c = csub.add_parser("convert", help="convert a candle file to Parquet (.parquet) or CSV (.csv, .csv.gz)",
                        description="Read and check a candle file (CSV, .gz, .zip, Parquet; this app's layout, "
                                    "Binance archive klines, TradingView exports, Date/Open/High/Low/Close columns) "
                                    "and write it as Parquet or as timestamp(ms),open,high,low,close,volume CSV.")
    c.add_argument("src", metavar="IN", help="the candle file to read")
    c.add_argument("out", metavar="OUT", help="the file to write: .parquet/.pq for Parquet, else CSV")


def run(args) -> int:
    from ..services import backtests
    try:
        series = backtests.convert_candles(args.src, args.out)
    except backtests.INPUT_ERRORS as exc:
        print(f"cts-desktop candles: error: {backtests.error_message(exc) or exc}", file=sys.stderr)
        return exit_codes.BAD_INPUT
    except OSError as exc:
        print(f"cts-desktop candles: error: {backtests.cannot_write(args.out, exc)}", file=sys.stderr)
        return exit_codes.BAD_INPUT
    for line in backtests.describe(series):
        print(f"{series.path.name}: {line}", file=sys.stderr)
    print(f"{len(series.candles):,} candles, {series.timeframe}, written to {args.out}")
    return exit_codes.OK
