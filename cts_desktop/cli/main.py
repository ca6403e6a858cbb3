"""Command line and wiring: builds the services, then the main window or a headless run.

    cts-desktop                                   # the desktop app
    cts-desktop --headless --connection NAME [--duration S] [--speed max]
    cts-desktop --screenshot out.png [--after S]  # render the window after S s of running
    cts-desktop connections list|add|edit|remove|test NAME
    cts-desktop backtest --strategy ma_cross --candles FILE.csv ...

Exit codes: 0 success; 1 the run ended in an engine error; 2 bad input (unknown connection,
invalid parameters, unusable data directory, newer database).
"""
from __future__ import annotations

import argparse
import logging
import sys
from typing import List, Optional

from ..store import logfile, paths

EXIT_OK, EXIT_ENGINE_ERROR, EXIT_BAD_INPUT = 0, 1, 2


def build_parser() -> argparse.ArgumentParser:
    from ..store.settings import SPEEDS

    p = argparse.ArgumentParser(prog="cts-desktop", description="CTS Desktop: crypto trading station")
    p.add_argument("--data-dir", help="where the trade database lives (default: the user data dir)")
    p.add_argument("--config-dir", help="where connection settings live (default: the user config dir, "
                                        "or DATA_DIR/config when --data-dir is given)")
    p.add_argument("--connection", help="connection to select (and run, with --headless)")
    p.add_argument("--headless", action="store_true", help="run the engine without a window and print a summary")
    p.add_argument("--duration", type=float, help="headless: stop after this many seconds of wall time")
    p.add_argument("--speed", choices=list(SPEEDS), help="replay speed for this run")
    p.add_argument("--screenshot", metavar="PNG", help="start the engine, render the window after --after s, save, exit")
    p.add_argument("--after", type=float, default=5.0, help="seconds of running before --screenshot (default 5)")
    p.add_argument("--autostart", action="store_true", help="GUI: start the selected connection's engine at once")
    p.add_argument("-v", "--verbose", action="store_true", help="log debug output to stderr")
    sub = p.add_subparsers(dest="command")
    try:
        from . import connections as cli_connections
        cli_connections.add_subparser(sub)
    except ImportError:  # pragma: no cover - module not present in this build
        pass
    try:
        from . import backtest as cli_backtest
        cli_backtest.add_subparser(sub)
    except ImportError:  # pragma: no cover
        pass
    from . import research as cli_research
    cli_research.add_subparsers(sub)  # optimize, walkforward, montecarlo
    return p


def _error(msg: str) -> None:
    print(f"cts-desktop: error: {msg}", file=sys.stderr)


def main(argv: Optional[List[str]] = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.WARNING,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    data_dir, config_dir = paths.resolve(args.data_dir, args.config_dir)
    logfile.setup_log_file(args.data_dir, verbose=args.verbose)  # rotated, secrets redacted (store/logfile.py)

    if args.command == "connections":
        from . import connections as cli_connections
        return cli_connections.run(args, config_dir=config_dir)
    if args.command == "backtest":
        from . import backtest as cli_backtest
        return cli_backtest.run(args, data_dir=data_dir, config_dir=config_dir)
    if args.command in ("optimize", "walkforward", "montecarlo"):
        from . import research as cli_research
        return cli_research.run(args, data_dir=data_dir, config_dir=config_dir)

    if not args.headless:
        from .display import display_problem
        problem = display_problem()
        if problem:
            _error(problem)
            return EXIT_BAD_INPUT

    from ..services import AppServices
    from ..store.db import StoreError
    from ..store.settings import SettingsError

    try:
        services = AppServices(data_dir, config_dir)
    except (StoreError, SettingsError) as exc:
        _error(str(exc))
        return EXIT_BAD_INPUT

    if args.connection is not None:
        try:
            services.connection(args.connection)
        except KeyError as exc:
            _error(exc.args[0])
            services.close()
            return EXIT_BAD_INPUT
    if args.speed and args.connection:
        services.connection(args.connection).speed = args.speed

    if args.headless:
        from .headless import run_headless
        if not args.connection:
            _error("--headless needs --connection NAME (see `cts-desktop connections list`)")
            services.close()
            return EXIT_BAD_INPUT
        return run_headless(services, args.connection, duration=args.duration, speed=args.speed)

    from ..ui.app_gui import run_gui
    return run_gui(services, connection=args.connection, autostart=args.autostart or bool(args.screenshot),
                   screenshot=args.screenshot, after=args.after)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
