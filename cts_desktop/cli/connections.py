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

Exit codes (:mod:`cts_desktop.cli.exit_codes`): 0 done; 1 refused or failed (test failed, live
switch refused, keyring call failed); 2 bad input (unknown connection or exchange, invalid value,
settings file unreadable, corrupt or not writable); 3 environment (no secure keyring); 130
interrupted.

Standalone: ``python -m cts_desktop.cli.connections [--config-dir DIR] list`` (same commands).
"""
from __future__ import annotations

import argparse
import asyncio
import sys
from dataclasses import fields as dataclass_fields
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional, TextIO

from cts_desktop.services import connection_rules as rules
from cts_desktop.services import connection_tests
from cts_desktop.services import connections as service
from cts_desktop.core.live_gate import confirmation_record
from cts_desktop.services.app_settings import AppSettingsService
from cts_desktop.services.connection_rules import TEST_RELEVANT_FIELDS, required_credentials  # noqa: F401 - re-exported
from cts_desktop.store.secrets import NoSecureKeyringError, SecretStore, mask
from cts_desktop.store.settings import PAPER_EXCHANGE, ConnectionConfig, SettingsError, SettingsStore, default_config_dir

from .connections_args import add_subparser, apply_fields, fill_parser
from .connections_io import (EXIT_ENVIRONMENT, EXIT_FAILED, EXIT_INTERRUPTED, EXIT_OK, EXIT_USAGE, IO, CliError,
                             failures, prompt_secrets, read_secrets_stdin, settings_failure)
from .connections_output import print_list, print_result

__all__ = ["EXIT_OK", "EXIT_FAILED", "EXIT_USAGE", "EXIT_ENVIRONMENT", "CliError", "add_subparser", "run", "main"]


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
    io = IO(stdin or sys.stdin, stdout or sys.stdout, stderr or sys.stderr)
    action = getattr(args, "connections_action", None)
    handler = {"list": _cmd_list, "add": _cmd_add, "edit": _cmd_edit, "remove": _cmd_remove, "test": _cmd_test}.get(action)
    if handler is None:
        io.err(f"unknown connections action {action!r}; use list, add, edit, remove or test")
        return EXIT_USAGE
    try:
        try:
            store = SettingsStore(Path(config_dir)).load()
        except SettingsError as exc:
            raise settings_failure(exc) from None
        return handler(args, store, io)
    except CliError as exc:
        io.err(str(exc))
        return exc.code
    except KeyboardInterrupt:
        io.err("interrupted; nothing more was changed")
        return EXIT_INTERRUPTED


def main(argv: Optional[List[str]] = None) -> int:
    """``python -m cts_desktop.cli.connections [--config-dir DIR] ACTION ...``."""
    parser = argparse.ArgumentParser(
        prog="cts-desktop connections",
        description="Manage exchange connections: settings in connections.json, credentials only in the OS keyring.",
    )
    parser.add_argument("--config-dir", type=Path, default=None,
                        help="directory of connections.json (default: the user's config directory)")
    fill_parser(parser)
    args = parser.parse_args(argv)
    return run(args, config_dir=args.config_dir or default_config_dir())


# --------------------------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------------------------
def _get_conn(store: SettingsStore, name: str) -> ConnectionConfig:
    with failures():
        return service.find(store, name)


def _open_secrets() -> SecretStore:
    try:
        return SecretStore.open()
    except NoSecureKeyringError as exc:
        raise CliError(EXIT_ENVIRONMENT, str(exc)) from None


def _validate(conn: ConnectionConfig) -> None:
    try:
        conn.validate()
    except SettingsError as exc:
        raise CliError(EXIT_USAGE, str(exc)) from None


def _testnet_warning(conn: ConnectionConfig) -> Optional[str]:
    """A note when testnet is on but ccxt knows no sandbox URL for the exchange (and none is given)."""
    warning = rules.testnet_warning(conn)
    return f"note: {warning}".replace("give a base URL", "give --base-url").replace("turn testnet off", "use --no-testnet") \
        if warning else None


# --------------------------------------------------------------------------------------------
# commands
# --------------------------------------------------------------------------------------------
def _cmd_list(args, store: SettingsStore, io: IO) -> int:
    print_list(list(store.connections.values()), io, args.json)
    return EXIT_OK


def _cmd_add(args, store: SettingsStore, io: IO) -> int:
    name = args.name
    if name in store.connections:
        raise CliError(EXIT_USAGE, f"a connection called {name!r} already exists; change it with `connections edit`")
    if args.exchange is None:
        raise CliError(EXIT_USAGE, "--exchange is required (a ccxt exchange id, or 'paper')")
    conn = ConnectionConfig(name=name)
    with failures():  # an unknown exchange is refused here, with the close matches
        conn.exchange = rules.check_exchange(args.exchange)
        service.apply_defaults(conn, AppSettingsService(store.config_dir))  # Settings > new connections
    apply_fields(conn, args)  # what was typed wins over the defaults
    _validate(conn)

    secrets: Dict[str, str] = {}
    if conn.exchange == PAPER_EXCHANGE:
        if args.secrets_stdin or args.credentials:
            raise CliError(EXIT_USAGE, service.PAPER_NO_CREDENTIALS)
    elif args.secrets_stdin:
        secrets = read_secrets_stdin(io)
    elif not args.no_credentials:
        secrets = prompt_secrets(io, conn.exchange, required_credentials(conn.exchange), keep_hint=False)
    with failures():
        service.check_credentials(conn.exchange, secrets)
    keyring = _open_secrets() if secrets else None
    with failures():
        service.add(store, conn, keyring, secrets)
    creds = ", ".join(f"{f} {mask(secrets[f], f)}" for f in sorted(secrets)) or "none (public market data only)"
    warning = _testnet_warning(conn)
    if warning:
        io.out(warning)
    io.out(f"added {name!r}: {rules.venue(conn)}; credentials: {creds}; paper trading until tested and switched live")
    return EXIT_OK


def _new_secrets(args, io: IO, exchange: str, current: Dict[str, str]) -> Dict[str, str]:
    """The credentials after this edit: cleared, or the stored ones with the entered ones over them."""
    if args.clear_credentials:
        return {}
    if args.secrets_stdin:
        return {**current, **read_secrets_stdin(io)}
    if args.credentials:
        return {**current, **prompt_secrets(io, exchange, required_credentials(exchange), keep_hint=True)}
    return dict(current)


def _cmd_edit(args, store: SettingsStore, io: IO) -> int:
    conn = _get_conn(store, args.name)
    before = ConnectionConfig.from_json(conn.to_json())
    edited = ConnectionConfig.from_json(conn.to_json())
    if args.new_name is not None:
        with failures():
            service.check_rename(store, conn, args.new_name)
    apply_fields(edited, args)
    if args.new_name is not None:
        edited.name = args.new_name
    edited.live = False if args.live is False else before.live
    _validate(edited)

    # Credentials: work out the new set before touching anything.
    renamed = edited.name != before.name
    if edited.exchange == PAPER_EXCHANGE and (args.secrets_stdin or args.credentials):
        raise CliError(EXIT_USAGE, service.PAPER_NO_CREDENTIALS)
    wants_creds = bool(args.secrets_stdin or args.credentials or args.clear_credentials)
    keyring: Optional[SecretStore] = None
    current: Dict[str, str] = {}
    if before.credential_fields and (wants_creds or renamed or args.live):
        keyring = _open_secrets()
        with failures():
            current = keyring.get_all(before.name, before.credential_fields)
        io.scrub_values.extend(current.values())
    loaded = keyring is not None  # False: the secrets stay as they are and were not read
    final = _new_secrets(args, io, edited.exchange, current)
    final_fields = sorted(final) if (loaded or wants_creds) else sorted(before.credential_fields)
    try:
        service.check_credentials(edited.exchange, final_fields)
    except rules.RuleError as exc:
        hint = "; add --clear-credentials" if edited.exchange == PAPER_EXCHANGE else ""
        raise CliError(EXIT_USAGE, f"{exc}{hint}") from None

    creds_changed = wants_creds and final != current
    venue_changed = [f for f in TEST_RELEVANT_FIELDS if getattr(before, f) != getattr(edited, f)]
    note = rules.invalidate_test(before, edited, creds_changed)

    # Live switch: judged on the state after this edit.
    if args.live:
        typed = _live_gate(edited, final, io)
        edited.live = True
        edited.live_confirmation = confirmation_record(edited, final, typed)  # the engine checks it at start
    elif not edited.live:
        edited.live_confirmation = {}

    # Keyring first (undone if the settings file cannot be written), then the file.
    if keyring is None and final:
        keyring = _open_secrets()
    edited.credential_fields = final_fields
    with failures():
        service.store_connection(store, edited, old_name=before.name, keyring=keyring, current=current, final=final)

    warning = _testnet_warning(edited) if venue_changed else None
    for line in ([note] if note else []) + ([warning] if warning else []):
        io.out(line)
    changed = [f.name for f in dataclass_fields(before) if getattr(before, f.name) != getattr(edited, f.name)
               and f.name not in ("last_test", "credential_fields")]
    if creds_changed:
        changed.append("credentials")
    io.out(f"updated {edited.name!r}: " + (", ".join(c.replace("_", " ") for c in changed) if changed else "nothing changed"))
    if edited.live and not before.live:
        io.out(f"{edited.name!r} is LIVE: real orders will be sent to {rules.venue(edited)} when it runs")
    return EXIT_OK


_LIVE_HINTS = {
    "no-credentials": "; add them with `connections edit {name!r} --credentials`, then test",
    "untested": "; run `cts-desktop connections test {name!r}` first",
    "failed": "; fix it and test again",
    "changed": "; test again",
}


def _live_gate(conn: ConnectionConfig, secrets: Mapping[str, str], io: IO) -> str:
    """Refuse (CliError, EXIT_FAILED) unless tested ok with these secrets and confirmed by name;
    returns what was typed."""
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
    return answer.strip()


def _cmd_remove(args, store: SettingsStore, io: IO) -> int:
    conn = _get_conn(store, args.name)
    with failures():
        removed = service.remove(store, conn.name, _open_secrets)
    tail = f" and its keyring entries ({', '.join(removed)})" if removed else ""
    io.out(f"removed {conn.name!r}{tail}")
    return EXIT_OK


def _cmd_test(args, store: SettingsStore, io: IO) -> int:
    conn = _get_conn(store, args.name)
    secrets: Dict[str, str] = {}
    if conn.credential_fields:
        keyring = _open_secrets()
        with failures():
            secrets = keyring.get_all(conn.name, conn.credential_fields)
        io.scrub_values.extend(secrets.values())
        missing = [f for f in conn.credential_fields if f not in secrets]
        if missing:
            io.out(f"warning: the keyring has no {', '.join(missing)} for {conn.name!r}; "
                   f"set them with `connections edit {conn.name!r} --credentials`")
    try:
        connection_tests.load()
    except ImportError as exc:
        raise CliError(EXIT_FAILED, f"the connection test is not available in this build ({exc})") from None

    def on_progress(text: Any = "", fraction: Any = None, *_: Any, **__: Any) -> None:
        done = f" ({fraction:.0%})" if isinstance(fraction, (int, float)) and 0 <= fraction <= 1 else ""
        io.out(f"  … {text}{done}")

    io.out(f"testing {conn.name!r} ({rules.venue(conn)}{', ' + conn.base_url if conn.base_url else ''}) …")
    try:
        result = asyncio.run(connection_tests.run(conn, secrets, timeout=args.timeout, on_progress=on_progress))
    except Exception as exc:  # noqa: BLE001 - a bug in the test itself: reported, nothing stored
        raise CliError(EXIT_FAILED, f"the connection test crashed: {type(exc).__name__}: {exc}") from None

    # Scrubbed, with the canonical fingerprint of the secrets this test ran with (the live gate's).
    record = rules.test_record(conn, result, secrets)
    print_result(conn, result, io)
    with failures():
        connection_tests.keep(store, conn, record)
    return EXIT_OK if result.ok else EXIT_FAILED


if __name__ == "__main__":
    sys.exit(main())
