"""The main window on real services: tabs, engine commands through the buttons, tables that agree
with the database, remembered layout, inline validation of strategy parameters."""
from __future__ import annotations

import pytest
from PySide6.QtCore import Qt

from cts_desktop.core import events as ev
from cts_desktop.store import repositories as repo
from cts_desktop.store.db import FillRec
from cts_desktop.store.settings import BUILTIN_PAPER_NAME, SettingsStore
from cts_desktop.ui.connections import StrategySection
from cts_desktop.ui.main_window import TAB_NAMES, MainWindow

pytestmark = pytest.mark.gui


def click(qtbot, button):
    assert button.isEnabled(), f"{button.objectName()} is disabled"
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)


def status_text(w) -> str:
    return w.status_state.text()


def test_window_shows_four_tabs_and_the_builtin_connection(window):
    assert [window.tabs.tabText(i) for i in range(window.tabs.count())] == list(TAB_NAMES) + ["Market"]
    combo = window.connection_combo
    assert combo.findData(BUILTIN_PAPER_NAME) >= 0
    assert window.current == BUILTIN_PAPER_NAME
    model = window.connections_tab.model
    assert model.row_of(BUILTIN_PAPER_NAME) is not None
    row = model.row_of(BUILTIN_PAPER_NAME)
    assert model.index(row, 3).data() == "PAPER"
    assert model.index(row, 4).data() == "idle"
    assert "Idle" in status_text(window)
    a = window.actions
    assert a["start"].isEnabled() and not a["stop"].isEnabled() and not a["pause"].isEnabled()
    assert window.width() >= 780 and window.height() >= 560


def test_run_through_buttons_then_tables_agree_with_the_database(window, services, qtbot):
    # the built-in connection at its own pace (x1000: 1m candles, 60 ms each, 45,031 of them):
    # still running when the first fill shows, so pause / resume / stop always get exercised
    name = BUILTIN_PAPER_NAME
    assert services.connection(name).speed == "x1000"
    live = window.live_tab
    window.tabs.setCurrentWidget(live)
    click(qtbot, live.controls.buttons["start"])
    # At least one fill recorded, then pause / resume / stop through the buttons.
    qtbot.waitUntil(lambda: window.positions_tab.closed_model.rowCount() >= 1
                    or window.positions_tab.open_model.rowCount() >= 1, timeout=60_000)
    assert services.engine_state(name) == ev.RUNNING and "Running" in status_text(window)
    click(qtbot, live.controls.buttons["pause"])
    qtbot.waitUntil(lambda: "Paused" in status_text(window), timeout=5_000)
    assert services.engine_state(name) == ev.PAUSED
    assert window.actions["resume"].isEnabled() and not window.actions["pause"].isEnabled()
    click(qtbot, window.activity_tab.controls.buttons["resume"])
    qtbot.waitUntil(lambda: "Running" in status_text(window), timeout=5_000)
    click(qtbot, live.controls.buttons["stop"])
    qtbot.waitUntil(lambda: "Stopped" in status_text(window), timeout=30_000)
    assert services.engine_state(name) == ev.STOPPED
    services.recorder.flush().result(10)

    def last_event(events):
        return (events[-1].timestamp, events[-1].message) if events else None

    # the bridge has delivered everything: the UI's last log line is the database's
    qtbot.waitUntil(lambda: last_event(window.activity_tab.model.records())
                    == last_event(repo.events(name, limit=100_000)), timeout=10_000)

    assert FillRec.select().where(FillRec.connection == name).count() >= 1
    # Position history == closed positions in the database
    db_closed = repo.closed_positions(name, limit=100_000)
    ui_closed = window.positions_tab.closed_model.records()
    key = lambda p: (p.id, p.symbol, p.side, round(p.entry_price, 8), round(p.exit_price, 8),  # noqa: E731
                     round(p.net_pnl, 8), p.opened_at, p.closed_at)
    assert sorted(map(key, ui_closed)) == sorted(map(key, db_closed))
    # Open positions == open positions of the run in the database
    assert sorted(p.id for p in window.positions_tab.open_model.records()) == \
        sorted(p.id for p in repo.open_positions(name))
    # Activity log == engine events in the database (same lines, same order)
    db_events = repo.events(name, limit=100_000)
    ui_events = window.activity_tab.model.records()
    assert [(e.timestamp, e.category, e.message) for e in ui_events] == \
        [(e.timestamp, e.category, e.message) for e in db_events][-len(ui_events):]
    assert len(ui_events) == min(len(db_events), window.activity_tab.model.max_rows)
    # Figures agree with the engine's summary
    summary = services.last_summary(name)
    assert window.activity_tab.trades.text() == f"Trades: {summary['trades']:,}"
    assert window.live_tab.cards["trades"].value.text() == f"{summary['trades']:,}"
    assert window.live_tab.chart.point_count > 0

    # The log filter narrows the view to one category
    window.activity_tab.set_filter(["fill"])
    proxy = window.activity_tab.proxy
    assert 0 < proxy.rowCount() < window.activity_tab.model.rowCount()
    proxy.fill_rows(range(proxy.rowCount()))  # cells are written lazily (rows in view); read them all
    assert all(proxy.index(r, 2).data() == "fill" for r in range(proxy.rowCount()))
    window.activity_tab.set_filter(None, text="stopped by user")
    assert proxy.rowCount() >= 1

    # A restarted window shows the same history from the database
    w2 = MainWindow(services)
    qtbot.addWidget(w2)
    assert w2.positions_tab.closed_model.rowCount() == len(db_closed)
    assert w2.activity_tab.model.rowCount() == min(len(db_events), 5000)
    assert w2.live_tab.chart.point_count > 0
    w2.close()


def test_engine_error_is_shown_and_the_app_stays_up(window, services, qtbot):
    conn = services.connection(BUILTIN_PAPER_NAME)
    conn.dataset = "bittrex-btc-5m"  # 5m candles cannot build the strategy's 1m timeframe
    conn.strategy_params = {"timeframe": "1m"}
    services.save_connection(conn)
    click(qtbot, window.live_tab.controls.buttons["start"])
    qtbot.waitUntil(lambda: services.engine_state(BUILTIN_PAPER_NAME) == ev.ERROR, timeout=15_000)
    qtbot.waitUntil(lambda: "Error" in status_text(window), timeout=5_000)
    reason = services.engine(BUILTIN_PAPER_NAME).reason
    assert reason and reason in status_text(window)
    assert window.banner.isVisible() and reason in window.banner.text.text()
    assert not window.activity_tab.reason.isHidden()
    assert window.actions["start"].isEnabled()  # can try again
    # A command the state does not allow is reported, not raised
    window.pause_engine()
    assert "Could not pause" in window.banner.text.text()


def test_layout_is_remembered_between_windows(services, qtbot, loop):
    w1 = MainWindow(services)
    qtbot.addWidget(w1)
    w1.show()
    w1.resize(760, 590)
    w1.tabs.setCurrentIndex(2)
    hh = w1.positions_tab.closed_table.horizontalHeader()
    hh.resizeSection(1, 211)
    w1.close()
    assert (services.config_dir / "window.ini").exists()

    w2 = MainWindow(services)
    qtbot.addWidget(w2)
    w2.show()
    assert (w2.width(), w2.height()) == (760, 590)
    assert w2.tabs.currentIndex() == 2
    assert w2.positions_tab.closed_table.horizontalHeader().sectionSize(1) == 211
    w2.close()


def test_invalid_strategy_params_show_inline_and_are_not_saved(window, services, qtbot):
    window.tabs.setCurrentWidget(window.connections_tab)
    details = window.connections_tab.details
    section = details.section(StrategySection)
    section.set_value("fast", 50)
    section.set_value("slow", 20)
    assert "greater than fast" in section.error_text("slow")
    assert not details.save()
    assert "Not saved" in details.status.text()
    on_disk = SettingsStore(services.config_dir).load().get(BUILTIN_PAPER_NAME)
    assert on_disk.strategy_params.get("slow") != 20

    section.set_value("slow", 80)
    assert section.error_text("slow") == ""
    click(qtbot, details.save_button)
    assert details.status.text().startswith("Saved")
    on_disk = SettingsStore(services.config_dir).load().get(BUILTIN_PAPER_NAME)
    assert (on_disk.strategy_params["fast"], on_disk.strategy_params["slow"]) == (50, 80)


def test_strategy_presets_are_shared_by_connections_and_backtests(services, qtbot):
    from cts_desktop.store.presets import PresetStore
    from cts_desktop.ui.connections import StrategySection

    section = StrategySection(services.config_dir)
    qtbot.addWidget(section)
    section.load(services.connection("Paper - recorded market"))
    section.set_value("fast", 7)
    section.set_value("slow", 25)
    section.save_preset("fast 7/25")
    stored = PresetStore(services.config_dir).get("fast 7/25")
    assert stored["strategy"] == "ma_cross" and stored["params"]["fast"] == 7 and stored["params"]["slow"] == 25
    other = StrategySection(services.config_dir)
    qtbot.addWidget(other)
    other.load(services.connection("Paper - recorded market"))
    assert other.values()["fast"] == 10
    other.load_preset("fast 7/25")
    assert other.values()["fast"] == 7 and other.values()["slow"] == 25
    # an invalid form is not saved as a preset
    section.set_value("slow", 5)
    import pytest

    from cts_desktop.ui.connections import FieldError
    with pytest.raises(FieldError):
        section.save_preset("broken")
    assert "broken" not in PresetStore(services.config_dir).names()
