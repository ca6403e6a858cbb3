"""``cts-desktop connections ...`` driven through :func:`cli_connections.run` (parsed by the same
``add_subparser`` the app uses) and through ``python -m cts_desktop.cli.connections``.

Tests that store credentials are marked ``keyring`` and run only inside the private keyring of
``tests/keyring_session.sh`` (skipped otherwise, with the reason)::

    tests/keyring_session.sh python -m pytest tests/integration/test_cli_connections.py
"""
from __future__ import annotations

import argparse
import io
import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from cts_desktop.cli import connections as cli_connections
from cts_desktop.cli.connections import EXIT_FAILED, EXIT_OK, EXIT_USAGE
from cts_desktop.store.secrets import SecretStore, credentials_fingerprint
from cts_desktop.store.settings import BUILTIN_PAPER_NAME, SettingsStore

REPO = Path(__file__).resolve().parents[2]


from tests.keyring_marks import _SKIP, keyring_test  # noqa: F401,E402


class Result:
    def __init__(self, code, out, err):
        self.code, self.out, self.err = code, out, err

    @property
    def text(self):
        return self.out + self.err

    def __repr__(self):
        return f"exit {self.code}\n--- stdout\n{self.out}--- stderr\n{self.err}"


@pytest.fixture
def config(tmp_path):
    return tmp_path / "config"


@pytest.fixture
def cli(config):
    """cli(*argv, stdin="") -> Result, in-process, argv after ``connections``."""

    def call(*argv, stdin=""):
        parser = argparse.ArgumentParser(prog="cts-desktop")
        cli_connections.add_subparser(parser.add_subparsers(dest="command"))
        args = parser.parse_args(["connections", *argv])
        assert args.cts_command == "connections"
        out, err = io.StringIO(), io.StringIO()
        code = cli_connections.run(args, config_dir=config, stdin=io.StringIO(stdin), stdout=out, stderr=err)
        return Result(code, out.getvalue(), err.getvalue())

    return call


@pytest.fixture
def keyring_names():
    """Connection names used by a test; their keyring entries are removed afterwards."""
    names = []
    yield names
    if _SKIP is None:
        store = SecretStore.open()
        for name in names:
            store.delete_connection(name)


def settings(config) -> SettingsStore:
    return SettingsStore(config).load()


def unique(prefix="Conn"):
    return f"{prefix} {uuid.uuid4().hex[:8]}"


def fake(tag):
    return f"CTSTEST{tag}{uuid.uuid4().hex}"


# -------------------------------------------------------------------------------------------
# no keyring needed
# -------------------------------------------------------------------------------------------
def test_list_on_first_start_shows_builtin_paper(cli, config):
    r = cli("list")
    assert r.code == EXIT_OK, r
    header, row = r.out.splitlines()
    assert header.split()[:2] == ["NAME", "EXCHANGE"] and "LAST TEST" in header
    assert row.startswith(BUILTIN_PAPER_NAME) and "never tested" in row
    assert (config / "connections.json").exists()


def test_add_public_data_connection_and_edit_every_field(cli, config):
    r = cli("add", "Kraken data", "--exchange", "Kraken", "--no-credentials", "--symbols", "BTC/USD, ETH/USD")
    assert r.code == EXIT_OK, r
    assert "no testnet" in r.out  # kraken has no sandbox in ccxt
    r = cli("edit", "Kraken data", "--market-type", "futures", "--position-mode", "hedge", "--no-testnet",
            "--api-type", "websocket", "--rate-limit", "7.5", "--max-concurrency", "2", "--batch-size", "250",
            "--base-url", "http://127.0.0.1:9", "--disabled", "--speed", "x10", "--starting-balance", "5000",
            "--fee", "0.0004", "--strategy", "ma_cross", "--param", "fast=5", "--param", "label=abc",
            "--max-position-fraction", "0.25", "--max-open-positions", "2")
    assert r.code == EXIT_OK, r
    c = settings(config).get("Kraken data")
    assert (c.exchange, c.market_type, c.position_mode, c.testnet, c.api_type) == ("kraken", "swap", "hedge", False, "websocket")
    assert (c.rate_limit_per_second, c.max_concurrency, c.batch_size, c.base_url) == (7.5, 2, 250, "http://127.0.0.1:9")
    assert (c.enabled, c.speed, c.starting_balance, c.fee, c.strategy) == (False, "x10", 5000.0, 0.0004, "ma_cross")
    assert c.strategy_params == {"fast": 5, "label": "abc"}
    assert c.risk == {"max_position_fraction": 0.25, "max_open_positions": 2}
    assert c.symbols == ["BTC/USD", "ETH/USD"] and c.credential_fields == [] and not c.live

    r = cli("edit", "Kraken data", "--rate-limit", "auto", "--fee", "auto", "--base-url", "", "--enabled")
    assert r.code == EXIT_OK, r
    c = settings(config).get("Kraken data")
    assert (c.rate_limit_per_second, c.fee, c.base_url, c.enabled) == (None, None, "", True)
    listing = cli("list").out
    assert "Kraken data" in listing and "swap" in listing


def test_unknown_exchange_suggests_close_matches(cli, config):
    r = cli("add", "X", "--exchange", "binanse", "--no-credentials")
    assert r.code == EXIT_USAGE
    assert "unknown exchange 'binanse'" in r.err and "Did you mean binance" in r.err
    assert "X" not in settings(config).connections


def test_unknown_connection_is_named_with_suggestions(cli):
    cli("add", "My Kraken", "--exchange", "kraken", "--no-credentials")
    for action in (["edit", "My Krakn", "--disabled"], ["remove", "My Krakn"], ["test", "My Krakn"]):
        r = cli(*action)
        assert r.code == EXIT_USAGE, r
        assert "unknown connection 'My Krakn'" in r.err and "Did you mean 'My Kraken'" in r.err


def test_invalid_values_are_refused_before_saving(cli, config):
    assert cli("add", "A", "--exchange", "kraken", "--no-credentials", "--base-url", "ftp://x").code == EXIT_USAGE
    assert cli("add", "A", "--exchange", "kraken", "--no-credentials", "--max-concurrency", "0").code == EXIT_USAGE
    assert cli("add", "A", "--exchange", "kraken", "--no-credentials", "--rate-limit", "fast").code == EXIT_USAGE
    assert cli("add", " A", "--exchange", "kraken", "--no-credentials").code == EXIT_USAGE
    assert set(settings(config).connections) == {BUILTIN_PAPER_NAME}
    assert cli("add", "A", "--exchange", "kraken", "--no-credentials").code == EXIT_OK
    r = cli("add", "A", "--exchange", "kraken", "--no-credentials")
    assert r.code == EXIT_USAGE and "already exists" in r.err


def test_secrets_cannot_be_given_as_arguments(cli):
    for flag in ("--apiKey", "--api-key", "--secret", "--password"):
        with pytest.raises(SystemExit) as exc:
            cli("add", "A", "--exchange", "binance", flag, "abc")
        assert exc.value.code == 2


def test_add_without_terminal_asks_for_stdin(cli, config):
    r = cli("add", "A", "--exchange", "binance")
    assert r.code == EXIT_USAGE and "--secrets-stdin" in r.err
    assert "A" not in settings(config).connections


def test_paper_connections_take_no_credentials_and_builtin_stays(cli):
    r = cli("add", "Replay", "--exchange", "paper", "--secrets-stdin", stdin="apiKey=x\n")
    assert r.code == EXIT_USAGE and "takes no credentials" in r.err
    r = cli("remove", BUILTIN_PAPER_NAME)
    assert r.code == EXIT_USAGE and "built in" in r.err
    r = cli("edit", BUILTIN_PAPER_NAME, "--new-name", "mine")
    assert r.code == EXIT_USAGE and "built in" in r.err
    r = cli("edit", BUILTIN_PAPER_NAME, "--live", stdin=BUILTIN_PAPER_NAME + "\n")
    assert r.code == EXIT_USAGE and "no live mode" in r.err
    assert BUILTIN_PAPER_NAME in cli("list").out


def test_live_refused_without_credentials_and_no_live_always_allowed(cli, config):
    cli("add", "Public", "--exchange", "binance", "--no-credentials")
    r = cli("edit", "Public", "--live", stdin="Public\n")
    assert r.code == EXIT_FAILED and "refused" in r.err and "no credentials" in r.err
    assert not settings(config).get("Public").live
    r = cli("edit", "Public", "--no-live")
    assert r.code == EXIT_OK, r


def test_remove_connection_without_credentials(cli, config):
    cli("add", "Gone", "--exchange", "kraken", "--no-credentials")
    r = cli("remove", "Gone")
    assert r.code == EXIT_OK and "removed 'Gone'" in r.out
    assert "Gone" not in settings(config).connections


def test_settings_dir_unwritable(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    proc = subprocess.run([sys.executable, "-m", "cts_desktop.cli.connections", "--config-dir", str(blocker / "cfg"), "list"],
                          capture_output=True, text=True, cwd=REPO, timeout=60)
    assert proc.returncode == EXIT_USAGE  # an unusable directory is bad input (exit_codes.BAD_INPUT)
    assert "cannot write connection settings" in proc.stderr and "--config-dir" in proc.stderr
    assert "is a file, not a folder" in proc.stderr and "permissions" not in proc.stderr
    assert "Traceback" not in proc.stderr


def test_corrupt_settings_file_is_reported(cli, config):
    config.mkdir(parents=True)
    (config / "connections.json").write_text("{broken")
    r = cli("list")
    assert r.code == EXIT_USAGE and "cannot read connection settings" in r.err and "permissions" not in r.err


def test_module_entry_point_runs_list(config):
    proc = subprocess.run([sys.executable, "-m", "cts_desktop.cli.connections", "--config-dir", str(config), "list", "--json"],
                          capture_output=True, text=True, cwd=REPO, timeout=60)
    assert proc.returncode == 0, proc.stderr
    rows = json.loads(proc.stdout)
    assert rows[0]["name"] == BUILTIN_PAPER_NAME and rows[0]["builtin"]


# -------------------------------------------------------------------------------------------
# with the real keyring
# -------------------------------------------------------------------------------------------
def _store_passing_test(config, name, secrets):
    """Record a passing connection test for the given secrets, as `connections test` would."""
    store = settings(config)
    conn = store.get(name)
    conn.last_test = {"ok": True, "status": "ok", "tested_at": "2024-05-01T12:00:00Z",
                      "credentials_fingerprint": credentials_fingerprint(name, secrets)}
    store.put(conn)


@keyring_test
def test_add_with_stdin_secrets_list_and_remove(cli, config, keyring_names):
    name = unique("My Binance")
    keyring_names.append(name)
    key, secret = fake("key"), fake("sec")
    r = cli("add", name, "--exchange", "binance", "--market-type", "swap", "--secrets-stdin",
            stdin=f"# my keys\n\napiKey = {key}\nsecret={secret}  \n")
    assert r.code == EXIT_OK, r
    assert key not in r.text and secret not in r.text and key[:4] + "…" in r.out
    conn = settings(config).get(name)
    assert conn.credential_fields == ["apiKey", "secret"]
    assert SecretStore.open().get_all(name, ["apiKey", "secret"]) == {"apiKey": key, "secret": secret}
    file_text = (config / "connections.json").read_text()
    assert key not in file_text and secret not in file_text

    listing = cli("list")
    assert name in listing.out and key not in listing.text and key[:4] not in listing.out

    r = cli("remove", name)
    assert r.code == EXIT_OK and "apiKey" in r.out
    assert SecretStore.open().get_all(name, ["apiKey", "secret"]) == {}
    assert name not in settings(config).connections


@keyring_test
def test_add_refuses_incomplete_credentials(cli, config, keyring_names):
    name = unique("Okx")
    keyring_names.append(name)
    r = cli("add", name, "--exchange", "okx", "--secrets-stdin", stdin=f"apiKey={fake('k')}\nsecret={fake('s')}\n")
    assert r.code == EXIT_USAGE and "missing: password" in r.err
    assert name not in settings(config).connections
    assert SecretStore.open().get_all(name, ["apiKey", "secret"]) == {}
    r = cli("add", name, "--exchange", "binance", "--secrets-stdin", stdin="apiKey=\n")
    assert r.code == EXIT_USAGE and "empty" in r.err


@keyring_test
def test_live_switch_needs_a_passing_test_of_current_keys_and_confirmation(cli, config, keyring_names):
    name = unique("Live")
    keyring_names.append(name)
    secrets = {"apiKey": fake("key"), "secret": fake("sec")}
    stdin = "".join(f"{k}={v}\n" for k, v in secrets.items())
    assert cli("add", name, "--exchange", "binance", "--secrets-stdin", stdin=stdin).code == EXIT_OK

    r = cli("edit", name, "--live", stdin=name + "\n")
    assert r.code == EXIT_FAILED and "has not been tested" in r.err

    store = settings(config)
    conn = store.get(name)
    conn.last_test = {"ok": False, "error_kind": "auth", "credentials_fingerprint": credentials_fingerprint(name, secrets)}
    store.put(conn)
    r = cli("edit", name, "--live", stdin=name + "\n")
    assert r.code == EXIT_FAILED and "failed (auth)" in r.err

    # A passing test, but made with other keys.
    _store_passing_test(config, name, {**secrets, "secret": "something else"})
    r = cli("edit", name, "--live", stdin=name + "\n")
    assert r.code == EXIT_FAILED and "changed since the last passing test" in r.err

    _store_passing_test(config, name, secrets)
    r = cli("edit", name, "--live", stdin="yes\n")
    assert r.code == EXIT_FAILED and "NOT switched on" in r.err
    assert "binance" in r.out and "REAL ORDERS" in r.out and "account" in r.out
    r = cli("edit", name, "--live", stdin="")
    assert r.code == EXIT_FAILED
    assert not settings(config).get(name).live

    r = cli("edit", name, "--live", stdin=name + "\n")
    assert r.code == EXIT_OK, r
    confirmation = settings(config).get(name).live_confirmation  # recorded for the engine's own gate
    assert confirmation["typed"] == name and confirmation["credentials_fingerprint"] == credentials_fingerprint(name, secrets)
    assert "is LIVE" in r.out
    assert settings(config).get(name).live
    assert "LIVE" in cli("list").out

    # New credentials: the test no longer applies, live goes off.
    r = cli("edit", name, "--secrets-stdin", stdin=f"secret={fake('new')}\n")
    assert r.code == EXIT_OK, r
    assert "live trading switched OFF" in r.out
    conn = settings(config).get(name)
    assert not conn.live and conn.last_test == {}

    _store_passing_test(config, name, SecretStore.open().get_all(name, ["apiKey", "secret"]))
    assert cli("edit", name, "--live", stdin=name + "\n").code == EXIT_OK
    assert cli("edit", name, "--no-live").code == EXIT_OK
    assert not settings(config).get(name).live


@keyring_test
def test_same_credentials_reentered_keep_the_test(cli, config, keyring_names):
    name = unique("Same")
    keyring_names.append(name)
    secrets = {"apiKey": fake("key"), "secret": fake("sec")}
    stdin = "".join(f"{k}={v}\n" for k, v in secrets.items())
    cli("add", name, "--exchange", "binance", "--secrets-stdin", stdin=stdin)
    _store_passing_test(config, name, secrets)
    assert cli("edit", name, "--secrets-stdin", stdin=stdin).code == EXIT_OK
    assert settings(config).get(name).last_test["ok"]
    # Changing the venue does clear it.
    r = cli("edit", name, "--no-testnet")
    assert r.code == EXIT_OK and "connection test cleared: testnet changed" in r.out
    conn = settings(config).get(name)
    assert conn.last_test == {} and conn.credential_fields == ["apiKey", "secret"]
    assert SecretStore.open().get_all(name, ["apiKey", "secret"]) == secrets


@keyring_test
def test_rename_moves_secrets_and_clear_credentials(cli, config, keyring_names):
    old, new = unique("Old"), unique("New")
    keyring_names += [old, new]
    key, secret = fake("key"), fake("sec")
    cli("add", old, "--exchange", "binance", "--secrets-stdin", stdin=f"apiKey={key}\nsecret={secret}\n")
    r = cli("edit", old, "--new-name", new)
    assert r.code == EXIT_OK, r
    ks = SecretStore.open()
    assert ks.get_all(new, ["apiKey", "secret"]) == {"apiKey": key, "secret": secret}
    assert ks.get_all(old, ["apiKey", "secret"]) == {}
    assert new in settings(config).connections and old not in settings(config).connections

    r = cli("edit", new, "--exchange", "okx")
    assert r.code == EXIT_USAGE and "missing: password" in r.err
    r = cli("edit", new, "--clear-credentials")
    assert r.code == EXIT_OK, r
    assert ks.get_all(new, ["apiKey", "secret"]) == {}
    assert settings(config).get(new).credential_fields == []


@keyring_test
def test_subprocess_add_with_secrets_on_stdin(config, keyring_names):
    name = unique("Sub")
    keyring_names.append(name)
    key, secret = fake("key"), fake("sec")
    proc = subprocess.run(
        [sys.executable, "-m", "cts_desktop.cli.connections", "--config-dir", str(config), "add", name,
         "--exchange", "binance", "--secrets-stdin"],
        input=f"apiKey={key}\nsecret={secret}\n", capture_output=True, text=True, cwd=REPO, timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    assert key not in proc.stdout + proc.stderr
    assert SecretStore.open().get(name, "secret") == secret


@keyring_test
def test_connection_test_against_local_venue(cli, config, keyring_names):
    """`connections test` through the real ccxt client against tests/venue (no network)."""
    from tests.venue.harness import Venue

    name = unique("Venue")
    keyring_names.append(name)
    key, secret = "ctsVenueKey" + uuid.uuid4().hex[:12], "ctsVenueSecret" + uuid.uuid4().hex
    with Venue() as venue:
        venue.add_account(key, secret, {"USDT": 1000, "BTC": 0.5})
        r = cli("add", name, "--exchange", "binance", "--base-url", venue.base_url,
                "--secrets-stdin", stdin=f"apiKey={key}\nsecret={secret}\n")
        assert r.code == EXIT_OK, r
        r = cli("test", name, "--timeout", "20")
        assert r.code == EXIT_OK, r
        assert "PASSED" in r.out and secret not in r.text
        conn = settings(config).get(name)
        assert conn.last_test.get("ok") is True
        assert conn.last_test.get("credentials_fingerprint") == credentials_fingerprint(name, {"apiKey": key, "secret": secret})
        assert cli("edit", name, "--live", stdin=name + "\n").code == EXIT_OK

        # A wrong secret: the test fails, exits non-zero, and the failure is stored.
        r = cli("edit", name, "--secrets-stdin", stdin=f"secret=wrong{uuid.uuid4().hex}\n")
        assert r.code == EXIT_OK and "switched OFF" in r.out
        r = cli("test", name, "--timeout", "20")
        assert r.code == EXIT_FAILED, r
        assert "FAILED" in r.out
        assert settings(config).get(name).last_test.get("ok") is False
    assert secret not in (config / "connections.json").read_text()


def _run_on_pty(argv, answers, timeout=60.0):
    """Run argv with a pseudo-terminal as stdin/stdout/stderr; answer each prompt (a line
    ending in ': ') with the next of ``answers``. Returns (exit code, everything the terminal showed)."""
    import pty
    import select
    import time

    master, slave = pty.openpty()
    proc = subprocess.Popen(argv, stdin=slave, stdout=slave, stderr=slave, cwd=REPO, start_new_session=True)
    os.close(slave)
    shown, pending, deadline = b"", list(answers), time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([master], [], [], 0.2)
            if ready:
                try:
                    chunk = os.read(master, 4096)
                except OSError:  # EIO: the child closed the terminal
                    break
                if not chunk:
                    break
                shown += chunk
                if pending and shown.rstrip(b" ").endswith(b":"):
                    os.write(master, pending.pop(0).encode() + b"\n")
            elif proc.poll() is not None:
                break
        return proc.wait(timeout=max(1.0, deadline - time.monotonic())), shown.decode(errors="replace")
    finally:
        os.close(master)
        if proc.poll() is None:
            proc.kill()


@keyring_test
@pytest.mark.skipif(sys.platform == "win32", reason="pseudo-terminals are POSIX")
def test_add_prompts_hidden_on_a_terminal(config, keyring_names):
    name = unique("Tty")
    keyring_names.append(name)
    key, secret = fake("key"), fake("sec")
    code, shown = _run_on_pty(
        [sys.executable, "-m", "cts_desktop.cli.connections", "--config-dir", str(config), "add", name, "--exchange", "binance"],
        [key, secret],
    )
    assert code == 0, shown
    assert "binance apiKey" in shown and "binance secret" in shown
    assert key not in shown and secret not in shown, "the prompt must not echo"
    assert SecretStore.open().get_all(name, ["apiKey", "secret"]) == {"apiKey": key, "secret": secret}


def test_add_takes_the_new_connection_defaults_from_settings(cli, config):
    """Settings > default paper balance / rate limit reach `connections add` as they reach the GUI's Add
    (one service function); an option typed on the command line still wins."""
    config.mkdir(parents=True, exist_ok=True)
    (config / "settings.json").write_text(json.dumps({"version": 1, "default_paper_balance": 2500}), encoding="utf-8")
    assert cli("add", "P1", "--exchange", "paper").code == 0
    assert cli("add", "B1", "--exchange", "binance", "--no-credentials").code == 0
    assert cli("add", "B2", "--exchange", "binance", "--no-credentials", "--starting-balance", "750").code == 0
    saved = {c["name"]: c for c in json.loads((config / "connections.json").read_text(encoding="utf-8"))["connections"]}
    assert saved["P1"]["starting_balance"] == 2500.0
    assert saved["B1"]["starting_balance"] == 2500.0
    assert saved["B1"]["rate_limit_per_second"] is None  # binance declares its own rate limit in ccxt
    assert saved["B2"]["starting_balance"] == 750.0
