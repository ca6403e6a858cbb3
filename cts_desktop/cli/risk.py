"""``cts-desktop kill NAME|--all`` and ``cts-desktop risk rearm NAME`` / ``risk status`` /
``risk resume NAME SYMBOL`` (a symbol paused after refused exits).

``kill`` reaches engines running headless in other processes on the same data dir through a
request file they poll (:mod:`cts_desktop.store.control` says why
files): each cancels every open order, closes every position when the ``kill_flattens`` setting
is on, and stops; their answers are printed. ``risk rearm`` clears a latched max-drawdown
breaker (a running engine takes entries again from its next signal); ``risk status`` lists the
latched ones. Exit codes (:mod:`.exit_codes`): 0 done, 1 nobody answered / nothing to re-arm,
2 unknown connection or bad usage.
"""
from __future__ import annotations

import sys
from datetime import datetime, timezone

from . import exit_codes


def add_subparsers(sub) -> None:
    k = sub.add_parser("kill", help="kill switch: cancel all orders, close all positions, stop a running engine",
                       description="Kill switch for engines running headless in other processes on this data "
                                   "dir: cancel every open order, close every position "
                                   "at market (setting 'Kill switch flattens positions', on by default), stop.")
    target = k.add_mutually_exclusive_group(required=True)
    target.add_argument("name", nargs="?", metavar="NAME", help="the connection whose engine to kill")
    target.add_argument("--all", action="store_true", help="every running engine")
    k.add_argument("--timeout", type=float, default=15.0, metavar="S",
                   help="seconds to wait for a running engine to answer (default 15)")
    r = sub.add_parser("risk", help="risk breakers: re-arm a latched max-drawdown breaker, list latched ones",
                       description="Risk breakers. A max-drawdown breaker that tripped keeps its connection "
                                   "close-only until it is re-armed here or in the app.")
    rsub = r.add_subparsers(dest="risk_command", required=True)
    ra = rsub.add_parser("rearm", help="re-arm the max-drawdown breaker of a connection")
    ra.add_argument("name", metavar="NAME")
    rsub.add_parser("status", help="list the connections whose breaker is latched")
    rr = rsub.add_parser("resume", help="lift the pause of a symbol whose exit the exchange refused again and again",
                         description="After 3 refused exits in a row (coins moved or sold by hand at the exchange) "
                                     "a symbol is paused: no entries, no automatic exits. Check the wallet at the "
                                     "exchange, then resume it on the running headless engine.")
    rr.add_argument("name", metavar="NAME")
    rr.add_argument("symbol", metavar="SYMBOL", help="e.g. BTC/USDT")
    rr.add_argument("--timeout", type=float, default=15.0, metavar="S",
                    help="seconds to wait for the running engine to answer (default 15)")


def _err(msg: str) -> None:
    print(f"cts-desktop: error: {msg}", file=sys.stderr)


def run_kill(args, *, data_dir) -> int:
    from ..services.kill import ALL, KillError, request_kill
    try:
        lines = request_kill(data_dir, ALL if args.all else args.name, timeout=args.timeout)
    except KillError as exc:
        _err(str(exc))
        return exit_codes.FAILED
    for line in lines:
        print(line)
    return exit_codes.OK


def run_risk(args, *, data_dir, config_dir) -> int:
    from ..services.kill import KillError, latched_stored, rearm_stored
    from ..store.settings import SettingsError
    try:
        if args.risk_command == "resume":
            from ..services.kill import request_resume
            lines = request_resume(data_dir, args.name, args.symbol, timeout=args.timeout)
            for line in lines:
                print(line)
            return exit_codes.FAILED if any(line.startswith("not resumed") for line in lines) else exit_codes.OK
        if args.risk_command == "rearm":
            print(rearm_stored(data_dir, config_dir, args.name))
            return exit_codes.OK
        latched = latched_stored(data_dir)
    except KeyError as exc:
        _err(exc.args[0])
        return exit_codes.BAD_INPUT
    except SettingsError as exc:
        _err(str(exc))
        return exit_codes.BAD_INPUT
    except KillError as exc:
        _err(str(exc))
        return exit_codes.FAILED
    if not latched:
        print("no breaker is latched")
    for name, info in sorted(latched.items()):
        at = datetime.fromtimestamp(int(info.get("at", 0)) / 1000, tz=timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
        print(f"{name}: latched since {at}: {info.get('reason', '')}")
    return exit_codes.OK
