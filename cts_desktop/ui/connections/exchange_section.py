"""The Exchange box of the details panel (any ccxt exchange, account type, testnet, API type, rate
limits, base URL, symbols) and :class:`ExchangeCatalog`, what ccxt knows about the exchanges,
loaded through the connection rules on a background thread after the window shows."""
from __future__ import annotations

import logging
import threading
from typing import List, Optional

from PySide6.QtCore import QObject, Qt, QTimer, Signal
from PySide6.QtWidgets import QCheckBox, QComboBox, QLabel, QLineEdit

from ...services import connection_rules as rules
from .base import DetailsSection, FieldError, spin
from .dialogs import exchange_combo, fill_exchange_combo

log = logging.getLogger(__name__)


class ExchangeCatalog(QObject):
    """What ccxt knows about the exchanges, loaded once off the GUI thread (importing ccxt and
    ccxt.pro takes about a second; the app's start-up never waits for it). ``loaded`` fires when
    :meth:`facts` and :attr:`ids` become available."""

    loaded = Signal()
    _preloaded = Signal(object)  # from the loader thread; queued to the GUI thread

    def __init__(self, parent=None):
        super().__init__(parent)
        self.ids: List[str] = []
        self._started = False
        self._preloaded.connect(self._finish, Qt.ConnectionType.QueuedConnection)

    @property
    def ready(self) -> bool:
        return bool(self.ids)

    def ensure(self) -> None:
        """Start loading on a background thread once the event loop runs (no-op when loaded or loading)."""
        if self.ready or self._started:
            return
        self._started = True
        QTimer.singleShot(250, self._start_thread)  # after the first paint: start-up never competes with it

    def _start_thread(self) -> None:
        def work() -> None:
            try:
                rules.preload()
                ids = rules.exchange_ids()
            except Exception as exc:  # noqa: BLE001 - shown as "not loaded"; load_now() will say why
                log.warning("loading the ccxt exchange list failed: %s", exc)
                ids = []
            self._preloaded.emit(ids)

        threading.Thread(target=work, name="ccxt-catalog", daemon=True).start()

    def _finish(self, ids) -> None:
        if ids and not self.ready:
            self.ids = list(ids)
            self.loaded.emit()

    def load_now(self) -> None:
        """Load synchronously (used when a value is needed at once, e.g. on Save)."""
        if self.ready:
            return
        rules.preload()
        self.ids = rules.exchange_ids()
        self.loaded.emit()

    def facts(self, exchange: str) -> Optional[rules.ExchangeFacts]:
        if not self.ready:
            return None
        try:
            return rules.exchange_facts(exchange)
        except rules.RuleError:
            return None


_MARKET_TYPES = (("spot", "Spot"), ("margin", "Margin"), ("swap", "Futures (perpetual swap)"))


class ExchangeSection(DetailsSection):
    """Name, exchange, account type, testnet, API type, rate limits, base URL, enabled, symbols."""

    exchange_changed = Signal(str)

    def __init__(self, catalog: ExchangeCatalog, parent=None):
        super().__init__("Exchange", parent)
        self.catalog = catalog
        self.name = QLineEdit()
        self.name.setMinimumWidth(260)
        self.add_field("name", "Name", self.name, help="Renaming moves the keyring entries along")
        self.exchange = exchange_combo([], "")
        self.add_field("exchange", "Exchange", self.exchange, help="Any exchange ccxt supports; type to search")
        self.facts_hint = QLabel()
        self.facts_hint.setObjectName("Hint")
        self.facts_hint.setWordWrap(True)
        self.form.addRow("", self.facts_hint)
        self.market_type = QComboBox()
        for key, title in _MARKET_TYPES:
            self.market_type.addItem(title, key)
        self.add_field("market_type", "Market type", self.market_type, help="ccxt defaultType of the account")
        self.position_mode = QComboBox()
        self.position_mode.addItem("One-way", "one-way")
        self.position_mode.addItem("Hedge", "hedge")
        self.add_field("position_mode", "Position mode", self.position_mode, help="Futures only")
        self.testnet = QCheckBox("Use the exchange's testnet (sandbox)")
        self.add_field("testnet", "Testnet", self.testnet)
        self.api_type = QComboBox()
        self.api_type.addItem("REST (polling)", "rest")
        self.api_type.addItem("WebSocket (ccxt.pro)", "websocket")
        self.add_field("api_type", "API type", self.api_type)
        self.rate = spin(0.0, 10_000.0, 2, 1.0, width=210)
        self.add_field("rate_limit_per_second", "Rate limit", self.rate, "requests / s",
                       "0 = the exchange's own limit (ccxt rateLimit)")
        self.concurrency = spin(1, 256)
        self.add_field("max_concurrency", "Max concurrency", self.concurrency, "requests in flight")
        self.batch = spin(1, 100_000)
        self.add_field("batch_size", "Batch size", self.batch, "items per paged request")
        self.base_url = QLineEdit()
        self.base_url.setPlaceholderText("default (ccxt's URLs)")
        self.base_url.setMinimumWidth(300)
        self.add_field("base_url", "API base URL", self.base_url,
                       help="Optional override for a self-hosted gateway or a local test exchange")
        self.symbols = QLineEdit()
        self.symbols.setPlaceholderText("BTC/USDT, ETH/USDT")
        self.symbols.setMinimumWidth(300)
        self.add_field("symbols", "Symbols", self.symbols, help="Unified ccxt symbols, comma separated")
        self.enabled = QCheckBox("Enabled")
        self.add_field("enabled", "", self.enabled)
        self.confirm_orders = QCheckBox("Ask before each live order sent by hand")
        self.confirm_orders.setObjectName("ConfirmOrders")
        self.add_field("confirm_orders", "Live orders", self.confirm_orders,
                       help="Unticked: the order ticket sends this connection's LIVE orders (real money) "
                            "without a question. For this connection only")
        self.confirm_warning = QLabel("Live orders by hand go out at once, without a question.")
        self.confirm_warning.setObjectName("FieldError")
        self.confirm_warning.setWordWrap(True)
        self.form.addRow("", self.confirm_warning)
        self.confirm_orders.toggled.connect(lambda on: self.confirm_warning.setVisible(not on))
        self._exchange_loaded = ""
        for w in (self.market_type, self.position_mode, self.api_type):
            w.currentIndexChanged.connect(self._changed)
        self.market_type.currentIndexChanged.connect(self._update_enabled)
        for w in (self.testnet, self.enabled, self.confirm_orders):
            w.toggled.connect(self._changed)
        for w in (self.rate, self.concurrency, self.batch):
            w.valueChanged.connect(self._changed)
        for w in (self.name, self.base_url, self.symbols):
            w.textChanged.connect(self._changed)
        self.exchange.currentTextChanged.connect(self._exchange_edited)
        catalog.loaded.connect(self._catalog_loaded)

    def applies_to(self, conn):
        return not conn.is_paper_replay

    def current_exchange(self) -> str:
        return self.exchange.currentText().strip().lower()

    def entered_symbols(self) -> List[str]:
        return [s.strip().upper() for s in self.symbols.text().split(",") if s.strip()]

    def load(self, conn):
        self._exchange_loaded = conn.exchange
        fill_exchange_combo(self.exchange, self.catalog.ids, conn.exchange)
        self.name.setText(conn.name)
        self.name.setReadOnly(conn.builtin)
        self.market_type.setCurrentIndex(max(self.market_type.findData(conn.market_type), 0))
        self.position_mode.setCurrentIndex(max(self.position_mode.findData(conn.position_mode), 0))
        self.testnet.setChecked(conn.testnet)
        self.api_type.setCurrentIndex(max(self.api_type.findData(conn.api_type), 0))
        self.rate.setValue(conn.rate_limit_per_second or 0.0)
        self.concurrency.setValue(conn.max_concurrency)
        self.batch.setValue(conn.batch_size)
        self.base_url.setText(conn.base_url)
        self.symbols.setText(", ".join(conn.symbols))
        self.enabled.setChecked(conn.enabled)
        self.confirm_orders.setChecked(conn.confirm_orders)
        self.confirm_warning.setVisible(not conn.confirm_orders)
        self._apply_facts(set_defaults=False)
        self.show_error(None)

    def _catalog_loaded(self) -> None:
        current = self.exchange.currentText()
        fill_exchange_combo(self.exchange, self.catalog.ids, current)
        self._apply_facts(set_defaults=False)

    def _exchange_edited(self, _text: str) -> None:
        ex = self.current_exchange()
        facts = self.catalog.facts(ex)
        if facts is not None and ex != self._exchange_loaded:
            self._exchange_loaded = ex
            self._apply_facts(set_defaults=True)
            self.exchange_changed.emit(ex)
        self._changed()

    def _apply_facts(self, set_defaults: bool) -> None:
        """Hints and defaults from ccxt: testnet on where the exchange has one, WebSocket only where
        ccxt.pro supports it, the rate limit's default shown as the spin box's special text."""
        facts = self.catalog.facts(self.current_exchange())
        ws_item = self.api_type.model().item(1)
        if facts is None:
            self.facts_hint.setText("Loading exchange details…" if not self.catalog.ready else "")
            self.rate.setSpecialValueText("exchange default")
            ws_item.setEnabled(True)
        else:
            bits = [facts.name, "testnet available" if facts.has_testnet else "no testnet in ccxt",
                    "WebSocket via ccxt.pro" if facts.websocket else "REST only",
                    "needs " + ", ".join(facts.required)]
            self.facts_hint.setText(" · ".join(bits))
            rps = facts.requests_per_second
            self.rate.setSpecialValueText(f"exchange default ({rps:g}/s)" if rps else "exchange default")
            ws_item.setEnabled(facts.websocket)
            if not facts.websocket and self.api_type.currentData() == "websocket":
                self.api_type.setCurrentIndex(0)
            if set_defaults:
                self.testnet.setChecked(facts.has_testnet)
                self.rate.setValue(0.0)
        self._update_enabled()

    def _update_enabled(self, *_a) -> None:
        self.position_mode.setEnabled(self.market_type.currentData() == "swap")

    def validate(self) -> None:
        url = self.base_url.text().strip()
        if url and not url.startswith(("http://", "https://", "ws://", "wss://")):
            raise FieldError("base_url", "must start with http(s):// or ws(s)://")
        name = self.name.text()
        if not name.strip():
            raise FieldError("name", "must not be empty")
        if name != name.strip():
            raise FieldError("name", "must not start or end with spaces")

    def apply(self, conn):
        self.validate()
        ex = self.current_exchange()
        if ex == "paper":
            raise FieldError("exchange", "the recorded-market paper exchange is the built-in connection; pick a ccxt exchange")
        if not self.catalog.ready:
            self.catalog.load_now()
        try:
            conn.exchange = rules.check_exchange(ex)
        except rules.RuleError as exc:
            raise FieldError("exchange", str(exc)) from None
        facts = self.catalog.facts(conn.exchange)
        if self.api_type.currentData() == "websocket" and facts is not None and not facts.websocket:
            raise FieldError("api_type", f"ccxt.pro has no WebSocket support for {conn.exchange}; use REST")
        conn.name = self.name.text()
        conn.market_type = self.market_type.currentData()
        conn.position_mode = self.position_mode.currentData()
        conn.testnet = self.testnet.isChecked()
        conn.api_type = self.api_type.currentData()
        conn.rate_limit_per_second = float(self.rate.value()) or None
        conn.max_concurrency = int(self.concurrency.value())
        conn.batch_size = int(self.batch.value())
        conn.base_url = self.base_url.text().strip()
        conn.symbols = self.entered_symbols()
        bad = [s for s in conn.symbols if "/" not in s]
        if bad:
            raise FieldError("symbols", f"{', '.join(bad)}: use unified symbols like BTC/USDT")
        conn.enabled = self.enabled.isChecked()
        conn.confirm_orders = self.confirm_orders.isChecked()
