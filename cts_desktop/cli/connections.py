"""``cts-desktop connections list|add|edit|remove|test``: manage exchange connections from a shell.

Settings go to ``<config dir>/connections.json`` (:mod:`cts_desktop.store.settings`); credentials
go only to the OS keyring (:mod:`cts_desktop.store.secrets`). Secrets are never accepted as
command-line arguments (they would end up in shell history and ``ps``): they come from a hidden
prompt (``--credentials``, the default of ``add`` on a terminal) or, with ``--secrets-stdin``,
from standard input as ``field=value`` lines (blank lines and ``#`` comments ignored), e.g.::

    printf 'apiKey=%s\\nsecret=%s\\n' "$KEY" "$SECRET" | cts-desktop connections add "My Binance" \\
        --exchange binance --market-type swap --testnet --secrets-stdin

Any change of credentials, exchange, testnet, market type, base URL or name clears the stored
connection test (``last_test``) and switches live trading off: the connection must be tested
again. ``edit --live`` needs a passing test made with the current credentials and a typed
confirmation (the connection name) on standard input.

Exit codes: 0 done; 1 refused or failed (test failed, live switch refused, keyring call failed);
2 bad input (unknown connection or exchange, invalid value); 3 environment (no secure keyring,
settings file unreadable or not writable).

Standalone: ``python -m cts_desktop.cli.connections [--config-dir DIR] list`` (same commands).
"""
from __future__ import annotations

import argparse
import asyncio
import difflib
import getpass
import json
import sys
from pathlib import Path
from typing import Any, Dict, Iterable, List, Mapping, Optional, TextIO

from cts_desktop.services import connections as rules
from cts_desktop.services.connections import TEST_RELEVANT_FIELDS, required_credentials  # noqa: F401 - re-exported
from cts_desktop.store.secrets import (
    CREDENTIAL_FIELDS,
    NoSecureKeyringError,
    SecretStore,
    SecretStoreError,
    mask,
)
from cts_desktop.store.settings import (
    API_TYPES,
    MARKET_TYPE_ALIASES,
    MARKET_TYPES,
    PAPER_EXCHANGE,
    POSITION_MODES,
    SPEEDS,
    ConnectionConfig,
    SettingsError,
    SettingsStore,
    default_config_dir,
)

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_ENVIRONMENT = 3


class CliError(Exception):
    """A human message and the exit code to end with."""

    def __init__(self, code: int, message: str):
        super().__init__(message)
        self.code = code


# --------------------------------------------------------------------------------------------
# argument parsing
# --------------------------------------------------------------------------------------------
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
    _fill_parser(parser)
    return parser


def _fill_parser(parser: argparse.ArgumentParser) -> None:
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


# --------------------------------------------------------------------------------------------
# entry points
# --------------------------------------------------------------------------------------------
def run(args: argparse.Namespace, *, config_dir: Path, stdin: Optional[TextIO] = None,
        stdout: Optional[TextIO] = None, stderr: Optional[TextIO] = None) -> int:
    """Execute a parsed ``connections`` command; returns the exit code (see module docstring).

    ``config_dir``: directory of ``connections.json``. ``stdin``/``stdout``/``stderr`` default to
    the ``sys`` streams (``stdin`` carries ``--secrets-stdin`` lines and the live confirmation).
    Never raises for expected failures; messages go to ``stderr`` and never contain secrets.
    """
    io = _IO(stdin or sys.stdin, stdout or sys.stdout, stderr or sys.stderr)
    action = getattr(args, "connections_action", None)
    handler = {"list": _cmd_list, "add": _cmd_add, "edit": _cmd_edit, "remove": _cmd_remove, "test": _cmd_test}.get(action)
    if handler is None:
        io.err(f"unknown connections action {action!r}; use list, add, edit, remove or test")
        return EXIT_USAGE
    try:
        store = _load_settings(Path(config_dir))
        return handler(args, store, io)
    except CliError as exc:
        io.err(str(exc))
        return exc.code
    except KeyboardInterrupt:
        io.err("interrupted; nothing more was changed")
        return 130


def main(argv: Optional[List[str]] = None) -> int:
    """``python -m cts_desktop.cli.connections [--config-dir DIR] ACTION ...``."""
    parser = argparse.ArgumentParser(
        prog="cts-desktop connections",
        description="Manage exchange connections: settings in connections.json, credentials only in the OS keyring.",
    )
    parser.add_argument("--config-dir", type=Path, default=None,
                        help="directory of connections.json (default: the user's config directory)")
    _fill_parser(parser)
    args = parser.parse_args(argv)
    return run(args, config_dir=args.config_dir or default_config_dir())


class _IO:
    def __init__(self, stdin: TextIO, stdout: TextIO, stderr: TextIO):
        self.stdin, self.stdout, self.stderr = stdin, stdout, stderr
        self.scrub_values: List[str] = []

    def _clean(self, text: str) -> str:
        for value in self.scrub_values:
            if len(value) >= 4:  # shorter "secrets" would mangle ordinary words
                text = text.replace(value, "<hidden>")
        return text

    def out(self, text: str = "") -> None:
        print(self._clean(text), file=self.stdout, flush=True)

    def err(self, text: str) -> None:
        print("cts-desktop connections: " + self._clean(text), file=self.stderr, flush=True)


# --------------------------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------------------------
def _load_settings(config_dir: Path) -> SettingsStore:
    try:
        return SettingsStore(config_dir).load()
    except SettingsError as exc:
        raise CliError(EXIT_ENVIRONMENT, f"{exc}. Check the directory's permissions or choose another one with --config-dir.")


def _save(store: SettingsStore, conn: Optional[ConnectionConfig] = None) -> None:
    try:
        if conn is not None:
            store.put(conn)
        else:
            store.save()
    except SettingsError as exc:
        raise CliError(EXIT_ENVIRONMENT, f"{exc}. Check the directory's permissions or choose another one with --config-dir.")


def _get_conn(store: SettingsStore, name: str) -> ConnectionConfig:
    if name in store.connections:
        return store.connections[name]
    known = sorted(store.connections)
    close = difflib.get_close_matches(name, known, n=3, cutoff=0.5)
    hint = f" Did you mean {', '.join(repr(c) for c in close)}?" if close else ""
    raise CliError(EXIT_USAGE, f"unknown connection {name!r}.{hint} Known: {', '.join(repr(k) for k in known)}.")


def _open_secrets() -> SecretStore:
    try:
        return SecretStore.open()
    except NoSecureKeyringError as exc:
        raise CliError(EXIT_ENVIRONMENT, str(exc))


def _check_exchange(exchange: str) -> str:
    try:
        return rules.check_exchange(exchange)
    except rules.RuleError as exc:
        raise CliError(EXIT_USAGE, str(exc)) from None


def _read_secrets_stdin(io: _IO) -> Dict[str, str]:
    """Parse ``field=value`` lines. Error messages name the line number and field, never the value."""
    secrets: Dict[str, str] = {}
    for lineno, raw in enumerate(io.stdin.read().splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        field, sep, value = line.partition("=")
        field = field.strip()
        if not sep:
            raise CliError(EXIT_USAGE, f"standard input line {lineno}: expected field=value")
        if field not in CREDENTIAL_FIELDS:
            shown = field if len(field) <= 20 else field[:20] + "…"
            raise CliError(EXIT_USAGE, f"standard input line {lineno}: unknown credential field {shown!r}; "
                           f"expected one of: {', '.join(CREDENTIAL_FIELDS)}")
        if field in secrets:
            raise CliError(EXIT_USAGE, f"standard input line {lineno}: {field} given twice")
        value = value.strip()
        if not value:
            raise CliError(EXIT_USAGE, f"standard input line {lineno}: {field} is empty")
        secrets[field] = value
        io.scrub_values.append(value)
    if not secrets:
        raise CliError(EXIT_USAGE, "--secrets-stdin: no field=value lines on standard input")
    return secrets


def _prompt_secrets(io: _IO, exchange: str, fields: Iterable[str], *, keep_hint: bool) -> Dict[str, str]:
    if not (hasattr(io.stdin, "isatty") and io.stdin.isatty()):
        raise CliError(EXIT_USAGE, "no terminal for a hidden prompt: pipe the credentials with --secrets-stdin "
                       "(one field=value per line), or use --no-credentials")
    secrets: Dict[str, str] = {}
    suffix = " (empty: keep current)" if keep_hint else " (empty: skip)"
    for field in fields:
        value = getpass.getpass(f"{exchange} {field}{suffix}: ").strip()
        if value:
            secrets[field] = value
            io.scrub_values.append(value)
    return secrets


def _check_complete(exchange: str, fields: Iterable[str]) -> None:
    """Either no credentials (public data only) or every required one (``fields``: names present)."""
    try:
        rules.check_complete(exchange, fields)
    except rules.RuleError as exc:
        raise CliError(EXIT_USAGE, str(exc)) from None


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


def _apply_fields(conn: ConnectionConfig, args: argparse.Namespace) -> None:
    """Copy the given options onto ``conn`` (omitted ones stay)."""
    if args.exchange is not None:
        conn.exchange = _check_exchange(args.exchange)
    if args.dataset is not None:
        conn.dataset = args.dataset
    if args.symbols is not None:
        conn.symbols = [s.strip() for s in args.symbols.split(",") if s.strip()]
    if args.market_type is not None:
        conn.market_type = MARKET_TYPE_ALIASES.get(args.market_type, args.market_type)
    if args.position_mode is not None:
        conn.position_mode = args.position_mode
    if args.testnet is not None:
        conn.testnet = args.testnet
    if args.api_type is not None:
        conn.api_type = args.api_type
    rate = _parse_optional_float(args.rate_limit, "--rate-limit")
    if rate is not ...:
        conn.rate_limit_per_second = rate
    if args.max_concurrency is not None:
        conn.max_concurrency = args.max_concurrency
    if args.batch_size is not None:
        conn.batch_size = args.batch_size
    if args.base_url is not None:
        conn.base_url = args.base_url.strip()
    if args.enabled is not None:
        conn.enabled = args.enabled
    if args.speed is not None:
        conn.speed = args.speed
    if args.starting_balance is not None:
        if not args.starting_balance > 0:
            raise CliError(EXIT_USAGE, "--starting-balance must be positive")
        conn.starting_balance = args.starting_balance
    fee = _parse_optional_float(args.fee, "--fee")
    if fee is not ...:
        if fee is not None and not 0 <= fee < 1:
            raise CliError(EXIT_USAGE, "--fee is a fraction between 0 and 1 (0.001 = 0.1%)")
        conn.fee = fee
    if args.strategy is not None:
        conn.strategy = args.strategy
    if args.param:
        params = dict(conn.strategy_params)
        for item in args.param:
            key, sep, raw = item.partition("=")
            if not sep or not key.strip():
                raise CliError(EXIT_USAGE, f"--param expects KEY=VALUE, got {item!r}")
            try:
                params[key.strip()] = json.loads(raw)
            except ValueError:
                params[key.strip()] = raw
        conn.strategy_params = params
    if args.max_position_fraction is not None or args.max_open_positions is not None:
        risk = dict(conn.risk)
        if args.max_position_fraction is not None:
            if not 0 < args.max_position_fraction <= 1:
                raise CliError(EXIT_USAGE, "--max-position-fraction must be in (0, 1]")
            risk["max_position_fraction"] = args.max_position_fraction
        if args.max_open_positions is not None:
            if args.max_open_positions < 1:
                raise CliError(EXIT_USAGE, "--max-open-positions must be at least 1")
            risk["max_open_positions"] = args.max_open_positions
        conn.risk = risk


def _validate(conn: ConnectionConfig) -> None:
    try:
        conn.validate()
    except SettingsError as exc:
        raise CliError(EXIT_USAGE, str(exc))


def _keyring_call(fn, *a, **kw):
    try:
        return fn(*a, **kw)
    except SecretStoreError as exc:
        raise CliError(EXIT_FAILED, str(exc))


def _testnet_warning(conn: ConnectionConfig) -> Optional[str]:
    """A note when testnet is on but ccxt knows no sandbox URL for the exchange (and none is given)."""
    warning = rules.testnet_warning(conn)
    return f"note: {warning}".replace("give a base URL", "give --base-url").replace("turn testnet off", "use --no-testnet") \
        if warning else None


def _venue(conn: ConnectionConfig) -> str:
    return rules.venue(conn)


def _account(conn: ConnectionConfig) -> str:
    return rules.account(conn)


# --------------------------------------------------------------------------------------------
# commands
# --------------------------------------------------------------------------------------------
_test_summary = rules.test_summary
_fmt_time = rules.fmt_time


def _cmd_list(args, store: SettingsStore, io: _IO) -> int:
    conns = list(store.connections.values())
    if args.json:
        rows = [{
            "name": c.name, "exchange": c.exchange, "market_type": c.market_type, "testnet": c.testnet,
            "live": c.live, "enabled": c.enabled, "credential_fields": list(c.credential_fields),
            "last_test": _test_summary(c.last_test), "builtin": c.builtin,
        } for c in conns]
        io.out(json.dumps(rows, indent=2))
        return EXIT_OK
    header = ("NAME", "EXCHANGE", "MARKET", "TESTNET", "LIVE", "ENABLED", "LAST TEST")
    rows = [(c.name, c.exchange, c.market_type, _yes(c.testnet), "LIVE" if c.live else "paper",
             _yes(c.enabled), _test_summary(c.last_test)) for c in conns]
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    for row in [header, *rows]:
        io.out("  ".join(str(cell).ljust(w) for cell, w in zip(row, widths)).rstrip())
    return EXIT_OK


def _yes(flag: bool) -> str:
    return "yes" if flag else "no"


def _cmd_add(args, store: SettingsStore, io: _IO) -> int:
    name = args.name
    if name in store.connections:
        raise CliError(EXIT_USAGE, f"a connection called {name!r} already exists; change it with `connections edit`")
    if args.exchange is None:
        raise CliError(EXIT_USAGE, "--exchange is required (a ccxt exchange id, or 'paper')")
    conn = ConnectionConfig(name=name)
    _apply_fields(conn, args)
    _validate(conn)

    secrets: Dict[str, str] = {}
    if conn.exchange == PAPER_EXCHANGE:
        if args.secrets_stdin or args.credentials:
            raise CliError(EXIT_USAGE, "the recorded-market 'paper' exchange takes no credentials")
    elif args.secrets_stdin:
        secrets = _read_secrets_stdin(io)
    elif not args.no_credentials:
        secrets = _prompt_secrets(io, conn.exchange, required_credentials(conn.exchange), keep_hint=False)
    _check_complete(conn.exchange, secrets)

    if secrets:
        keyring = _open_secrets()
        # Entries left by an earlier connection of the same name must not survive.
        _keyring_call(keyring.delete_connection, name, [f for f in CREDENTIAL_FIELDS if f not in secrets])
        written: List[str] = []
        try:
            for field, value in secrets.items():
                _keyring_call(keyring.set, name, field, value)
                written.append(field)
            conn.credential_fields = sorted(secrets)
            _save(store, conn)
        except BaseException:
            store.connections.pop(name, None)
            for field in written:
                try:
                    keyring.delete(name, field)
                except SecretStoreError:
                    pass
            raise
    else:
        _save(store, conn)
    creds = ", ".join(f"{f} {mask(secrets[f], f)}" for f in sorted(secrets)) or "none (public market data only)"
    warning = _testnet_warning(conn)
    if warning:
        io.out(warning)
    io.out(f"added {name!r}: {_venue(conn)}; credentials: {creds}; paper trading until tested and switched live")
    return EXIT_OK


def _cmd_edit(args, store: SettingsStore, io: _IO) -> int:
    conn = _get_conn(store, args.name)
    before = ConnectionConfig.from_json(conn.to_json())
    edited = ConnectionConfig.from_json(conn.to_json())
    if args.new_name is not None and conn.builtin:
        raise CliError(EXIT_USAGE, f"{conn.name!r} is built in and cannot be renamed")
    if args.new_name is not None and args.new_name != conn.name and args.new_name in store.connections:
        raise CliError(EXIT_USAGE, f"a connection called {args.new_name!r} already exists")
    _apply_fields(edited, args)
    if args.new_name is not None:
        edited.name = args.new_name
    edited.live = False if args.live is False else before.live
    _validate(edited)

    # Credentials: work out the new set before touching anything.
    renamed = edited.name != before.name
    if edited.exchange == PAPER_EXCHANGE and (args.secrets_stdin or args.credentials):
        raise CliError(EXIT_USAGE, "the recorded-market 'paper' exchange takes no credentials")
    wants_creds = bool(args.secrets_stdin or args.credentials or args.clear_credentials)
    keyring: Optional[SecretStore] = None
    current: Dict[str, str] = {}
    if before.credential_fields and (wants_creds or renamed or args.live):
        keyring = _open_secrets()
        current = _keyring_call(keyring.get_all, before.name, before.credential_fields)
        io.scrub_values.extend(current.values())
    loaded = keyring is not None  # False: the secrets stay as they are and were not read
    if args.clear_credentials:
        final = {}
    elif args.secrets_stdin:
        final = {**current, **_read_secrets_stdin(io)}
    elif args.credentials:
        final = {**current, **_prompt_secrets(io, edited.exchange, required_credentials(edited.exchange), keep_hint=True)}
    else:
        final = dict(current)
    final_fields = sorted(final) if (loaded or wants_creds) else sorted(before.credential_fields)
    if edited.exchange != PAPER_EXCHANGE:
        _check_complete(edited.exchange, final_fields)
    elif final_fields:
        raise CliError(EXIT_USAGE, "the recorded-market 'paper' exchange takes no credentials; add --clear-credentials")

    creds_changed = wants_creds and final != current
    venue_changed = [f for f in TEST_RELEVANT_FIELDS if getattr(before, f) != getattr(edited, f)]
    note = rules.invalidate_test(before, edited, creds_changed)
    notes: List[str] = [note] if note else []

    # Live switch: judged on the state after this edit.
    if args.live:
        _live_gate(edited, final, io)
        edited.live = True

    # Apply: keyring first (undone if the settings file cannot be written), then the file.
    old_name, new_name = before.name, edited.name
    writes = {f: v for f, v in final.items() if renamed or current.get(f) != v}
    deletes = [f for f in current if renamed or f not in final]
    if (writes or deletes) and keyring is None:
        keyring = _open_secrets()
    undo: List[Any] = []
    try:
        for field, value in writes.items():
            _keyring_call(keyring.set, new_name, field, value)
            if not renamed and field in current:
                undo.append(lambda f=field: keyring.set(old_name, f, current[f]))
            else:
                undo.append(lambda f=field: keyring.delete(new_name, f))
        for field in deletes:
            _keyring_call(keyring.delete, old_name, field)
            undo.append(lambda f=field: keyring.set(old_name, f, current[f]))
        edited.credential_fields = final_fields
        if renamed:
            store.connections = {(new_name if k == old_name else k): v for k, v in store.connections.items()}
        store.connections[new_name] = edited
        _save(store)
    except BaseException:
        store.connections = {(old_name if k == new_name else k): v for k, v in store.connections.items()}
        store.connections[old_name] = before
        for step in reversed(undo):
            try:
                step()
            except SecretStoreError:
                pass
        raise

    warning = _testnet_warning(edited) if venue_changed else None
    for note in notes + ([warning] if warning else []):
        io.out(note)
    changed = [f.name for f in _dataclass_fields(before) if getattr(before, f.name) != getattr(edited, f.name)
               and f.name not in ("last_test", "credential_fields")]
    if creds_changed:
        changed.append("credentials")
    io.out(f"updated {new_name!r}: " + (", ".join(c.replace("_", " ") for c in changed) if changed else "nothing changed"))
    if edited.live and not before.live:
        io.out(f"{new_name!r} is LIVE: real orders will be sent to {_venue(edited)} when it runs")
    return EXIT_OK


def _dataclass_fields(obj):
    from dataclasses import fields

    return fields(obj)


_LIVE_HINTS = {
    "no-credentials": "; add them with `connections edit {name!r} --credentials`, then test",
    "untested": "; run `cts-desktop connections test {name!r}` first",
    "failed": "; fix it and test again",
    "changed": "; test again",
}


def _live_gate(conn: ConnectionConfig, secrets: Mapping[str, str], io: _IO) -> None:
    """Refuse (CliError, EXIT_FAILED) unless tested ok with these secrets and confirmed by name."""
    refusal = rules.live_refusal(conn, secrets)
    if refusal is not None:
        if refusal.kind == "paper":
            raise CliError(EXIT_USAGE, refusal.message)
        raise CliError(EXIT_FAILED, refusal.message + _LIVE_HINTS.get(refusal.kind, "").format(name=conn.name))
    io.out(f"Switching {conn.name!r} to LIVE trading.")
    for line in rules.confirmation_lines(conn):
        io.out("  " + line)
    print(f"Type the connection name ({conn.name}) to confirm: ", end="", file=io.stdout, flush=True)
    answer = io.stdin.readline()
    io.out()
    if not rules.confirmed(conn, answer):
        raise CliError(EXIT_FAILED, "live trading NOT switched on: the confirmation did not match the connection name")


def _cmd_remove(args, store: SettingsStore, io: _IO) -> int:
    conn = _get_conn(store, args.name)
    if conn.builtin:
        raise CliError(EXIT_USAGE, f"{conn.name!r} is built in and cannot be removed")
    removed: List[str] = []
    if conn.credential_fields:
        keyring = _open_secrets()
        removed = _keyring_call(keyring.delete_connection, conn.name, CREDENTIAL_FIELDS)
    try:
        store.remove(conn.name)
    except SettingsError as exc:
        raise CliError(EXIT_ENVIRONMENT, f"{exc}. Check the directory's permissions or choose another one with --config-dir.")
    tail = f" and its keyring entries ({', '.join(removed)})" if removed else ""
    io.out(f"removed {conn.name!r}{tail}")
    return EXIT_OK


def _cmd_test(args, store: SettingsStore, io: _IO) -> int:
    conn = _get_conn(store, args.name)
    secrets: Dict[str, str] = {}
    if conn.credential_fields:
        keyring = _open_secrets()
        secrets = _keyring_call(keyring.get_all, conn.name, conn.credential_fields)
        io.scrub_values.extend(secrets.values())
        missing = [f for f in conn.credential_fields if f not in secrets]
        if missing:
            io.out(f"warning: the keyring has no {', '.join(missing)} for {conn.name!r}; "
                   f"set them with `connections edit {conn.name!r} --credentials`")
    try:
        from cts_desktop.exchange.conntest import test_connection
    except ImportError as exc:
        raise CliError(EXIT_FAILED, f"the connection test is not available in this build ({exc})")

    def on_progress(text: Any = "", fraction: Any = None, *_: Any, **__: Any) -> None:
        done = f" ({fraction:.0%})" if isinstance(fraction, (int, float)) and 0 <= fraction <= 1 else ""
        io.out(f"  … {text}{done}")

    io.out(f"testing {conn.name!r} ({_venue(conn)}{', ' + conn.base_url if conn.base_url else ''}) …")
    try:
        result = asyncio.run(test_connection(conn, secrets, timeout=args.timeout, on_progress=on_progress))
    except KeyboardInterrupt:
        raise
    except Exception as exc:  # a bug in the test itself: report, store nothing
        raise CliError(EXIT_FAILED, f"the connection test crashed: {type(exc).__name__}: {exc}")

    # Scrubbed, with the canonical fingerprint of the secrets this test ran with (the live gate's).
    record = rules.test_record(conn, result, secrets)
    _print_result(conn, result, io)
    conn.last_test = record
    _save(store, conn)
    return EXIT_OK if result.ok else EXIT_FAILED


def _fmt(value: Any) -> str:
    if value is None or value == {} or value == []:
        return "-"
    if isinstance(value, Mapping):
        return ", ".join(f"{k}: {_fmt(v)}" for k, v in value.items())
    if isinstance(value, (list, tuple, set, frozenset)):
        return ", ".join(_fmt(v) for v in value)
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def _print_result(conn: ConnectionConfig, result: Any, io: _IO) -> None:
    """The test report: the same facts the GUI's test panel shows, one per line."""
    get = lambda name: getattr(result, name, None)  # noqa: E731 - tolerate a result without a field
    verdict = "PASSED" if result.ok else "FAILED"
    io.out(f"{verdict}: {conn.name!r} — {_fmt(get('status'))}")
    if not result.ok:
        io.out(f"  error kind:    {_fmt(get('error_kind'))}")
    latency, offset = get("latency_ms"), get("clock_offset_ms")
    io.out(f"  latency:       {'-' if latency is None else f'{latency:.0f} ms'}")
    io.out(f"  clock offset:  {'-' if offset is None else f'{round(offset):+d} ms (exchange minus this computer)'}")
    perms = get("permissions")
    if isinstance(perms, Mapping):
        granted = [k for k, v in perms.items() if v is True]
        denied = [k for k, v in perms.items() if v is False]
        io.out(f"  permissions:   {', '.join(granted) or 'none'}")
        if denied:
            io.out(f"  not granted:   {', '.join(denied)}")
    else:
        io.out(f"  permissions:   {_fmt(perms)}")
    limits = get("rate_limits")
    if isinstance(limits, Mapping):
        io.out(f"  rate limits:   {_fmt({k: v for k, v in limits.items() if not isinstance(v, (list, dict))})}")
        for key, value in limits.items():
            if isinstance(value, list):
                for item in value:
                    if isinstance(item, Mapping) and {"rateLimitType", "limit"} <= set(item):
                        io.out(f"    {item['rateLimitType']}: {item['limit']} per {item.get('intervalNum', 1)} "
                               f"{str(item.get('interval', '')).lower()}")
                    else:
                        io.out(f"    {key}: {_fmt(item)}")
            elif isinstance(value, Mapping):
                io.out(f"    {key}: {_fmt(value)}")
    else:
        io.out(f"  rate limits:   {_fmt(limits)}")
    caps = get("capabilities")
    if isinstance(caps, Mapping):
        have = [k for k, v in caps.items() if v is True]
        emulated = [k for k, v in caps.items() if v == "emulated"]
        lack = [k for k, v in caps.items() if not v]
        io.out(f"  capabilities:  {', '.join(have) or '-'}")
        if emulated:
            io.out(f"  emulated:      {', '.join(emulated)}")
        if lack:
            io.out(f"  missing:       {', '.join(lack)}")
    else:
        io.out(f"  capabilities:  {_fmt(caps)}")
    balances = get("balances")
    if isinstance(balances, Mapping) and balances:
        io.out("  balances:")
        for asset, amount in balances.items():
            io.out(f"    {asset:<10} {_fmt(amount)}")
    else:
        io.out(f"  balances:      {_fmt(balances)}")
    for warning in get("warnings") or []:
        io.out(f"  warning: {warning}")
    log = get("log") or []
    if log:
        io.out("  requests:")
        for entry in log:
            if isinstance(entry, Mapping) and "request" in entry:
                ms = entry.get("ms")
                took = f" ({ms:.0f} ms)" if isinstance(ms, (int, float)) else ""
                io.out(f"    {entry['request']} -> {entry.get('outcome', '?')}{took}")
            else:
                io.out(f"    {_fmt(entry)}")
    io.out(f"  tested at:     {_fmt_time(get('tested_at')) or '-'}")


if __name__ == "__main__":
    sys.exit(main())
