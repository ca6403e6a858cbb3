"""The command line of ``cts-desktop connections``: its actions and options, and turning the given
options into the fields of a connection (omitted options leave a field as it is)."""
from __future__ import annotations

import argparse
import json
from typing import Any, Dict, List, Optional

from cts_desktop.core.risk import RiskLimits
from cts_desktop.services import connection_rules as rules
from cts_desktop.store.settings import API_TYPES, MARKET_TYPE_ALIASES, MARKET_TYPES, POSITION_MODES, SPEEDS, ConnectionConfig

from .connections_io import EXIT_USAGE, CliError


def add_subparser(subparsers) -> argparse.ArgumentParser:
    """Add the ``connections`` command to an argparse ``subparsers`` object and return its parser.

    The parsed namespace gets ``cts_command="connections"`` and ``connections_action`` (one of
    ``list``, ``add``, ``edit``, ``remove``, ``test``); hand it to :func:`run`.
    """
    parser = subparsers.add_parser(
        "connections",
        help="list, add, edit, remove or test exchange connections",
        description="Manage exchange connections. Credentials are read from a hidden prompt or "
        "--secrets-stdin, never from arguments, and kept only in the OS keyring.",
    )
    parser.set_defaults(cts_command="connections")
    fill_parser(parser)
    return parser


def fill_parser(parser: argparse.ArgumentParser) -> None:
    actions = parser.add_subparsers(dest="connections_action", metavar="ACTION", required=True)

    p_list = actions.add_parser("list", help="table of connections (never shows secrets)")
    p_list.add_argument("--json", action="store_true", help="machine-readable output (no secrets)")

    p_add = actions.add_parser("add", help="create a connection")
    p_add.add_argument("name")
    _add_field_options(p_add, adding=True)

    p_edit = actions.add_parser("edit", help="change a connection; --live/--no-live switch live trading")
    p_edit.add_argument("name")
    p_edit.add_argument("--new-name", help="rename the connection (its keyring entries move along)")
    _add_field_options(p_edit, adding=False)
    live = p_edit.add_mutually_exclusive_group()
    live.add_argument("--live", dest="live", action="store_const", const=True, default=None,
                      help="send real orders (needs a passing test with the current credentials and a typed confirmation)")
    live.add_argument("--no-live", dest="live", action="store_const", const=False,
                      help="paper-trade only (always allowed)")

    p_remove = actions.add_parser("remove", help="delete a connection and its keyring entries")
    p_remove.add_argument("name")

    p_test = actions.add_parser("test", help="connect, check keys, permissions, balances; store the result")
    p_test.add_argument("name")
    p_test.add_argument("--timeout", type=float, default=15.0, help="seconds for the whole test (default 15)")


def _add_field_options(p: argparse.ArgumentParser, *, adding: bool) -> None:
    keep = "" if adding else " (unchanged if omitted)"
    p.add_argument("--exchange", help=f"ccxt exchange id (e.g. binance) or 'paper' for the recorded market{keep}")
    p.add_argument("--dataset", help=f"recorded dataset of a 'paper' connection{keep}")
    p.add_argument("--symbols", help=f"comma-separated unified symbols, e.g. BTC/USDT,ETH/USDT{keep}")
    p.add_argument("--market-type", choices=sorted(MARKET_TYPES + tuple(MARKET_TYPE_ALIASES)),
                   help=f"account type: spot, margin or swap (perpetual futures){keep}")
    p.add_argument("--position-mode", choices=POSITION_MODES, help=f"derivatives position mode{keep}")
    p.add_argument("--testnet", action=argparse.BooleanOptionalAction, default=None,
                   help=f"use the exchange's testnet/sandbox{keep}")
    p.add_argument("--api-type", choices=API_TYPES, help=f"market data over rest polling or websocket{keep}")
    p.add_argument("--rate-limit", metavar="PER_SECOND",
                   help=f"requests per second, or 'auto' for the exchange's own limit{keep}")
    p.add_argument("--max-concurrency", type=int, help=f"parallel requests{keep}")
    p.add_argument("--batch-size", type=int, help=f"items per paged request{keep}")
    p.add_argument("--base-url", help=f"override the API URL, e.g. a local test venue; '' restores the default{keep}")
    en = p.add_mutually_exclusive_group()
    en.add_argument("--enabled", dest="enabled", action="store_const", const=True, default=None,
                    help=f"start this connection with the app{keep}")
    en.add_argument("--disabled", dest="enabled", action="store_const", const=False, help="do not start it")
    p.add_argument("--speed", choices=list(SPEEDS), help=f"replay speed of a 'paper' connection{keep}")
    p.add_argument("--starting-balance", type=float, help=f"paper account balance in USDT-equivalent{keep}")
    p.add_argument("--fee", help=f"taker fee fraction (0.001 = 0.1%%) or 'auto' for the market's schedule{keep}")
    p.add_argument("--strategy", help=f"strategy name{keep}")
    p.add_argument("--param", action="append", default=[], metavar="KEY=VALUE",
                   help="strategy parameter (value parsed as JSON when possible); repeatable")
    p.add_argument("--max-position-fraction", type=float, help=f"risk: largest position notional / equity{keep}")
    p.add_argument("--max-open-positions", type=int, help=f"risk: open positions at most{keep}")
    for flag, kind, text in _BREAKER_OPTIONS:
        p.add_argument(flag, type=kind, help=f"risk: {text}{keep}")
    creds = p.add_mutually_exclusive_group()
    creds.add_argument("--secrets-stdin", action="store_true",
                       help="read credentials from standard input, one field=value per line")
    creds.add_argument("--credentials", action="store_true",
                       help="ask for the exchange's required credentials at a hidden prompt"
                       + (" (default on a terminal)" if adding else ""))
    if adding:
        creds.add_argument("--no-credentials", action="store_true",
                           help="no keys: the connection can only paper-trade on public market data")
    else:
        creds.add_argument("--clear-credentials", action="store_true",
                           help="delete the stored credentials from the keyring")


def _parse_optional_float(value: Optional[str], what: str) -> Any:
    if value is None:
        return ...
    if value.strip().lower() in ("auto", "none", ""):
        return None
    try:
        number = float(value)
    except ValueError:
        raise CliError(EXIT_USAGE, f"{what} must be a number or 'auto', not {value!r}") from None
    return number


#: options copied onto the connection field of the same name as given
_PLAIN_OPTIONS = ("dataset", "position_mode", "testnet", "api_type", "max_concurrency", "batch_size", "enabled",
                  "speed", "strategy")


def apply_fields(conn: ConnectionConfig, args: argparse.Namespace) -> None:
    """Copy the given options onto ``conn`` (omitted ones stay); :class:`CliError` for a bad value."""
    if args.exchange is not None:
        try:
            conn.exchange = rules.check_exchange(args.exchange)
        except rules.RuleError as exc:
            raise CliError(EXIT_USAGE, str(exc)) from None
    for option in _PLAIN_OPTIONS:
        value = getattr(args, option)
        if value is not None:
            setattr(conn, option, value)
    if args.symbols is not None:
        conn.symbols = [s.strip() for s in args.symbols.split(",") if s.strip()]
    if args.market_type is not None:
        conn.market_type = MARKET_TYPE_ALIASES.get(args.market_type, args.market_type)
    if args.base_url is not None:
        conn.base_url = args.base_url.strip()
    _apply_numbers(conn, args)
    if args.param:
        conn.strategy_params = _params(dict(conn.strategy_params), args.param)
    if any(getattr(args, k, None) is not None for k in ("max_position_fraction", "max_open_positions",
                                                        *(f[2:].replace("-", "_") for f, _k, _t in _BREAKER_OPTIONS))):
        conn.risk = _risk(dict(conn.risk), args)


def _apply_numbers(conn: ConnectionConfig, args: argparse.Namespace) -> None:
    rate = _parse_optional_float(args.rate_limit, "--rate-limit")
    if rate is not ...:
        conn.rate_limit_per_second = rate
    if args.starting_balance is not None:
        if not args.starting_balance > 0:
            raise CliError(EXIT_USAGE, "--starting-balance must be positive")
        conn.starting_balance = args.starting_balance
    fee = _parse_optional_float(args.fee, "--fee")
    if fee is not ...:
        if fee is not None and not 0 <= fee < 1:
            raise CliError(EXIT_USAGE, "--fee is a fraction between 0 and 1 (0.001 = 0.1%)")
        conn.fee = fee


def _params(params: Dict[str, Any], items: List[str]) -> Dict[str, Any]:
    """``params`` with each ``KEY=VALUE`` of ``items`` set (the value parsed as JSON when it is JSON)."""
    for item in items:
        key, sep, raw = item.partition("=")
        if not sep or not key.strip():
            raise CliError(EXIT_USAGE, f"--param expects KEY=VALUE, got {item!r}")
        try:
            params[key.strip()] = json.loads(raw)
        except ValueError:
            params[key.strip()] = raw
    return params


def _risk(risk: Dict[str, Any], args: argparse.Namespace) -> Dict[str, Any]:
    if args.max_position_fraction is not None:
        if not 0 < args.max_position_fraction <= 1:
            raise CliError(EXIT_USAGE, "--max-position-fraction must be in (0, 1]")
        risk["max_position_fraction"] = args.max_position_fraction
    if args.max_open_positions is not None:
        if args.max_open_positions < 1:
            raise CliError(EXIT_USAGE, "--max-open-positions must be at least 1")
        risk["max_open_positions"] = args.max_open_positions
    for flag, _kind, _text in _BREAKER_OPTIONS:
        key = flag[2:].replace("-", "_")
        if getattr(args, key, None) is not None:
            risk[key] = getattr(args, key)
    try:
        RiskLimits(**risk)
    except (TypeError, ValueError) as exc:
        raise CliError(EXIT_USAGE, f"risk limits: {exc}") from None
    return risk


_BREAKER_OPTIONS = (
    ("--max-order-notional", float, "largest entry order value in the quote currency, 0 = no cap"),
    ("--min-free-balance", float, "quote currency that must stay free after an entry"),
    ("--max-leverage", float, "open notional / equity after an entry at most"),
    ("--daily-loss-limit", float, "daily (UTC) loss limit as a fraction of the day's starting equity, 0 = off"),
    ("--max-drawdown", float, "drawdown (fraction) that latches the connection close-only until re-armed, 0 = off"),
    ("--max-orders-per-minute", int, "entries sent per rolling minute at most, 0 = no limit"),
)
