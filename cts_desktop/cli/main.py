"""Command line and wiring: builds the services, then the main window or a headless run.

    cts-desktop                                   # the desktop app
    cts-desktop --headless --connection NAME [--duration S] [--speed max] [--verbose]
    cts-desktop --screenshot out.png [--after S]  # render the window after S s of running
    cts-desktop connections list|add|edit|remove|test NAME
    cts-desktop backtest --strategy ma_cross --candles FILE.csv ...
    cts-desktop candles convert IN OUT.parquet    # any candle layout to Parquet or CSV
    cts-desktop --version

The global options (``--data-dir``, ``--config-dir``, ``--fresh-database``, ``--verbose``) may
be given before or after the command: ``cts-desktop --data-dir X connections list`` and
``cts-desktop connections list --data-dir X`` are the same. Exit codes: :mod:`.exit_codes`.
"""
from __future__ import annotations

import argparse
import logging
import sys
from typing import List, Optional

from ..store import logfile, paths
from . import exit_codes
from .exit_codes import BAD_INPUT, INTERRUPTED

# the old names, kept for importers
EXIT_OK, EXIT_ENGINE_ERROR, EXIT_BAD_INPUT = exit_codes.OK, exit_codes.FAILED, exit_codes.BAD_INPUT


def app_version() -> str:
    """The installed package's version (``importlib.metadata``), or ``"unknown"`` when the
    package metadata is not there (run from a source tree that was never installed)."""
    from importlib import metadata
    try:
        return metadata.version("cts-desktop")
    except metadata.PackageNotFoundError:
        return "unknown (not installed)"


def positive_seconds(text: str) -> float:
    """argparse type: a number of seconds > 0 (``ArgumentTypeError`` otherwise)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of seconds, got {text!r}") from None
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"must be a number of seconds > 0, got {text!r}")
    return value


def _add_global_options(p: argparse.ArgumentParser, *, top: bool) -> None:
    """The options every command takes. On a command's parser (``top=False``) their default is
    ``SUPPRESS``, so a value given before the command is not overwritten by the command's default."""
    extra = {} if top else {"default": argparse.SUPPRESS}
    p.add_argument("--data-dir", help="where the trade database lives (default: the user data dir)", **extra)
    p.add_argument("--config-dir", help="where connection settings live (default: the user config dir, "
                                        "or DATA_DIR/config when --data-dir is given)", **extra)
    p.add_argument("--fresh-database", action="store_true",
                   help="when the database is damaged, move it aside (renamed .damaged-<UTC time>) and start "
                        "a new one", **extra)
    p.add_argument("-v", "--verbose", action="store_true",
                   help="headless: print every engine event (orders, fills, positions, states, log lines); "
                        "all commands: debug logging on stderr", **extra)


def _commands(p: argparse.ArgumentParser) -> List[argparse.ArgumentParser]:
    """The parsers of ``p``'s sub-commands, at every depth."""
    out: List[argparse.ArgumentParser] = []
    for action in p._actions:  # noqa: SLF001 - argparse keeps its sub-commands only here
        if isinstance(action, argparse._SubParsersAction):  # noqa: SLF001
            for child in dict.fromkeys(action.choices.values()):
                out += [child, *_commands(child)]
    return out


def build_parser() -> argparse.ArgumentParser:
    from ..store.settings import SPEEDS
    from . import backtest as cli_backtest
    from . import candles as cli_candles
    from . import connections as cli_connections
    from . import research as cli_research
    from . import risk as cli_risk

    p = argparse.ArgumentParser(prog="cts-desktop", description="CTS Desktop: crypto trading station")
    p.add_argument("--version", action="version", version=f"cts-desktop {app_version()}")
    _add_global_options(p, top=True)
    p.add_argument("--connection", help="connection to select (and run, with --headless)")
    p.add_argument("--headless", action="store_true", help="run the engine without a window and print a summary")
    p.add_argument("--duration", type=positive_seconds, metavar="S",
                   help="headless: stop after S seconds of wall time (S > 0)")
    p.add_argument("--speed", choices=list(SPEEDS), help="replay speed for this run")
    p.add_argument("--screenshot", metavar="PNG", help="start the engine, render the window after --after s, save, exit")
    p.add_argument("--after", type=float, default=5.0, help="seconds of running before --screenshot (default 5)")
    p.add_argument("--autostart", action="store_true", help="GUI: start the selected connection's engine at once")
    sub = p.add_subparsers(dest="command")
    cli_connections.add_subparser(sub)
    cli_backtest.add_subparser(sub)
    cli_research.add_subparsers(sub)  # optimize, walkforward, montecarlo
    cli_candles.add_subparser(sub)
    cli_risk.add_subparsers(sub)  # kill, risk
    for child in _commands(p):
        _add_global_options(child, top=False)
    return p


def _error(msg: str) -> None:
    print(f"cts-desktop: error: {msg}", file=sys.stderr)


def main(argv: Optional[List[str]] = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    data_dir, config_dir = paths.resolve(args.data_dir, args.config_dir)
    logfile.setup_log_file(args.data_dir, verbose=args.verbose)  # rotated, secrets redacted (store/logfile.py)
    if args.verbose:
        _console_shows_app_debug()
    try:
        return _dispatch(args, data_dir, config_dir)
    except KeyboardInterrupt:
        _error("interrupted")
        return INTERRUPTED


def _console_shows_app_debug() -> None:
    """With ``--verbose`` the console shows the app's own debug lines, and other libraries' lines
    from WARNING up only (not every SQL statement of peewee); the log file keeps everything."""
    logging.getLogger("cts_desktop").setLevel(logging.DEBUG)
    for h in logging.getLogger().handlers:
        if isinstance(h, logging.StreamHandler) and not isinstance(h, logging.FileHandler):
            h.setLevel(logging.DEBUG)
            h.addFilter(lambda r: r.levelno >= logging.WARNING or r.name.startswith("cts_desktop"))


def _dispatch(args: argparse.Namespace, data_dir, config_dir) -> int:
    if args.command == "connections":
        from . import connections as cli_connections
        return cli_connections.run(args, config_dir=config_dir)
    if args.command == "backtest":
        from . import backtest as cli_backtest
        return cli_backtest.run(args, data_dir=data_dir, config_dir=config_dir)
    if args.command in ("optimize", "walkforward", "montecarlo"):
        from . import research as cli_research
        return cli_research.run(args, data_dir=data_dir, config_dir=config_dir)
    if args.command in ("kill", "risk"):
        from . import risk as cli_risk
        if args.command == "kill":
            return cli_risk.run_kill(args, data_dir=data_dir)
        return cli_risk.run_risk(args, data_dir=data_dir, config_dir=config_dir)
    if args.command == "candles":
        from . import candles as cli_candles
        return cli_candles.run(args)

    if not args.headless:
        from .display import display_problem
        problem = display_problem()
        if problem:  # the rule: asking for a window without a display is a usage error
            _error(problem)
            return BAD_INPUT

    from .startup import open_services
    services = open_services(args, data_dir, config_dir, report=_error)
    if isinstance(services, int):
        return services

    if args.connection is not None:
        try:
            services.connection(args.connection)
        except KeyError as exc:
            _error(exc.args[0])
            services.close()
            return BAD_INPUT
    if args.speed and args.connection:
        services.connection(args.connection).speed = args.speed

    if args.headless:
        from .headless import run_headless
        if not args.connection:
            _error("--headless needs --connection NAME (see `cts-desktop connections list`)")
            services.close()
            return BAD_INPUT
        return run_headless(services, args.connection, duration=args.duration, speed=args.speed,
                            verbose=args.verbose)

    from ..ui.app_gui import run_gui
    return run_gui(services, connection=args.connection, autostart=args.autostart or bool(args.screenshot),
                   screenshot=args.screenshot, after=args.after)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
