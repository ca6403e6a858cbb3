"""The Connections tab with exchange connections: add, credentials in the real keyring, Test
Connection against the local venue (real ccxt over loopback), cancel, the live gate, delete,
duplicate, no secure keyring, and a scan that no secret leaks into files, logs or widget texts.

Keyring tests are marked ``keyring`` and run only under ``tests/keyring_session.sh`` (a private,
throw-away Secret Service); without it they are skipped with the reason.
"""
from __future__ import annotations

import logging
import os
import uuid
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel, QLineEdit, QScrollArea, QWidget

from cts_desktop.store.secrets import SecretStore
from cts_desktop.ui.connections import ConnectionDetails
from tests.venue.harness import API_KEY, API_SECRET

pytestmark = pytest.mark.gui


from tests.keyring_marks import _SKIP, keyring_test  # noqa: F401,E402


def click(qtbot, button):
    """A real mouse click, as a user would: scrolled into view first."""
    assert button.isEnabled(), f"{button.objectName() or button.text()} is disabled"
    parent = button.parentWidget()
    while parent is not None and not isinstance(parent, QScrollArea):
        parent = parent.parentWidget()
    if parent is not None:
        parent.ensureWidgetVisible(button)
        qtbot.waitUntil(lambda: not button.visibleRegion().isEmpty(), timeout=5_000)
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)


@pytest.fixture
def tab(window):
    window.tabs.setCurrentWidget(window.connections_tab)
    return window.connections_tab


@pytest.fixture
def cname():
    """A unique connection name; its keyring entries are removed afterwards."""
    name = f"GUI venue {uuid.uuid4().hex[:8]}"
    yield name
    if not _SKIP:
        SecretStore.open().delete_connection(name)


def add_venue_connection(qtbot, tab, name, venue, key=API_KEY, secret=API_SECRET):
    """Add a binance connection through the dialog, point it at the venue, enter the keys, save."""
    click(qtbot, tab.add_button)
    dlg = tab.dialog
    dlg.name.setText(name)
    dlg.exchange.setCurrentText("binance")
    click(qtbot, dlg.ok_button)
    d = tab.details
    assert d.conn.name == name and d.conn.exchange == "binance"
    qtbot.waitUntil(lambda: d.catalog.ready, timeout=20_000)
    ex = d.exchange_section
    ex.base_url.setText(venue.base_url)
    ex.symbols.setText("BTC/USDT")
    creds = d.credentials_section
    assert set(creds.edits) == {"apiKey", "secret"}
    for edit in creds.edits.values():
        assert edit.echoMode() == QLineEdit.EchoMode.Password
    creds.edits["apiKey"].setText(key)
    creds.edits["secret"].setText(secret)
    click(qtbot, d.save_button)
    assert d.status.text().startswith("Saved"), d.status.text()
    return d


def run_test(qtbot, d, timeout=30_000):
    click(qtbot, d.test_section.test_button)
    qtbot.waitUntil(lambda: d.test_task is not None and d.test_task.done(), timeout=timeout)


def widget_texts(root: QWidget) -> str:
    out = []
    for w in [root] + root.findChildren(QWidget):
        for getter in ("text", "toolTip", "placeholderText", "windowTitle", "toPlainText", "currentText"):
            fn = getattr(w, getter, None)
            if callable(fn):
                try:
                    out.append(str(fn()))
                except TypeError:
                    pass
    return "\n".join(out)


# -- end to end ---------------------------------------------------------------------------------------
@keyring_test
def test_add_save_test_connection_end_to_end(qtbot, tab, services, venue, cname, tmp_path):
    venue.add_account(API_KEY, API_SECRET, {"USDT": 10_000, "BTC": 0.5})
    d = add_venue_connection(qtbot, tab, cname, venue)
    conn = services.connection(cname)
    assert conn.credential_fields == ["apiKey", "secret"] and conn.base_url == venue.base_url
    keyring = SecretStore.open()
    assert keyring.get(cname, "apiKey") == API_KEY and keyring.get(cname, "secret") == API_SECRET
    settings_text = (services.config_dir / "connections.json").read_text()
    assert API_SECRET not in settings_text and API_KEY not in settings_text
    # Masked afterwards, never in clear.
    creds = d.credentials_section
    assert creds.edits["secret"].text() == "" and creds.stored["secret"].text() == "stored: ••••••••"
    assert creds.stored["apiKey"].text() == f"stored: {API_KEY[:4]}…••••••••"

    run_test(qtbot, d)
    t = services.connection(cname).last_test
    assert t["ok"], t
    sec = d.test_section
    assert sec.result.text().startswith("PASSED")
    assert "USDT" in sec.facts["balances"].text() and "10,000" in sec.facts["balances"].text()
    assert "ms" in sec.facts["latency"].text() and "ms" in sec.facts["clock"].text()
    assert "createOrder" in sec.facts["capabilities"].text()
    assert "requests/s" in sec.facts["rate_limits"].text()
    assert "granted" in sec.facts["permissions"].text() and not sec.danger.isVisible()
    assert "/api/v3/account" in sec.log_view.toPlainText()
    assert sec.facts["tested_at"].text() != "–"
    # The tab's list shows the test, the result is kept with the connection.
    assert "last test: ok" in d.subtitle.text()

    d.grab().save(str(tmp_path / "connections_after_test.png"))
    if os.environ.get("CTS_SHOTS"):
        tab.window().grab().save(os.path.join(os.environ["CTS_SHOTS"], "connections_after_test.png"))
    assert API_SECRET not in widget_texts(tab.window()) and API_KEY not in widget_texts(tab.window())


@keyring_test
def test_wrong_secret_shows_the_auth_message_and_stays_editable(qtbot, tab, services, venue, cname):
    venue.add_account(API_KEY, API_SECRET, {"USDT": 1000})
    d = add_venue_connection(qtbot, tab, cname, venue, secret="Wr0ngSecretWr0ngSecretWr0ngSecret1234567890")
    run_test(qtbot, d)
    t = services.connection(cname).last_test
    assert not t["ok"] and t["error_kind"] == "auth"
    assert d.test_section.result.text().startswith("FAILED (auth)")
    assert "Traceback" not in d.test_section.result.text()
    # Still editable: fix the secret, save, test again.
    assert d.credentials_section.edits["secret"].isEnabled() and d.exchange_section.isEnabled()
    d.credentials_section.edits["secret"].setText(API_SECRET)
    click(qtbot, d.save_button)
    assert "connection test cleared: credentials changed" in d.status.text().lower()
    run_test(qtbot, d)
    assert services.connection(cname).last_test["ok"]


@keyring_test
def test_cancel_a_slow_test_keeps_the_window_responsive(qtbot, tab, services, venue, cname):
    venue.add_account(API_KEY, API_SECRET, {"USDT": 1000})
    d = add_venue_connection(qtbot, tab, cname, venue)
    venue.faults.delay(20, path="/api/v3/exchangeInfo")
    click(qtbot, d.test_section.test_button)
    assert d.test_section.cancel_button.isVisible() and d.test_section.progress.isVisible()
    # The request reaches the venue and hangs there ...
    qtbot.waitUntil(lambda: ("GET", "/api/v3/exchangeInfo") in venue.requests, timeout=10_000)
    # ... and the loop keeps turning: a timer fires again and again while it hangs.
    # (How smoothly it turns is measured by benchmarks/bench_gui_lag.py, not here.)
    ticks = []
    from PySide6.QtCore import QTimer
    timer = QTimer()
    timer.timeout.connect(lambda: ticks.append(1))
    timer.start(20)
    qtbot.waitUntil(lambda: len(ticks) >= 10, timeout=10_000)
    timer.stop()
    assert not d.test_task.done()  # the 20 s delay still holds the test
    tab.details.exchange_section.symbols.setText("BTC/USDT, ETH/USDT")  # editing still works
    click(qtbot, d.test_section.cancel_button)
    qtbot.waitUntil(lambda: d.test_task.done(), timeout=5_000)
    assert d.test_task.cancelled()
    assert "cancelled" in d.test_section.result.text().lower()
    assert not d.test_section.cancel_button.isVisible() and d.test_section.test_button.isEnabled()
    assert services.connection(cname).last_test == {}


@keyring_test
def test_timeout_is_reported(qtbot, tab, services, venue, cname):
    venue.add_account(API_KEY, API_SECRET, {"USDT": 1000})
    d = add_venue_connection(qtbot, tab, cname, venue)
    venue.faults.delay(10, path="/api/v3/exchangeInfo")
    d.test_timeout = 1.0
    run_test(qtbot, d)
    t = services.connection(cname).last_test
    assert t["error_kind"] == "timeout" and "within 1 s" in d.test_section.result.text()


# -- the live gate -------------------------------------------------------------------------------------
@keyring_test
def test_live_gate(qtbot, tab, services, venue, cname, window):
    venue.add_account(API_KEY, API_SECRET, {"USDT": 1000})
    d = add_venue_connection(qtbot, tab, cname, venue)
    # Refused without a passing test.
    click(qtbot, d.live_button)
    assert d.live_dialog is None and "has not been tested" in d.status.text()
    assert not services.connection(cname).live
    run_test(qtbot, d)
    # Wrong name typed: OK disabled; forcing accept still refuses.
    click(qtbot, d.live_button)
    dlg = d.live_dialog
    text = dlg.findChild(QLabel, "LiveConfirmText").text()
    assert "binance" in text and "spot account" in text and "testnet" in text and "REAL ORDERS" in text
    dlg.typed.setText(cname + "x")
    assert not dlg.ok_button.isEnabled()
    dlg.accept()
    assert not services.connection(cname).live and "NOT switched on" in d.status.text()
    # The right name: live.
    click(qtbot, d.live_button)
    d.live_dialog.typed.setText(cname)
    click(qtbot, d.live_dialog.ok_button)
    assert services.connection(cname).live
    # the typed confirmation is recorded for these credentials: what the engine checks at a live start
    confirmation = services.connection(cname).live_confirmation
    assert confirmation["typed"] == cname and confirmation["at"] > 0
    assert confirmation["credentials_fingerprint"] == services.connection(cname).last_test["credentials_fingerprint"]
    assert d.badge.text() == "LIVE" and "LIVE" in d.status.text()
    assert cname in window.live_tab.live_badge.text()
    if window.current == cname:  # the toolbar says LIVE at once, not at the next selection
        assert window.mode_badge.text() == "LIVE"
    window.select_connection(cname)
    assert window.mode_badge.text() == "LIVE"
    # Changing the secret invalidates the test and switches live off.
    d.credentials_section.edits["secret"].setText(API_SECRET[::-1])
    click(qtbot, d.save_button)
    conn = services.connection(cname)
    assert not conn.live and conn.last_test == {}
    assert window.mode_badge.text() == "PAPER"  # switched off: the toolbar follows without reselecting
    assert "live trading switched off" in d.status.text().lower()
    assert cname not in window.live_tab.live_badge.text()
    click(qtbot, d.live_button)
    assert d.live_dialog is None and "has not been tested" in d.status.text()


# -- delete / duplicate --------------------------------------------------------------------------------
@keyring_test
def test_duplicate_copies_settings_not_secrets_and_delete_removes_keyring_entries(qtbot, tab, services, venue, cname):
    add_venue_connection(qtbot, tab, cname, venue)
    click(qtbot, tab.duplicate_button)
    copy_name = f"{cname} (copy)"
    try:
        dup = services.connection(copy_name)
        assert dup.base_url == venue.base_url and dup.credential_fields == [] and not dup.live
        assert "NOT copied" in tab.list_status.text()
        assert SecretStore.open().get(copy_name, "secret") is None
        tab.select(cname)
        click(qtbot, tab.delete_button)
        box = tab.dialog
        box.accept()
        assert cname not in services.settings.connections
        keyring = SecretStore.open()
        assert keyring.get(cname, "apiKey") is None and keyring.get(cname, "secret") is None
        assert "keyring entries" in tab.list_status.text()
    finally:
        SecretStore.open().delete_connection(copy_name)


# -- no secure keyring ---------------------------------------------------------------------------------
def test_without_secure_keyring_the_tab_says_so_and_refuses(qtbot, tab, services):
    d: ConnectionDetails = tab.details
    d.open_secrets = lambda: SecretStore.open("keyrings.alt.file.PlaintextKeyring")
    d.reset_keyring()
    click(qtbot, tab.add_button)
    tab.dialog.name.setText("No keyring")
    tab.dialog.exchange.setCurrentText("binance")
    click(qtbot, tab.dialog.ok_button)
    qtbot.waitUntil(lambda: d.catalog.ready, timeout=20_000)
    note = d.credentials_section.keyring_note.text()
    assert "No secure keyring is available" in note and "Credentials cannot be stored" in note
    assert not d.credentials_section.edits["secret"].isEnabled()
    # Even if text gets in (e.g. programmatically), Save refuses and writes nothing.
    d.credentials_section.edits["apiKey"].setText("k" * 64)
    d.credentials_section.edits["secret"].setText("s" * 64)
    d.exchange_section.symbols.setText("ETH/USDT")
    click(qtbot, d.save_button)
    assert "Not saved" in d.status.text() and "No secure keyring" in d.status.text()
    assert services.connection("No keyring").credential_fields == []
    assert "s" * 64 not in (services.config_dir / "connections.json").read_text()
    assert not list(Path(services.config_dir).glob("*.cfg"))


# -- leak scan -----------------------------------------------------------------------------------------
@keyring_test
def test_secrets_leak_nowhere(qtbot, tab, services, venue, cname, caplog, tmp_path):
    # Everything at DEBUG, ccxt's request log included (it prints headers: the API key, which
    # the gateway's log filter redacts).
    caplog.set_level(logging.DEBUG)
    key = "LkK" + uuid.uuid4().hex + uuid.uuid4().hex[:29]
    secret = "LkS" + uuid.uuid4().hex + uuid.uuid4().hex[:29]
    venue.add_account(key, secret, {"USDT": 500})
    d = add_venue_connection(qtbot, tab, cname, venue, key=key, secret=secret)
    run_test(qtbot, d)
    assert services.connection(cname).last_test["ok"]
    # wrong secret too (error paths must not leak either)
    wrong = "LkW" + uuid.uuid4().hex + uuid.uuid4().hex[:29]
    d.credentials_section.edits["secret"].setText(wrong)
    click(qtbot, d.save_button)
    run_test(qtbot, d)
    d.test_section.log_toggle.setChecked(True)
    window = tab.window()
    window.grab().save(str(tmp_path / "shot.png"))
    services.recorder.flush().result(10)
    texts = widget_texts(window)
    logs = caplog.text
    assert "/api/v3/account" in logs  # the scan reads ccxt's request log, not an empty one
    files = [p for root in (services.data_dir, services.config_dir) for p in Path(root).rglob("*") if p.is_file()]
    assert services.config_dir / "connections.json" in files and any(p.suffix == ".sqlite3" for p in files)
    for value in (key, secret, wrong):
        assert value not in texts
        assert value not in logs
        for p in files:
            assert value.encode() not in p.read_bytes(), f"{p} contains a secret"


@keyring_test
def test_ccxt_debug_log_does_not_leak_the_api_key(qtbot, tab, services, venue, cname, caplog):
    caplog.set_level(logging.DEBUG)
    venue.add_account(API_KEY, API_SECRET, {"USDT": 500})
    d = add_venue_connection(qtbot, tab, cname, venue)
    run_test(qtbot, d)
    assert "/api/v3/account" in caplog.text  # ccxt's request log was captured ...
    assert API_KEY not in caplog.text  # ... without the key


@keyring_test
def test_unread_permissions_and_missing_status_endpoint_are_said_plainly(qtbot, tab, services, venue, cname):
    """A proxy without /sapi/v1/system/status (404) and a 429 on the permissions read: the test
    passes, the status is unknown (not "server error"), and the panel says loudly that the
    withdrawal check could not be done."""
    venue.add_account(API_KEY, API_SECRET, {"USDT": 1000}, permissions=("read", "trade", "withdraw"))
    venue.faults.status(404, body="<html>404</html>", path="/sapi/v1/system/status")
    venue.faults.rate_limit(retry_after=30, path="/sapi/v1/account/apiRestrictions")
    d = add_venue_connection(qtbot, tab, cname, venue)
    run_test(qtbot, d)
    t = services.connection(cname).last_test
    assert t["ok"] and t["system_status"] == "unknown" and t["withdrawal_checked"] is False
    sec = d.test_section
    assert sec.danger.text().startswith("⚠  WITHDRAWAL CHECK NOT DONE") and not sec.danger.isHidden()
    assert "no system status endpoint (HTTP 404)" in sec.warnings.text()
    assert "server error" not in widget_texts(tab.window()).lower()
    if os.environ.get("CTS_SHOTS"):
        win = tab.window()
        win.resize(1280, 720)
        d.findChild(QScrollArea).ensureWidgetVisible(sec.danger)
        qtbot.waitUntil(lambda: not sec.danger.visibleRegion().isEmpty(), timeout=5_000)
        win.grab().save(os.path.join(os.environ["CTS_SHOTS"], "conntest_withdrawal_check_not_done.png"))


def test_paper_balance_unit_follows_the_replayed_market(services, qtbot):
    """A USD market's balance is in USD (not "USDT equivalent"); a BTC-quoted one says the dollars
    are converted."""
    from cts_desktop.ui.connections.sections import ReplaySection

    sec = ReplaySection()
    qtbot.addWidget(sec)
    sec.dataset.setCurrentIndex(sec.dataset.findData("coinbase-btc-usd-1h"))
    assert sec.balance_unit.text() == "USD"
    sec.dataset.setCurrentIndex(sec.dataset.findData("binance-btc-usdt-perp-5m"))
    assert sec.balance_unit.text() == "USDT"
    sec.dataset.setCurrentIndex(sec.dataset.findData("bittrex-btc-5m"))
    assert sec.balance_unit.text() == "USD, converted to BTC at the first price"


@keyring_test
def test_test_results_are_readable_at_1280(qtbot, tab, services, venue, cname, window):
    """After a passing test the result box (status, balances, capabilities, clock offset,
    permissions) is shown whole at 1280x720: every wrapped line has the height it needs."""
    venue.add_account(API_KEY, API_SECRET, {"USDT": 1000, "BTC": 0.5})
    window.resize(1280, 720)
    d = add_venue_connection(qtbot, tab, cname, venue)
    run_test(qtbot, d)
    sec = d.test_section
    assert "passed" in sec.result.text().lower() or "ok" in sec.result.text().lower(), sec.result.text()
    d.scroll.ensureWidgetVisible(sec.result)
    body = d.scroll.widget()  # the layout settles (wrapped lines take their height) once events run
    qtbot.waitUntil(lambda: body.height() >= body.layout().totalHeightForWidth(body.width()), timeout=5_000)
    d.scroll.ensureWidgetVisible(sec.result)
    if os.environ.get("CTS_SHOTS_DIR"):
        window.grab().save(os.path.join(os.environ["CTS_SHOTS_DIR"], "conntest-1280.png"))
    for label in sec.findChildren(QLabel):
        if label.isVisible() and label.wordWrap() and label.text():
            assert label.height() >= label.heightForWidth(label.width()), label.text()[:60]
            assert label.width() <= d.width(), label.text()[:60]
