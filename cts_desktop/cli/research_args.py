"""Options of ``cts-desktop optimize`` / ``walkforward`` / ``montecarlo`` (parsing only)."""
from __future__ import annotations

from datetime import datetime, timezone
from typing import Optional


def add_data(p) -> None:
    src = p.add_argument_group("data")
    src.add_argument("--dataset", help="a shipped dataset key (as for backtest --dataset)")
    src.add_argument("--candles", action="append", default=[], metavar="CSV",
                     help="candle file timestamp(ms),open,high,low,close,volume; repeatable, one --symbol each")
    src.add_argument("--symbol", action="append", default=[],
                     help="unified symbol of each --candles file, or the dataset's symbols to keep; repeatable")
    src.add_argument("--market-type", choices=["spot", "swap"], default="spot",
                     help="for --candles: spot (long only) or swap (shorts allowed); default spot")
    src.add_argument("--amount-step", type=float, default=1e-8, help="for --candles: amount step in base")
    src.add_argument("--history", metavar="CONNECTION",
                     help="download the --symbol's candles through this exchange connection (public data, no key; "
                          "cached) over --from/--to at --timeframe")
    src.add_argument("--timeframe", default="1h", help="for --history: candle timeframe, e.g. 5m, 1h (default 1h)")
    src.add_argument("--from", dest="date_from", metavar="DATE", help="first day used, YYYY-MM-DD[THH:MM] UTC")
    src.add_argument("--to", dest="date_to", metavar="DATE", help="end (excluded), YYYY-MM-DD[THH:MM] UTC")


def add_account(p) -> None:
    a = p.add_argument_group("account and costs (as for backtest)")
    a.add_argument("--cash", type=float, default=10_000.0, help="starting cash (US dollars for a dataset; default 10000)")
    a.add_argument("--fee", type=float, default=0.001, help="taker/maker fee, fraction (default 0.001 = 0.1 %%)")
    a.add_argument("--slippage", type=float, default=0.0, help="market-order slippage, fraction (default 0)")
    a.add_argument("--max-position", type=float, default=1.0, help="max position, fraction of equity (default 1)")


def add_search(p) -> None:
    s = p.add_argument_group("search")
    s.add_argument("--strategy", default="ma_cross", help="strategy name (default ma_cross)")
    s.add_argument("--space", action="append", default=[], metavar="NAME=SPEC",
                   help="a parameter to vary: fast=5:50:5 (low:high:step), ma_type=sma,ema (values), size=0.5 "
                        "(fixed); repeatable")
    s.add_argument("--method", choices=["grid", "random", "tpe"], default="grid",
                   help="grid (every point), random, or tpe (Bayesian: Optuna's TPE); default grid")
    s.add_argument("--trials", type=int, default=100, help="trials for random and tpe (default 100)")
    s.add_argument("--objective", default="sharpe",
                   help="metric to optimise: sharpe, sortino, total_return, profit_factor, expectancy, net_pnl, "
                        "win_rate (maximised) or max_drawdown (minimised); default sharpe")
    s.add_argument("--min-trades", type=int, default=0, help="a trial needs at least this many trades to count")
    s.add_argument("--max-drawdown", type=float, help="a trial's max drawdown must stay at or under this fraction")
    s.add_argument("--seed", type=int, default=0, help="seed of random and tpe (default 0)")
    s.add_argument("--batch", type=int, default=16,
                   help="tpe: trials asked at a time (a study setting: results do not depend on --workers)")
    s.add_argument("--workers", type=int, help="parallel trials (default: every local core)")
    s.add_argument("--ray", metavar="auto|local|ADDRESS",
                   help="run the trials on a Ray cluster: auto (this machine's cluster), local, or an address")


def add_walkforward(p, required: bool) -> None:
    w = p.add_argument_group("walk-forward")
    w.add_argument("--in-sample", required=required, metavar="LEN", help="in-sample length: 14d, 36h, 2w or candles")
    w.add_argument("--out-of-sample", required=required, metavar="LEN", help="out-of-sample length")
    w.add_argument("--step", metavar="LEN", help="window step (default: the out-of-sample length)")
    w.add_argument("--anchored", action="store_true", help="the in-sample always starts at the data's start")


def add_outputs(p, best: bool = True) -> None:
    o = p.add_argument_group("output")
    o.add_argument("--export", metavar="CSV", help="write every trial to this CSV file")
    o.add_argument("--json", action="store_true", help="print the result as JSON")
    if best:
        o.add_argument("--top", type=int, default=20, help="trials shown, best first (default 20)")
        o.add_argument("--report", metavar="HTML", help="re-run the best trial with full recording and write its report")
        o.add_argument("--save-preset", metavar="NAME", help="keep the best parameters as preset NAME")


def add_subparsers(sub) -> None:
    p = sub.add_parser("optimize", help="search a strategy's parameters (grid, random, TPE)",
                       description="Search a strategy's parameters for the best value of a metric; every study is "
                                   "kept in the database (--list, --show ID).")
    add_data(p)
    add_account(p)
    add_search(p)
    p.add_argument("--walk-forward", action="store_true", help="walk-forward analysis (see cts-desktop walkforward)")
    add_walkforward(p, required=False)
    add_outputs(p)
    p.add_argument("--list", action="store_true", help="list the stored studies")
    p.add_argument("--show", type=int, metavar="STUDY_ID", help="show a stored study; the output options "
                                                                  "below work with it")
    w = sub.add_parser("walkforward", help="walk-forward analysis: optimise in-sample, test out-of-sample",
                       description="Rolling or anchored windows: optimise each in-sample window, test the best on "
                                   "the out-of-sample window after it; the stitched out-of-sample result.")
    add_data(w)
    add_account(w)
    add_search(w)
    add_walkforward(w, required=True)
    add_outputs(w, best=False)
    m = sub.add_parser("montecarlo", help="resample a backtest's trades: the spread of outcomes",
                       description="Resample a backtest's trades (bootstrap with replacement, or shuffle) and show "
                                   "the 5th/50th/95th percentiles of final equity, max drawdown, losing streak.")
    m.add_argument("--run", type=int, metavar="RUN_ID", help="a backtest run in the database (default: the newest)")
    m.add_argument("--trades", metavar="CSV", help="a trades CSV from backtest --trades (net_pnl column) instead")
    m.add_argument("--cash", type=float, default=10_000.0, help="with --trades: the starting equity (default 10000)")
    m.add_argument("--paths", type=int, default=1000, help="resampled paths (default 1000)")
    m.add_argument("--mode", choices=["bootstrap", "shuffle"], default="bootstrap",
                   help="bootstrap (with replacement) or shuffle (a permutation); default bootstrap")
    m.add_argument("--seed", type=int, default=0, help="seed (default 0)")
    m.add_argument("--fan", metavar="CSV", help="write the fan chart's data (equity percentiles per trade)")
    m.add_argument("--json", action="store_true", help="print the result as JSON")


def parse_date(text: Optional[str], option: str) -> Optional[int]:
    """ms UTC of ``YYYY-MM-DD`` or ``YYYY-MM-DDTHH:MM``; raises ``ValueError`` naming the option."""
    if not text:
        return None
    try:
        dt = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(f"{option}: expected YYYY-MM-DD or YYYY-MM-DDTHH:MM (UTC), got {text!r}") from None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=timezone.utc)
    return int(dt.timestamp() * 1000)
