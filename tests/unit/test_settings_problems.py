"""A connections.json that is wrong in some way: the message names the field, nothing is dropped,
the hint fits the cause."""
from __future__ import annotations

import errno
import json
import subprocess
import sys

import pytest

from cts_desktop.cli import exit_codes
from cts_desktop.cli.connections_io import settings_failure
from cts_desktop.services import connections as service
from cts_desktop.services.connection_rules import RuleError
from cts_desktop.store.db_check import aside_name, set_aside
from cts_desktop.store.settings import (BUILTIN_PAPER_NAME, ConnectionConfig, SettingsError, SettingsFileError,
                                        SettingsStore)

from tests.conftest import REPO


def write(tmp_path, data) -> None:
    (tmp_path / "connections.json").write_text(json.dumps(data))


@pytest.mark.parametrize("data, needle", [
    ({"version": "1", "connections": []}, '"version" must be a whole number, got the text \'1\''),
    ([1, 2], "expected a JSON object"),
    ({"version": 1, "connections": {"name": "A"}}, '"connections" must be a list, got an object'),
    ({"version": 1, "connections": [{"name": "A"}, ["B", "kraken"]]}, "connection 2 must be an object of fields, got a list"),
    ({"version": 1, "connections": [{"name": 5}]}, "connection 1: field 'name' must be text, got the number 5"),
    ({"version": 1, "connections": [{"name": "A", "testnet": "yes"}]},
     "connection 1 ('A'): field 'testnet' must be true or false, got the text 'yes'"),
    ({"version": 1, "connections": [{"name": "A", "max_concurrency": 2.5}]},
     "connection 1 ('A'): field 'max_concurrency' must be a whole number, got the number 2.5"),
    ({"version": 1, "connections": [{"name": "A", "symbols": "BTC/USDT"}]},
     "connection 1 ('A'): field 'symbols' must be a list, got the text 'BTC/USDT'"),
    ({"version": 1, "connections": [{"name": "A", "symbols": ["BTC/USDT", 3]}]},
     "connection 1 ('A'): field 'symbols' must be a list of texts"),
    ({"version": 1, "connections": [{"name": "A", "fee": "0.1%"}]},
     "connection 1 ('A'): field 'fee' must be a number or null, got the text '0.1%'"),
    ({"version": 1, "connections": [{"name": "A", "risk": []}]},
     "connection 1 ('A'): field 'risk' must be an object, got a list"),
    ({"version": 1, "connections": [{"exchange": "kraken"}]}, "connection 1: field 'name' is missing"),
])
def test_a_wrong_type_is_reported_naming_the_field(tmp_path, data, needle):
    write(tmp_path, data)
    before = (tmp_path / "connections.json").read_text()
    with pytest.raises(SettingsError) as err:
        SettingsStore(tmp_path).load()
    assert needle in str(err.value)
    assert "connections.json" in str(err.value)
    assert (tmp_path / "connections.json").read_text() == before  # left untouched


def test_right_types_still_load(tmp_path):
    write(tmp_path, {"version": 1, "connections": [
        {"name": "A", "exchange": "kraken", "fee": None, "rate_limit_per_second": 5, "starting_balance": 100,
         "symbols": ["BTC/USD"], "extra_strategies": [{"strategy": "rsi_reversion"}], "future_field": [1]}]})
    store = SettingsStore(tmp_path).load()
    assert store.get("A").rate_limit_per_second == 5 and list(store.connections) == ["A", BUILTIN_PAPER_NAME]


def test_two_connections_with_one_name_are_reported_at_load(tmp_path):
    write(tmp_path, {"version": 1, "connections": [{"name": "A", "exchange": "kraken"}, {"name": "B"},
                                                   {"name": "A", "exchange": "binance"}]})
    with pytest.raises(SettingsError, match="connections 1 and 3 are both named 'A'; rename or remove one"):
        SettingsStore(tmp_path).load()


def test_a_taken_name_is_refused_at_save_and_nothing_is_dropped(tmp_path):
    store = SettingsStore(tmp_path).load()
    store.put(ConnectionConfig(name="A", exchange="kraken"))
    with pytest.raises(RuleError, match="already exists"):
        service.add(store, ConnectionConfig(name="A", exchange="binance"))
    with pytest.raises(SettingsError, match="already exists"):
        store.add(ConnectionConfig(name="A", exchange="binance"))
    # a connection kept under another's name (a rename gone wrong) is refused, not written over it
    store.connections["B"] = ConnectionConfig(name="A", exchange="okx")
    with pytest.raises(SettingsError, match="two connections are named 'A'"):
        store.save()
    del store.connections["B"]
    again = SettingsStore(tmp_path).load()
    assert again.get("A").exchange == "kraken" and "B" not in again.connections


def test_a_wrong_type_on_the_command_line_is_a_message_not_a_traceback(tmp_path):
    write(tmp_path, {"version": "1", "connections": []})
    r = subprocess.run([sys.executable, "-m", "cts_desktop", "connections", "list", "--config-dir", str(tmp_path)],
                       capture_output=True, text=True, cwd=REPO, timeout=60)
    assert r.returncode == exit_codes.BAD_INPUT
    assert '"version" must be a whole number' in r.stderr and "Traceback" not in r.stderr
    assert "permissions" not in r.stderr


# -- the hint follows the cause ------------------------------------------------------------------
def test_a_path_through_a_file_gets_the_not_a_folder_hint_not_permissions(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    with pytest.raises(SettingsFileError) as err:
        SettingsStore(blocker / "cfg").load()
    assert err.value.errno == errno.ENOTDIR and not err.value.permission_denied
    message = str(settings_failure(err.value))
    assert "is a file, not a folder" in message and "permissions" not in message


@pytest.mark.parametrize("code, hint, permissions", [
    (errno.EACCES, "Check the directory's permissions", True),
    (errno.EPERM, "Check the directory's permissions", True),
    (errno.EROFS, "read-only", False),
    (errno.ENOENT, "does not exist", False),
    (errno.ENOSPC, "disk is full", False),
    (None, "", False),
])
def test_each_errno_gets_its_own_hint(code, hint, permissions):
    """(A real EACCES cannot be made here: the tests run as root, which passes every permission check.)"""
    failure = str(settings_failure(SettingsFileError("cannot write connection settings in /x: why", code)))
    assert hint in failure
    assert ("permissions" in failure) == permissions


# -- keeping a damaged database aside ------------------------------------------------------------
def test_set_aside_renames_the_database_with_its_wal_and_shm(tmp_path):
    db = tmp_path / "cts-desktop.sqlite3"
    for suffix, content in (("", b"db"), ("-wal", b"wal"), ("-shm", b"shm")):
        (tmp_path / f"{db.name}{suffix}").write_bytes(content)
    when = 1_767_225_600  # 2026-01-01 00:00:00 UTC
    target = set_aside(db, when)
    assert target == aside_name(db, when) == tmp_path / "cts-desktop.sqlite3.damaged-20260101T000000Z"
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "cts-desktop.sqlite3.damaged-20260101T000000Z", "cts-desktop.sqlite3.damaged-20260101T000000Z-shm",
        "cts-desktop.sqlite3.damaged-20260101T000000Z-wal"]
    assert (tmp_path / "cts-desktop.sqlite3.damaged-20260101T000000Z-wal").read_bytes() == b"wal"
