"""Several strategies on one connection, through the Connections tab on real services: each
strategy on its own symbols, its generated parameter form validated inline, saved to
``strategy_symbols`` / ``extra_strategies``, shown again after a restart, and a max-speed replay
whose closed positions stay on each strategy's symbols."""
from __future__ import annotations

import pytest
from PySide6.QtCore import Qt

from cts_desktop.core import events as ev
from cts_desktop.store.settings import BUILTIN_PAPER_NAME, SettingsStore
from cts_desktop.ui.main_window import MainWindow

pytestmark = pytest.mark.gui

BITTREX = "bittrex-btc-5m"  # ETH/BTC, LTC/BTC, ADA/BTC


def click(qtbot, button):
    assert button.isEnabled(), f"{button.objectName() or button.text()} is disabled"
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)


def open_window(services, qtbot) -> MainWindow:
    w = MainWindow(services)
    qtbot.addWidget(w)
    w.show()
    qtbot.waitExposed(w)
    w.tabs.setCurrentWidget(w.connections_tab)
    return w


def pick(combo, data) -> None:
    i = combo.findData(data)
    assert i >= 0, data
    combo.setCurrentIndex(i)


def choose_symbols(form, symbols) -> None:
    """Untick "All symbols", then keep only ``symbols`` ticked, as a user clicks them."""
    picker = form.symbols
    if picker.all_box.isChecked():
        picker.all_box.click()
    for sym, box in picker.boxes.items():
        if box.isChecked() != (sym in symbols):
            box.click()
    assert picker.selection() == [s for s in picker.available if s in symbols]


def on_disk(services):
    return SettingsStore(services.config_dir).load().get(BUILTIN_PAPER_NAME)


def bittrex_connection(qtbot, details, speed="x1000"):
    window = details.window()
    window.tabs.setCurrentWidget(window.connections_tab)
    replay = details.replay_section
    pick(replay.dataset, BITTREX)
    pick(replay.speed, speed)
    assert details.strategy_section.strategy_form.symbols.available == ["ETH/BTC", "LTC/BTC", "ADA/BTC"]


def add_rsi(qtbot, details):
    extras = details.extra_strategies_section
    click(qtbot, extras.add_button)
    entry = extras.entries[-1]
    qtbot.waitUntil(entry.isVisible)  # a widget added to a shown layout is shown on the next event turn
    pick(entry.strategy_form.strategy, "rsi")
    qtbot.waitUntil(entry.strategy_form.widgets["period"].isVisible)  # the RSI rows, likewise
    assert entry.heading.text() == f"{len(extras.entries)}. RSI mean reversion"
    return entry.strategy_form


def test_extra_strategy_on_its_symbols_is_saved_reloaded_and_trades_only_them(services, qtbot, loop):
    w = open_window(services, qtbot)
    d = w.connections_tab.details
    bittrex_connection(qtbot, d, speed="max")
    main = d.strategy_section.strategy_form
    assert main.title == "Moving-average crossover"
    assert main.symbols.is_all() and main.symbols.traded() == ["ETH/BTC", "LTC/BTC", "ADA/BTC"]
    assert main.allocation.text() == "Each entry uses 20 % of equity; with 3 symbols up to 60 % in use."
    choose_symbols(main, ["ETH/BTC"])
    assert main.allocation.text() == "Each entry uses 20 % of equity; with 1 symbol up to 20 % in use."

    rsi = add_rsi(qtbot, d)
    assert set(rsi.widgets) == {"period", "oversold", "overbought", "exit_at", "timeframe", "size", "stop_loss",
                                "take_profit", "allow_short"}
    choose_symbols(rsi, ["LTC/BTC", "ADA/BTC"])
    assert rsi.allocation.text() == "Each entry uses 20 % of equity; with 2 symbols up to 40 % in use."
    assert not rsi.allocation_warning.isVisible()
    total = d.extra_strategies_section.total.text()
    assert "up to 60 % of equity in use (ETH/BTC 20 %, LTC/BTC 20 %, ADA/BTC 20 %)" in total, total
    click(qtbot, d.save_button)
    assert d.status.text().startswith("Saved"), d.status.text()

    conn = on_disk(services)
    assert (conn.dataset, conn.speed) == (BITTREX, "max")
    assert (conn.strategy, conn.strategy_symbols) == ("ma_cross", ["ETH/BTC"])
    assert len(conn.extra_strategies) == 1
    extra = conn.extra_strategies[0]
    assert extra["strategy"] == "rsi" and extra["symbols"] == ["LTC/BTC", "ADA/BTC"]
    assert extra["params"]["size"] == 0.2 and extra["params"]["period"] == 14
    w.close()

    # A new window (the settings read again from disk) shows both strategies as saved.
    services.settings = SettingsStore(services.config_dir).load()
    w2 = open_window(services, qtbot)
    d2 = w2.connections_tab.details
    assert d2.conn.name == BUILTIN_PAPER_NAME
    main2 = d2.strategy_section.strategy_form
    assert main2.strategy.currentData() == "ma_cross" and main2.symbols.selection() == ["ETH/BTC"]
    assert not main2.symbols.boxes["LTC/BTC"].isChecked() and main2.symbols.boxes["ETH/BTC"].isChecked()
    entries = d2.extra_strategies_section.entries
    assert len(entries) == 1 and entries[0].heading.text() == "1. RSI mean reversion"
    rsi2 = entries[0].strategy_form
    assert rsi2.strategy.currentData() == "rsi" and rsi2.symbols.selection() == ["LTC/BTC", "ADA/BTC"]
    assert rsi2.values()["period"] == 14 and rsi2.values()["exit_at"] == "overbought"
    assert not d2.dirty

    # The window's Start runs both strategies at max speed to the end of the month.
    assert w2.current == BUILTIN_PAPER_NAME
    w2.start_engine()
    qtbot.waitUntil(lambda: services.engine_state(BUILTIN_PAPER_NAME) in (ev.STOPPED, ev.ERROR), timeout=180_000)
    eng = services.engines[BUILTIN_PAPER_NAME]
    assert eng.state == ev.STOPPED and eng.reason == "end of data", eng.reason
    closed = services.closed_positions(BUILTIN_PAPER_NAME)
    by_strategy = {}
    for p in closed:
        by_strategy.setdefault(p.strategy, set()).add(p.symbol)
    assert set(by_strategy) == {"ma_cross", "rsi"}, by_strategy
    assert by_strategy["ma_cross"] == {"ETH/BTC"}
    assert by_strategy["rsi"] == {"LTC/BTC", "ADA/BTC"}  # (194 positions closed in all, at the time of writing)
    w2.close()


def test_invalid_parameter_of_an_extra_strategy_is_shown_inline_and_not_saved(window, services, qtbot):
    d = window.connections_tab.details
    bittrex_connection(qtbot, d)
    rsi = add_rsi(qtbot, d)
    extras = d.extra_strategies_section
    rsi.widgets["overbought"].setValue(25.0)  # below oversold (30)
    assert rsi.error_text("overbought") == "must be greater than oversold (30), got 25"
    assert rsi.errors["overbought"].isVisible()
    assert extras.error_text("0:overbought") == rsi.error_text("overbought")
    assert d.strategy_section.error_text("slow") == ""  # the main strategy is fine

    assert not d.save()
    status = d.status.text()
    assert status == ("Not saved: additional strategy 1 (RSI mean reversion), overbought: "
                      "must be greater than oversold (30), got 25"), status
    assert on_disk(services).extra_strategies == [] and on_disk(services).dataset != BITTREX

    # an exclusive minimum, caught the same way and named the same way
    rsi.widgets["overbought"].setValue(75.0)
    assert rsi.error_text("overbought") == ""
    rsi.widgets["size"].setValue(0.0)
    assert rsi.error_text("size").startswith("must be > 0")
    assert not d.save()
    assert "additional strategy 1 (RSI mean reversion), size: must be > 0" in d.status.text()

    # no symbol ticked is refused too
    rsi.widgets["size"].setValue(0.25)
    choose_symbols(rsi, [])
    assert rsi.error_text("symbols") == "tick at least one symbol, or All symbols"
    assert not d.save()
    choose_symbols(rsi, ["ADA/BTC"])
    assert rsi.error_text("symbols") == ""

    click(qtbot, d.save_button)
    assert d.status.text().startswith("Saved"), d.status.text()
    saved = on_disk(services).extra_strategies
    assert saved == [{"strategy": "rsi", "symbols": ["ADA/BTC"],
                      "params": dict(saved[0]["params"], overbought=75.0, size=0.25)}]
    assert saved[0]["params"]["oversold"] == 30.0

    # Remove, save: gone.
    click(qtbot, extras.entries[0].remove_button)
    assert extras.entries == [] and d.dirty
    click(qtbot, d.save_button)
    assert on_disk(services).extra_strategies == []


def test_allocation_warnings_do_not_block_saving(window, services, qtbot):
    d = window.connections_tab.details
    bittrex_connection(qtbot, d)
    rsi = add_rsi(qtbot, d)
    # 60 % per entry on all three symbols: above the 50 % max position size and 180 % in all
    rsi.widgets["size"].setValue(0.6)
    assert rsi.allocation.text() == "Each entry uses 60 % of equity; with 3 symbols up to 180 % in use."
    assert rsi.allocation_warning.isVisible()
    warning = rsi.allocation_warning.text()
    assert "60 % is above the risk limit Max position size (50 %): every entry will be refused." in warning
    assert "Up to 180 % of equity" in warning
    extras = d.extra_strategies_section
    # one position per symbol: a symbol traded by both counts its larger size once
    assert "up to 180 % of equity in use (ETH/BTC 60 %, LTC/BTC 60 %, ADA/BTC 60 %)" in extras.total.text()
    assert "share one position per symbol" in extras.total.text()
    assert extras.total_warning.isVisible() and "later entries are refused" in extras.total_warning.text()

    # the risk limits are read as entered: raise the max position size and the first warning goes
    d.risk_section.max_fraction.setValue(0.8)
    assert "Max position size" not in rsi.allocation_warning.text()
    d.risk_section.max_open.setValue(2)
    assert "Max open positions is 2" in extras.total_warning.text()

    assert d.save(), d.status.text()
    conn = on_disk(services)
    assert conn.extra_strategies[0]["params"]["size"] == 0.6 and conn.risk["max_position_fraction"] == 0.8

    rsi2 = d.extra_strategies_section.entries[0].strategy_form
    choose_symbols(rsi2, ["LTC/BTC"])
    rsi2.widgets["size"].setValue(0.2)
    assert not rsi2.allocation_warning.isVisible()


def test_a_symbol_the_connection_no_longer_has_must_be_unticked(window, services, qtbot):
    d = window.connections_tab.details
    bittrex_connection(qtbot, d)
    main = d.strategy_section.strategy_form
    choose_symbols(main, ["LTC/BTC"])
    pick(d.replay_section.dataset, "ftx-btc-perp-1m")  # BTC-PERP only
    assert main.symbols.available == ["BTC/USD:USD"]
    assert main.symbols.unknown() == ["LTC/BTC"]
    assert main.error_text("symbols") == "LTC/BTC is not traded by this connection: untick it"
    assert not d.save()
    assert "main strategy (Moving-average crossover), symbols" in d.status.text()
    main.symbols.all_box.click()
    assert main.error_text("symbols") == "" and list(main.symbols.boxes) == ["BTC/USD:USD"]
    assert d.save(), d.status.text()
    assert on_disk(services).strategy_symbols == []


def test_exchange_connection_offers_its_configured_symbols(window, services, qtbot):
    from cts_desktop.store.settings import ConnectionConfig

    services.save_connection(ConnectionConfig(name="Binance spot", exchange="binance", symbols=["BTC/USDT", "ETH/USDT"],
                                              strategy_symbols=["ETH/USDT"]))
    tab = window.connections_tab
    window.tabs.setCurrentWidget(tab)
    tab.refresh(select="Binance spot")
    d = tab.details
    assert d.conn.name == "Binance spot"
    main = d.strategy_section.strategy_form
    assert main.symbols.available == ["BTC/USDT", "ETH/USDT"] and main.symbols.selection() == ["ETH/USDT"]
    # the symbols typed in the Exchange section are offered at once, before Save
    d.exchange_section.symbols.setText("BTC/USDT, ETH/USDT, sol/usdt")
    assert main.symbols.available == ["BTC/USDT", "ETH/USDT", "SOL/USDT"]
    assert main.symbols.selection() == ["ETH/USDT"]
    assert main.allocation.text() == "Each entry uses 20 % of equity; with 1 symbol up to 20 % in use."
    d.exchange_section.symbols.setText("BTC/USDT")
    assert main.error_text("symbols") == "ETH/USDT is not traded by this connection: untick it"
    assert not d.save()
    assert "main strategy (Moving-average crossover), symbols: ETH/USDT is not traded" in d.status.text()
    assert on_disk_conn(services, "Binance spot").strategy_symbols == ["ETH/USDT"]


def on_disk_conn(services, name):
    return SettingsStore(services.config_dir).load().get(name)
