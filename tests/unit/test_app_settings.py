"""The app's preferences (settings.json) and the notifier that sums up bursts: real files in a
temporary config directory, the real ccxt exchange classes (constructed offline)."""
from __future__ import annotations

import json

import pytest

from cts_desktop.core import events as ev
from cts_desktop.core.models import Fill
from cts_desktop.services import AppServices
from cts_desktop.services import connections as conn_service
from cts_desktop.services.app_settings import DEFAULTS, FIELDS, AppSettingsError, AppSettingsService, check
from cts_desktop.services.notifications import Notice, Notifier, notice_of
from cts_desktop.store import paths
from cts_desktop.store.app_settings import APP_SETTINGS_VERSION
from cts_desktop.store.settings import ConnectionConfig, SettingsError


def read(config):
    return json.loads((config / "settings.json").read_text(encoding="utf-8"))


# -- the file and the validation ------------------------------------------------------------------
def test_first_start_has_every_default_and_each_field_a_unit_or_kind_and_help(tmp_path):
    s = AppSettingsService(tmp_path)
    assert s.values == DEFAULTS
    assert s["kill_flattens"] is True and s["confirm_live_orders"] is True
    assert s["theme"] == "dark" and s.poll_interval() is None
    for f in FIELDS:
        assert f.help and f.label
        assert f.unit or f.kind in ("bool", "choice"), f.key
    assert not (tmp_path / "settings.json").exists()  # nothing written until something changes


def test_update_saves_atomically_versioned_and_keeps_unknown_keys(tmp_path):
    (tmp_path / "settings.json").write_text(json.dumps({"version": 1, "from_a_newer_app": {"x": 1}, "theme": "light"}))
    s = AppSettingsService(tmp_path)
    assert s["theme"] == "light"
    assert s.update({"ui_refresh_ms": 250, "poll_interval_s": 3}) == ["ui_refresh_ms", "poll_interval_s"]
    data = read(tmp_path)
    assert data["version"] == APP_SETTINGS_VERSION
    assert data["from_a_newer_app"] == {"x": 1}
    assert data["ui_refresh_ms"] == 250 and data["poll_interval_s"] == 3.0 and data["theme"] == "light"
    assert [p.name for p in tmp_path.iterdir()] == ["settings.json"]  # no temp file left behind
    assert AppSettingsService(tmp_path).values == s.values
    assert s.update({"ui_refresh_ms": 250}) == []  # no change, nothing saved


def test_a_newer_files_version_and_keys_survive_a_save(tmp_path):
    (tmp_path / "settings.json").write_text(json.dumps({"version": APP_SETTINGS_VERSION + 1, "new_thing": True}))
    s = AppSettingsService(tmp_path)
    s.update({"theme": "system"})
    data = read(tmp_path)
    assert data["version"] == APP_SETTINGS_VERSION + 1 and data["new_thing"] is True and data["theme"] == "system"


@pytest.mark.parametrize("key, value, words", [
    ("ui_refresh_ms", 5, "UI refresh interval: must be between 20 and 2000 ms"),
    ("ui_refresh_ms", 100.5, "UI refresh interval: must be a whole number of ms"),
    ("poll_interval_s", 0.1, "REST polling interval: must be between 0.5 and 300 s (or 0 = automatic)"),
    ("poll_interval_s", "soon", "REST polling interval: 'soon' is not a number"),
    ("default_rate_limit", 0, "Default rate limit: must be between 0.1 and 1000 requests / s"),
    ("default_paper_balance", -5, "Default paper balance: must be between 1 and 1e+12 USD"),
    ("theme", "pink", "Theme: 'pink' is not one of dark, light, system"),
    ("notify_fills", "maybe", "Fills: must be on or off"),
    ("database_dir", "relative/dir", "Database folder: 'relative/dir' must be an absolute path"),
    ("nonsense", 1, "unknown setting 'nonsense'"),
])
def test_refused_values_name_the_field_and_change_nothing(tmp_path, key, value, words):
    s = AppSettingsService(tmp_path)
    with pytest.raises(AppSettingsError) as err:
        s.update({"theme": "light", key: value})
    assert words in str(err.value)
    assert err.value.field == key
    assert s.values == DEFAULTS and not (tmp_path / "settings.json").exists()


def test_a_file_is_not_a_database_folder_and_command_line_words_are_understood(tmp_path):
    a_file = tmp_path / "x.txt"
    a_file.write_text("x")
    with pytest.raises(AppSettingsError, match="is a file, not a folder"):
        check("database_dir", str(a_file))
    assert check("database_dir", str(tmp_path / "new")) == str(tmp_path / "new")  # created at the next start
    assert check("database_dir", "  ") == ""
    assert check("notify_fills", "off") is False and check("kill_flattens", "yes") is True
    assert check("ui_refresh_ms", "250") == 250 and check("poll_interval_s", "0") == 0.0
    assert check("theme", " Light ") == "light"


def test_a_bad_value_in_the_file_falls_back_to_its_default_and_is_reported(tmp_path):
    (tmp_path / "settings.json").write_text(json.dumps({"version": 1, "ui_refresh_ms": -3, "theme": "light"}))
    s = AppSettingsService(tmp_path)
    assert s["ui_refresh_ms"] == 100 and s["theme"] == "light"
    assert len(s.problems) == 1 and "UI refresh interval" in s.problems[0]


def test_a_corrupt_file_is_refused_with_its_path_and_left_alone(tmp_path):
    (tmp_path / "settings.json").write_text("{not json")
    with pytest.raises(SettingsError, match="cannot read the app settings .*settings.json"):
        AppSettingsService(tmp_path)
    assert (tmp_path / "settings.json").read_text() == "{not json"


def test_listeners_hear_of_changes_and_the_database_folder_needs_a_restart(tmp_path):
    s = AppSettingsService(tmp_path)
    heard = []
    unsubscribe = s.subscribe(lambda values, changed: heard.append((values["theme"], changed)))
    changed = s.update({"theme": "light", "database_dir": str(tmp_path / "db")})
    assert heard == [("light", ["theme", "database_dir"])]
    assert s.needs_restart(changed) == ["Database folder"]
    unsubscribe()
    s.update({"theme": "dark"})
    assert len(heard) == 1
    assert s.restore_defaults() == ["database_dir"] and s.values == DEFAULTS


def test_the_database_folder_is_used_at_the_next_start_unless_the_command_line_says_otherwise(tmp_path):
    config = tmp_path / "config"
    AppSettingsService(config).update({"database_dir": str(tmp_path / "elsewhere")})
    assert paths.resolve(None, str(config)) == (tmp_path / "elsewhere", config)
    assert paths.resolve(str(tmp_path / "given"), str(config)) == (tmp_path / "given", config)
    (config / "settings.json").write_text("{broken")
    data, _ = paths.resolve(None, str(config))  # unreadable: the default; AppServices reports the file
    assert data != tmp_path / "elsewhere"


# -- what the preferences drive --------------------------------------------------------------------
def test_new_connections_get_the_paper_balance_and_the_rate_limit_only_where_none_is_declared(tmp_path):
    s = AppSettingsService(tmp_path)
    s.update({"default_paper_balance": 2500, "default_rate_limit": 4})
    declared = conn_service.new_exchange_connection("b", "binance", s)  # ccxt: binance declares 50 ms
    assert declared.starting_balance == 2500 and declared.rate_limit_per_second is None
    undeclared = conn_service.new_exchange_connection("t", "tokocrypto", s)  # ccxt's fallback 2000 ms
    assert undeclared.rate_limit_per_second == 4.0
    assert conn_service.new_exchange_connection("plain", "binance").starting_balance == 10_000.0
    assert s.rate_limit_for_new(0) == 4.0


def test_the_polling_interval_reaches_exchange_engines_new_and_existing(tmp_path):
    svc = AppServices(tmp_path / "data", tmp_path / "config")
    try:
        svc.save_connection(ConnectionConfig(name="ex", exchange="binance", symbols=["BTC/USDT"]))
        before = svc.engine("ex")
        assert before.poll_interval is None  # automatic
        svc.app_settings.update({"poll_interval_s": 7})
        assert before.poll_interval == 7.0  # the engine reads it at every poll
        svc.engines.clear()
        assert svc.engine("ex").poll_interval == 7.0
        svc.app_settings.update({"poll_interval_s": 0})
        assert svc.engine("ex").poll_interval is None
    finally:
        svc.close()


# -- notifications -----------------------------------------------------------------------------------
class Clock:
    def __init__(self):
        self.t = 1000.0

    def __call__(self):
        return self.t


def fill_event(conn="Paper", side="buy", amount=0.5, price=43_000.0):
    return ev.FillEvent(conn, Fill("f", "o", "c", "BTC/USD", side, amount, price, 0))


def test_a_single_notice_is_shown_at_once_with_the_connection_and_the_figures():
    n = Notifier(lambda kind: True, gap_s=5, clock=Clock())
    assert n.offer(fill_event())
    msg = n.due()
    assert (msg.title, msg.body, msg.urgent, msg.count) == ("Fill", "Paper: BUY 0.5 BTC/USD @ 43,000", False, 1)
    assert n.due() is None


def test_a_burst_of_fills_becomes_one_summary_per_gap_never_a_flood():
    clock = Clock()
    n = Notifier(lambda kind: True, gap_s=5, clock=clock)
    messages = []
    for i in range(10_000):  # a replay at max speed: 10,000 fills over 9 s, asked every 10th fill
        clock.t = 1000.0 + i * 0.0009
        n.offer(fill_event(conn="A" if i % 4 else "B", price=40_000 + i))
        if i % 10 == 0:
            msg = n.due()
            if msg is not None:
                messages.append(msg)
    clock.t += 5
    messages.append(n.due())
    assert len(messages) == 3  # t=0 (the first fill), t=5 s, the rest after the run
    assert sum(m.count for m in messages) == 10_000
    assert messages[0].count == 1
    second = messages[1]
    assert second.title == f"{second.count:,} fills"
    # the gap ends at fill 5,556; asked at fill 5,560 (a B fill): fills 1..5,560 are summed up
    assert second.body == "5,560 fills (A 4,170, B 1,390); latest: B: BUY 0.5 BTC/USD @ 45,560"
    assert n.pending == 0


def test_urgent_kinds_come_first_and_switched_off_kinds_are_dropped():
    on = {"fills": True, "engine_errors": True, "circuit_breaker": True, "stale_feeds": False, "reconciliation": True}
    clock = Clock()
    n = Notifier(lambda kind: on[kind], gap_s=5, clock=clock)
    n.offer(fill_event())
    assert n.due().count == 1
    n.offer(fill_event())
    n.offer(fill_event())
    assert not n.offer(ev.FeedStale("A", "BTC/USD", 93.0))  # switched off
    n.offer(ev.EngineStateChanged("A", ev.ERROR, "the exchange refused the key"))
    n.offer(ev.EngineStateChanged("A", ev.STOPPED, "end of data"))  # not a notice
    n.offer(ev.CircuitBreakerTripped("A", "daily loss 5.2 % > 5 %"))
    assert n.due() is None  # within the gap
    clock.t += 5
    msg = n.due()
    assert msg.urgent and msg.count == 4
    assert msg.title == "1 engine error, 1 circuit breaker tripped, 2 fills"
    assert msg.body.splitlines() == ["A: the exchange refused the key", "A: trading halted: daily loss 5.2 % > 5 %",
                                     "2 fills on Paper; latest: BUY 0.5 BTC/USD @ 43,000"]
    n.add(Notice("fills", "A", "x"))
    on["fills"] = False  # switched off while pending: dropped
    clock.t += 5
    assert n.due() is None


def test_every_alert_event_makes_a_notice():
    assert notice_of(ev.FeedStale("A", "ETH/BTC", 61.4)).line == "A: no market data for ETH/BTC for 61 s"
    assert notice_of(ev.ReconciliationResult("A", 3, 1)).line == "A: 3 order(s) settled, 1 could not be settled"
    assert notice_of(ev.ReconciliationResult("A", 2, 0, "2 orders of run #4 filled")).text == "2 orders of run #4 filled"
    assert notice_of(ev.LogEvent("A", 0, "engine", "hello")) is None
