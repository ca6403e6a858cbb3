"""The connections settings file: first start, round trip, corrupt/newer files, validation, rename."""
from __future__ import annotations

import json
import sys

import pytest

from cts_desktop.store.settings import (
    BUILTIN_PAPER_NAME,
    SETTINGS_VERSION,
    ConnectionConfig,
    SettingsError,
    SettingsStore,
    builtin_paper_connection,
    default_config_dir,
)


def test_first_start_creates_file_with_builtin_paper(tmp_path):
    store = SettingsStore(tmp_path / "cfg").load()
    assert list(store.connections) == [BUILTIN_PAPER_NAME]
    assert store.connections[BUILTIN_PAPER_NAME].builtin
    data = json.loads((tmp_path / "cfg" / "connections.json").read_text())
    assert data["version"] == SETTINGS_VERSION
    assert data["connections"][0]["name"] == BUILTIN_PAPER_NAME


def test_round_trip_keeps_every_field_and_ignores_unknown_keys(tmp_path):
    store = SettingsStore(tmp_path).load()
    conn = ConnectionConfig(
        name="My Binance", exchange="binance", symbols=["BTC/USDT"], market_type="swap", position_mode="hedge",
        testnet=False, api_type="websocket", rate_limit_per_second=8.5, max_concurrency=2, batch_size=500,
        base_url="http://127.0.0.1:8765", enabled=False, strategy_params={"fast": 5}, credential_fields=["apiKey", "secret"],
        last_test={"ok": True, "tested_at": "2024-01-01T00:00:00Z"},
    )
    store.put(conn)
    raw = json.loads(store.path.read_text())
    raw["connections"][1]["from_a_future_version"] = 1
    store.path.write_text(json.dumps(raw))
    again = SettingsStore(tmp_path).load()
    assert again.get("My Binance") == conn
    assert list(again.connections) == [BUILTIN_PAPER_NAME, "My Binance"]


def test_builtin_comes_back_when_missing_from_file(tmp_path):
    (tmp_path / "connections.json").write_text(json.dumps({"version": 1, "connections": [{"name": "x", "exchange": "kraken"}]}))
    store = SettingsStore(tmp_path).load()
    assert set(store.connections) == {"x", BUILTIN_PAPER_NAME}


def test_corrupt_file_is_reported_and_left_untouched(tmp_path):
    path = tmp_path / "connections.json"
    path.write_text("{not json")
    with pytest.raises(SettingsError, match="cannot read connection settings"):
        SettingsStore(tmp_path).load()
    assert path.read_text() == "{not json"


def test_newer_settings_version_is_refused(tmp_path):
    (tmp_path / "connections.json").write_text(json.dumps({"version": SETTINGS_VERSION + 1, "connections": []}))
    with pytest.raises(SettingsError, match="newer CTS Desktop"):
        SettingsStore(tmp_path).load()


def test_unwritable_directory_gives_settings_error(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    with pytest.raises(SettingsError, match="cannot write connection settings"):
        SettingsStore(blocker / "cfg").load()


def test_unknown_connection_lists_known_names(tmp_path):
    store = SettingsStore(tmp_path).load()
    with pytest.raises(KeyError, match="known: Paper - recorded market"):
        store.get("nope")


def test_builtin_cannot_be_removed_or_renamed(tmp_path):
    store = SettingsStore(tmp_path).load()
    with pytest.raises(SettingsError, match="built in"):
        store.remove(BUILTIN_PAPER_NAME)
    with pytest.raises(SettingsError, match="built in"):
        store.rename(BUILTIN_PAPER_NAME, "mine")


def test_rename_keeps_position_and_saves(tmp_path):
    store = SettingsStore(tmp_path).load()
    store.put(ConnectionConfig(name="a", exchange="kraken"))
    store.put(ConnectionConfig(name="b", exchange="binance"))
    store.rename("a", "c")
    again = SettingsStore(tmp_path).load()
    assert list(again.connections) == [BUILTIN_PAPER_NAME, "c", "b"]
    assert again.get("c").exchange == "kraken"
    with pytest.raises(SettingsError, match="already exists"):
        store.rename("c", "b")
    with pytest.raises(SettingsError, match="non-empty"):
        store.rename("c", " c ")
    with pytest.raises(KeyError):
        store.rename("zzz", "y")


def test_remove_deletes_from_file(tmp_path):
    store = SettingsStore(tmp_path).load()
    store.put(ConnectionConfig(name="a", exchange="kraken"))
    store.remove("a")
    assert list(SettingsStore(tmp_path).load().connections) == [BUILTIN_PAPER_NAME]


def test_defaults_and_builtin_validate():
    """A connection with every field at its default, and the built-in one, pass validation (the
    next test breaks one field of such a connection at a time)."""
    for conn in (ConnectionConfig(name="x"), ConnectionConfig(name="x", exchange="paper"), builtin_paper_connection()):
        try:
            conn.validate()
        except SettingsError as exc:
            pytest.fail(f"{conn.name!r} with default fields does not validate: {exc}")
    builtin = builtin_paper_connection()
    assert builtin.name == BUILTIN_PAPER_NAME and builtin.builtin and builtin.is_paper_replay
    assert not builtin.live and builtin.speed == "x1000"


@pytest.mark.parametrize(
    "changes, message",
    [
        ({"name": ""}, "must not be empty"),
        ({"name": " padded"}, "spaces"),
        ({"market_type": "futures"}, "market type"),
        ({"position_mode": "both"}, "position mode"),
        ({"api_type": "fix"}, "API type"),
        ({"rate_limit_per_second": 0}, "rate limit"),
        ({"max_concurrency": 0}, "concurrency"),
        ({"batch_size": 0}, "batch size"),
        ({"base_url": "ftp://x"}, "base URL"),
        ({"speed": "x7"}, "speed"),
        ({"live": True}, "no live mode"),
    ],
)
def test_validate_names_the_bad_field(changes, message):
    conn = ConnectionConfig(name="x", exchange="paper")
    for key, value in changes.items():
        setattr(conn, key, value)
    with pytest.raises(SettingsError, match=message):
        conn.validate()


@pytest.mark.skipif(sys.platform in ("win32", "darwin"),
                    reason="Windows and macOS keep settings in their own folders, not XDG_CONFIG_HOME")
def test_default_config_dir_follows_xdg(monkeypatch, tmp_path):
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    assert default_config_dir() == tmp_path / "cts-desktop"
