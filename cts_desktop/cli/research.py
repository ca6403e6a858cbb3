"""``cts-desktop optimize``, ``walkforward`` and ``montecarlo``: research from the command line.

    cts-desktop optimize --dataset ftx-btc-perp-1m --space fast=5:50:5 --space slow=20:200:20 \\
        --objective sharpe --min-trades 20 --export trials.csv --report best.html --save-preset best
    cts-desktop optimize --history "Binance" --symbol BTC/USDT --timeframe 1h --from 2024-01-01 --to 2024-07-01 \\
        --space fast=5:50:5 --space slow=20:200:20
    cts-desktop optimize --list | --show STUDY_ID
    cts-desktop walkforward --dataset ftx-btc-perp-1m --space fast=5:30:5 --space slow=40:120:20 \\
        --in-sample 7d --out-of-sample 2d
    cts-desktop montecarlo [--run RUN_ID | --trades trades.csv] --paths 1000 --fan fan.csv

Everything but parsing and printing is the services' (:mod:`cts_desktop.services.optimize`,
``walkforward``, ``montecarlo``), which raise the messages for bad input. Exit codes: 0 done,
2 bad input, 4 the exchange of ``--history`` unreachable, 130 interrupted (Ctrl-C: the study is kept as cancelled with its finished trials).
"""
from __future__ import annotations

import signal
import sys
import time
from pathlib import Path

from .exit_codes import BAD_INPUT as EXIT_BAD_INPUT, INTERRUPTED as EXIT_INTERRUPTED, OK as EXIT_OK, for_start_failure
from .research_args import add_subparsers, parse_date
from .research_print import print_montecarlo, print_study, print_studies, print_walkforward

__all__ = ["add_subparsers", "run"]


def _fail(command: str, msg: str) -> int:
    print(f"cts-desktop {command}: error: {msg}", file=sys.stderr)
    return EXIT_BAD_INPUT


def _request(args, data_dir: Path, config_dir: Path):
    from ..services.backtests import BacktestInputError, BacktestSettings
    from ..services.optimize import StudyRequest
    from ..services.research_data import DataSpec

    if sum(bool(x) for x in (args.dataset, args.candles, args.history)) != 1:
        raise BacktestInputError("give --dataset KEY, --candles CSV or --history CONNECTION (one of them)", "data")
    start, end = parse_date(args.date_from, "--from"), parse_date(args.date_to, "--to")
    if args.history:
        spec = _history(args, start, end, data_dir, config_dir)
    else:
        spec = DataSpec(args.dataset or "", tuple(args.candles), tuple(args.symbol), args.market_type,
                        args.amount_step, start, end)
    settings = BacktestSettings(args.cash, args.fee, args.slippage, args.max_position)
    return StudyRequest(args.strategy, list(args.space), spec, settings, args.method, args.objective, args.trials,
                        args.min_trades, args.max_drawdown, args.seed, args.batch, args.workers, args.ray)


def _history(args, start, end, data_dir: Path, config_dir: Path):
    """The study's data downloaded through connection ``--history`` (see services.research_history)."""
    import asyncio

    from ..services import connections
    from ..services.backtests import BacktestInputError
    from ..services.research_history import history_data
    from ..store.settings import SettingsStore

    if len(args.symbol) != 1:
        raise BacktestInputError("--history needs one --symbol (e.g. BTC/USDT)", "symbol")
    if start is None or end is None:
        raise BacktestInputError("--history needs --from and --to (the span to download)", "dates")
    conn = connections.find(SettingsStore(Path(config_dir)).load(), args.history)

    def progress(done: int, total: int) -> None:
        if sys.stderr.isatty():
            print(f"\rdownloading {args.symbol[0]} {args.timeframe}: {done}/{total} candles   ", end="",
                  file=sys.stderr, flush=True)

    spec = asyncio.run(history_data(conn, args.symbol[0], args.timeframe, start, end, data_dir, progress))
    print(f"{conn.exchange} {args.symbol[0]} {args.timeframe}: kept in {spec.candles[0]}", file=sys.stderr)
    return spec


class _Ticker:
    """Progress on stderr (a terminal only) and Ctrl-C as a cancel flag."""

    def __init__(self) -> None:
        self.stop = False
        self.last = 0.0
        self.tty = sys.stderr.isatty()

    def progress(self, done: int, total: int, eta) -> None:
        now = time.monotonic()
        if self.tty and (now - self.last > 0.5 or done == total):
            self.last = now
            eta_txt = f", about {eta:.0f} s left" if eta is not None else ""
            print(f"\r{done}/{total} trials{eta_txt}   ", end="" if done < total else "\n", file=sys.stderr, flush=True)

    def cancelled(self) -> bool:
        return self.stop

    def __enter__(self):
        def on_int(_sig, _frm):
            self.stop = True
        self._old = signal.signal(signal.SIGINT, on_int)
        return self

    def __exit__(self, *exc) -> None:
        signal.signal(signal.SIGINT, self._old)


def run(args, *, data_dir: Path, config_dir: Path) -> int:
    from ..services import backtests
    from ..services.connection_rules import RuleError
    from ..services.history import HistoryError

    command = args.command
    try:
        if command == "montecarlo":
            return _montecarlo(args, data_dir)
        if command == "optimize" and args.list:
            from ..services.optimize import list_studies
            print_studies(list_studies(data_dir))
            return EXIT_OK
        if command == "optimize" and args.show is not None:
            return _show(args, data_dir, config_dir)
        req = _request(args, data_dir, config_dir)
        if command == "walkforward" or args.walk_forward:
            if not (args.in_sample and args.out_of_sample):
                raise backtests.BacktestInputError("--walk-forward needs --in-sample and --out-of-sample", "in_sample")
            if getattr(args, "report", None) or getattr(args, "save_preset", None):
                raise backtests.BacktestInputError("--report and --save-preset are for a plain optimisation "
                                                   "(each walk-forward window has its own best)", "report")
            return _walkforward(args, req, data_dir)
        return _optimize(args, req, data_dir, config_dir)
    except (*backtests.INPUT_ERRORS, backtests.ParamError, HistoryError, RuleError) as exc:
        msg = backtests.error_message(exc) or str(exc)
        option = _OPTIONS.get(getattr(exc, "field", ""))
        if option and msg.startswith(exc.field):  # type: ignore[attr-defined]
            msg = option + msg[len(exc.field):]  # type: ignore[attr-defined]
        _fail(command, msg)
        return for_start_failure(exc)  # an unreachable exchange (--history) is not bad input


# the services name their settings; here they are options
_OPTIONS = {"n_trials": "--trials", "min_trades": "--min-trades", "max_drawdown": "--max-drawdown",
            "workers": "--workers", "batch": "--batch", "method": "--method", "objective": "--objective",
            "in_sample": "--in-sample", "out_of_sample": "--out-of-sample", "step": "--step", "cash": "--cash",
            "fee": "--fee", "symbol": "--symbol", "paths": "--paths", "mode": "--mode",
            "trades": "--trades", "study": "--show", "space": "--space", "ray": "--ray"}


def _optimize(args, req, data_dir: Path, config_dir: Path) -> int:
    from ..services import optimize

    with _Ticker() as t:
        result = optimize.run_study(req, data_dir, progress=t.progress, cancelled=t.cancelled)
    print_study(result, top=args.top, as_json=args.json)
    code = _outputs(args, result, req, data_dir, config_dir)
    return EXIT_INTERRUPTED if result.state == "cancelled" and code == EXIT_OK else code


def _show(args, data_dir: Path, config_dir: Path) -> int:
    from ..services import optimize

    result = optimize.load_study(data_dir, args.show)
    print_study(result, top=args.top, as_json=args.json)
    from ..store.db import open_database
    from ..store import studies
    db = open_database(data_dir)
    try:
        row = studies.get_study(args.show)
    finally:
        db.close()
    req = optimize.StudyRequest.from_json(row.request) if row is not None else None
    return _outputs(args, result, req, data_dir, config_dir)


def _outputs(args, result, req, data_dir: Path, config_dir: Path) -> int:
    from ..services import backtests, optimize

    try:
        if args.export:
            n = optimize.export_trials(Path(args.export), result.trials)
            print(f"{n} trials written to {args.export}", file=sys.stderr)
        if args.report and req is not None:
            run = optimize.rerun_best(result, req, data_dir, Path(args.report))
            print(f"best trial re-run as run {run.run_id}; report written to {args.report}", file=sys.stderr)
        if args.save_preset and req is not None:
            optimize.save_preset(config_dir, args.save_preset, result, req.settings)
            print(f"best parameters saved as preset {args.save_preset!r}", file=sys.stderr)
    except OSError as exc:
        return _fail(args.command, backtests.cannot_write(getattr(exc, "filename", "") or "file", exc))
    return EXIT_OK


def _walkforward(args, req, data_dir: Path) -> int:
    from ..services import optimize, walkforward

    wf = walkforward.WalkForwardRequest(req, args.in_sample, args.out_of_sample, args.step, args.anchored)
    with _Ticker() as t:
        result = walkforward.run_walkforward(wf, data_dir, progress=t.progress, cancelled=t.cancelled)
    print_walkforward(result, as_json=args.json)
    if args.export:
        from ..store.db import open_database
        from ..store import studies
        db = open_database(data_dir)
        try:
            trials = studies.trials(result.study_id)
        finally:
            db.close()
        try:
            n = optimize.export_trials(Path(args.export), trials)
        except OSError as exc:
            return _fail(args.command, f"cannot write {args.export}: {exc.strerror or exc}")
        print(f"{n} trials written to {args.export}", file=sys.stderr)
    return EXIT_INTERRUPTED if result.state == "cancelled" else EXIT_OK


def _montecarlo(args, data_dir: Path) -> int:
    from ..services import montecarlo

    trades = (montecarlo.trades_from_csv(args.trades, args.cash) if args.trades
              else montecarlo.trades_from_run(data_dir, args.run))
    result = montecarlo.run(trades, args.paths, args.mode, args.seed)
    print_montecarlo(trades, result, as_json=args.json)
    if args.fan:
        try:
            montecarlo.write_fan(args.fan, result)
        except OSError as exc:
            return _fail(args.command, f"cannot write {args.fan}: {exc.strerror or exc}")
        print(f"fan chart data written to {args.fan}", file=sys.stderr)
    return EXIT_OK

