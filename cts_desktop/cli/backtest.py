"""``cts-desktop backtest``: a strategy over a candle CSV, from the command line.

    cts-desktop backtest --strategy ma_cross --param fast=10 --param slow=30 \\
        --candles resources/data/COINBASE_BTC-USD_1h_2017-2019.csv --symbol BTC/USD \\
        --cash 10000 --fee 0.001 --trades trades.csv

Prints the metrics and writes the trades as CSV (columns in
:data:`cts_desktop.engine.backtest.TRADE_COLUMNS`: entry/exit time in ms UTC, prices and P&L in
quote, amount in base). The run and its records are kept in the database like any other run
(``--no-store`` skips that). Or ``--dataset KEY`` runs a shipped dataset (several symbols).

Loading, checks, the run, its record and the exports are the backtests service's
(:mod:`cts_desktop.services.backtests`, shared with the backtest window: same risk limits, same
messages for bad input); this module parses the options and prints.

Exit codes (:mod:`.exit_codes`): 0 done, 1 the strategy failed during the run, 2 bad input (a
bad option, parameter or candle file, a damaged database: ``--fresh-database`` keeps it aside),
130 interrupted.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Dict, List

from . import exit_codes


def add_subparser(sub) -> None:
    p = sub.add_parser("backtest", help="backtest a strategy over recorded candles",
                       description="Backtest a strategy with the live engine's own core over recorded candles.")
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--candles", metavar="FILE", help="candle file: CSV (also .gz, or a .zip holding one) or "
                     "Parquet; this app's timestamp,open,high,low,close,volume, Binance archive klines, "
                     "TradingView exports, Date/Open/High/Low/Close[/Volume] columns; times in s, ms, us, ns or "
                     "ISO text are recognised and converted (what was detected is printed)")
    src.add_argument("--dataset", metavar="KEY", help="a shipped dataset, e.g. ftx-btc-perp-1m "
                     "(an unknown key is answered with the list of known ones)")
    p.add_argument("--symbol", default="BTC/USDT", help="unified symbol of the candle file (default BTC/USDT)")
    p.add_argument("--market-type", choices=["spot", "swap"], default="spot",
                   help="spot: long only; swap: linear perpetual, shorts allowed (default spot)")
    p.add_argument("--strategy", default="ma_cross", help="strategy name (default ma_cross)")
    p.add_argument("--param", action="append", default=[], metavar="NAME=VALUE", help="strategy parameter, repeatable")
    p.add_argument("--cash", type=float, default=10_000.0, help="starting cash in the quote currency (default 10000)")
    p.add_argument("--fee", type=float, default=0.001, help="taker/maker fee as a fraction (default 0.001 = 0.1 %%)")
    p.add_argument("--slippage", type=float, default=0.0, help="market-order slippage as a fraction (default 0)")
    p.add_argument("--amount-step", type=float, default=1e-8, help="amount step in base (default 1e-8)")
    p.add_argument("--max-position", type=float, default=1.0, help="max position size, fraction of equity (default 1)")
    p.add_argument("--trades", metavar="CSV", help="write the trades to this CSV file")
    p.add_argument("--report", metavar="HTML", help="write a self-contained HTML report (metrics, charts, trades)")
    p.add_argument("--json", action="store_true", help="print the metrics as JSON")
    p.add_argument("--no-store", action="store_true", help="do not keep the run in the database")


_OPTIONS = {"cash", "fee", "symbol"}  # settings the service names that are options here (--cash ...)


def _params(pairs: List[str]) -> Dict[str, str]:
    out: Dict[str, str] = {}
    for pair in pairs:
        if "=" not in pair:
            raise ValueError(f"--param {pair!r}: expected NAME=VALUE")
        k, v = pair.split("=", 1)
        out[k.strip()] = v.strip()
    return out


def run(args, *, data_dir: Path, config_dir: Path) -> int:
    from ..services import backtests
    from ..store.db import DatabaseDamaged
    from .startup import damaged_advice, fresh_database

    def fail(msg: str, code: int = exit_codes.BAD_INPUT) -> int:
        print(f"cts-desktop backtest: error: {msg}", file=sys.stderr)
        return code

    def failed(exc: BaseException) -> int:
        msg = backtests.error_message(exc) or str(exc)
        if isinstance(exc, backtests.BacktestInputError) and exc.field in _OPTIONS:
            msg = "--" + msg  # the service names the setting; here it is an option
        if isinstance(exc, DatabaseDamaged):
            msg = f"{msg}. {damaged_advice(exc)}"
        return fail(msg)

    settings = backtests.BacktestSettings(cash=args.cash, fee=args.fee, slippage=args.slippage,
                                          max_position=args.max_position)
    try:
        strategy = backtests.make_strategy(args.strategy, _params(args.param))
        settings.check()
    except (KeyError, ValueError) as exc:  # ParamError and BacktestInputError are ValueErrors
        return failed(exc)

    store_dir = None if args.no_store else data_dir
    try:
        if args.dataset:
            inputs = backtests.load_dataset(args.dataset)
        else:
            loaded = backtests.load_csv(args.candles)
            for line in backtests.describe(loaded):
                print(f"{'' if line.startswith('detected') else 'warning: '}{loaded.path.name}: {line}",
                      file=sys.stderr)
            inputs = backtests.csv_inputs(loaded, args.symbol, args.market_type, args.fee,
                                          amount_step=args.amount_step, label=str(loaded.path))
        try:
            result = backtests.run(strategy, inputs, settings, data_dir=store_dir)
        except DatabaseDamaged:
            if not (getattr(args, "fresh_database", False) and store_dir is not None):
                raise
            fresh_database(store_dir, lambda line: print(f"cts-desktop backtest: {line}", file=sys.stderr))
            result = backtests.run(strategy, inputs, settings, data_dir=store_dir)
    except backtests.INPUT_ERRORS as exc:
        return failed(exc)

    _print_result(args, strategy, inputs.label, result)
    problem = _export(args, strategy, inputs, settings, result)
    if problem:
        return fail(problem)
    if result.strategy_error:
        print(f"cts-desktop backtest: the strategy failed: {result.strategy_error}", file=sys.stderr)
        return exit_codes.FAILED
    return exit_codes.OK


def _print_result(args, strategy, label: str, result) -> None:
    m = result.metrics
    if args.json:
        print(json.dumps({**m.to_dict(), "candles": result.candles, "elapsed_s": result.elapsed_s,
                          "run_id": result.run_id, "currency": result.currency}, default=str, indent=2))
    else:
        print(f"{strategy.title or strategy.name} {strategy.p} on {label}: {result.candles} candles in "
              f"{result.elapsed_s:.3f} s ({result.candles_per_second:,.0f} candles/s), money in {result.currency}")
        print(m.format_table())


def _export(args, strategy, inputs, settings, result) -> str:
    """Write the trades CSV and the HTML report asked for; returns the problem, or ""."""
    from ..services import backtests
    if args.trades:
        try:
            backtests.write_trades(args.trades, result)
        except OSError as exc:
            return backtests.cannot_write(args.trades, exc)
        if not args.json:
            print(f"trades written to {args.trades}")
    if args.report:
        try:
            backtests.write_report(args.report, result, backtests.report_info(strategy, inputs, settings, result))
        except OSError as exc:
            return backtests.cannot_write(args.report, exc)
        if not args.json:
            print(f"report written to {args.report}")
    return ""
