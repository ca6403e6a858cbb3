"""``cts-desktop backtest``: a strategy over a candle CSV, from the command line.

    cts-desktop backtest --strategy ma_cross --param fast=10 --param slow=30 \\
        --candles resources/data/COINBASE_BTC-USD_1h_2017-2019.csv --symbol BTC/USD \\
        --cash 10000 --fee 0.001 --trades trades.csv

Prints the metrics and writes the trades as CSV (columns in
:data:`cts_desktop.engine.backtest.TRADE_COLUMNS`: entry/exit time in ms UTC, prices and P&L in
quote, amount in base). The run and its records are kept in the database like any other run
(``--no-store`` skips that). Or ``--dataset KEY`` runs a shipped dataset (several symbols).

Exit codes: 0 done, 1 the strategy failed during the run, 2 bad input.
"""
from __future__ import annotations

import csv
import json
import sys
from pathlib import Path
from typing import Dict, List

from ..core.models import Market


def add_subparser(sub) -> None:
    p = sub.add_parser("backtest", help="backtest a strategy over recorded candles",
                       description="Backtest a strategy with the live engine's own core over recorded candles.")
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--candles", metavar="CSV", help="candle file: timestamp(ms),open,high,low,close,volume")
    src.add_argument("--dataset", help="a shipped dataset key (see --list-datasets)")
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


def _params(pairs: List[str]) -> Dict[str, str]:
    out: Dict[str, str] = {}
    for pair in pairs:
        if "=" not in pair:
            raise ValueError(f"--param {pair!r}: expected NAME=VALUE")
        k, v = pair.split("=", 1)
        out[k.strip()] = v.strip()
    return out


def run(args, *, data_dir: Path, config_dir: Path) -> int:
    from ..core.risk import RiskLimits
    from ..engine import strategies
    from ..engine.backtest import TRADE_COLUMNS, Backtest, trades_rows
    from ..engine.strategies.base import ParamError
    from ..exchange.candles import CandleFileError, load_candles_csv
    from ..exchange.replay import ReplaySource, get_dataset

    def fail(msg: str) -> int:
        print(f"cts-desktop backtest: error: {msg}", file=sys.stderr)
        return 2

    try:
        cls = strategies.get(args.strategy)
        strategy = cls(_params(args.param))
    except (KeyError, ParamError, ValueError) as exc:
        return fail(exc.args[0] if isinstance(exc, KeyError) else str(exc))
    if not args.cash > 0:
        return fail(f"--cash must be > 0, got {args.cash:g}")
    if not 0 <= args.fee < 0.1:
        return fail(f"--fee is a fraction in [0, 0.1), got {args.fee:g} (0.001 = 0.1 %)")
    try:
        limits = RiskLimits(max_position_fraction=args.max_position, max_open_positions=3)
    except ValueError as exc:
        return fail(str(exc))

    try:
        if args.dataset:
            source = ReplaySource(get_dataset(args.dataset))
            series = {s: v.candles for s, v in source.series.items()}
            markets, tf, label = source.markets, source.timeframe_ms, args.dataset
            cash = args.cash * source.quote_per_usd()
        else:
            loaded = load_candles_csv(args.candles)
            for w in loaded.warnings:
                print(f"warning: {loaded.path.name}: {w}", file=sys.stderr)
            if "/" not in args.symbol:
                return fail(f"--symbol must be a unified symbol like BTC/USDT, got {args.symbol!r}")
            base, rest = args.symbol.split("/", 1)
            quote = rest.split(":")[0]
            markets = {args.symbol: Market(args.symbol, base, quote, args.market_type, args.amount_step, 0.0,
                                           0.0, 0.0, args.fee, args.fee)}
            series = {args.symbol: loaded.candles}
            tf, label, cash = loaded.timeframe_ms, str(loaded.path), args.cash
    except (CandleFileError, KeyError) as exc:
        return fail(exc.args[0] if isinstance(exc, KeyError) else str(exc))

    recorder = db = None
    if not args.no_store:
        from ..store.db import StoreError, open_database
        from ..store.recorder import Recorder
        try:
            db = open_database(data_dir)
        except StoreError as exc:
            return fail(str(exc))
        recorder = Recorder(db, deferred=True)
    try:
        bt = Backtest(strategy, series, markets, timeframe_ms=tf, starting_balance=cash, fee=args.fee,
                      slippage=args.slippage, limits=limits, recorder=recorder, dataset=label)
        result = bt.run()
    except ValueError as exc:
        return fail(str(exc))
    finally:
        if recorder is not None:
            recorder.close()
            db.close()

    m = result.metrics
    if args.json:
        print(json.dumps({**m.to_dict(), "candles": result.candles, "elapsed_s": result.elapsed_s,
                          "run_id": result.run_id, "currency": result.currency}, default=str, indent=2))
    else:
        print(f"{strategy.title or strategy.name} {strategy.p} on {label}: {result.candles} candles in "
              f"{result.elapsed_s:.3f} s ({result.candles_per_second:,.0f} candles/s), money in {result.currency}")
        print(m.format_table())
    if args.trades:
        try:
            with open(args.trades, "w", newline="", encoding="utf-8") as fh:
                w = csv.writer(fh)
                w.writerow(TRADE_COLUMNS)
                w.writerows(trades_rows(result.positions))
        except OSError as exc:
            return fail(f"cannot write {args.trades}: {exc.strerror or exc}")
        if not args.json:
            print(f"trades written to {args.trades}")
    if args.report:
        from ..services.reports import write_html_report
        try:
            write_html_report(args.report, result, f"{strategy.title or strategy.name} on {label}", strategy.p,
                              settings={"data": label, "starting cash": f"{cash:g} {result.currency}",
                                        "fee": f"{args.fee:g}", "slippage": f"{args.slippage:g}",
                                        "max position (fraction of equity)": f"{args.max_position:g}"})
        except OSError as exc:
            return fail(f"cannot write {args.report}: {exc.strerror or exc}")
        if not args.json:
            print(f"report written to {args.report}")
    if result.strategy_error:
        print(f"cts-desktop backtest: the strategy failed: {result.strategy_error}", file=sys.stderr)
        return 1
    return 0
