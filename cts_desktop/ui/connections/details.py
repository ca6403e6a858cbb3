"""The details panel of the Connections tab: a header (name, mode badge, live switch), the stack of
:class:`~.base.DetailsSection` boxes, and Save / Revert with an inline status line.

Save validates every box into a copy of the connection and hands it to
:func:`cts_desktop.services.connections.store_connection` (credentials to the keyring first, the
settings file after, the keyring undone when the file cannot be written). The connection test
runs in :class:`~.tester.ConnectionTester`, the live switch in :class:`~.live.LiveSwitch`.
"""
from __future__ import annotations

import copy
from typing import List, Optional

from PySide6.QtCore import QTimer, Signal
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QPushButton, QScrollArea, QSizePolicy, QVBoxLayout, QWidget

from ...services import connection_rules as rules
from ...services import connections as conn_service
from ...services.connection_rules import RuleError
from ...services.datasets import dataset_symbols
from ...store.secrets import NoSecureKeyringError, SecretStore, SecretStoreError
from ...store.settings import ConnectionConfig, SettingsError
from ..widgets import WrapBody
from .base import DetailsSection, FieldError, describe_connection, repolish
from .conntest_panel import TestSection
from .credentials import CredentialsSection
from .exchange_section import ExchangeCatalog, ExchangeSection
from .live import LiveSwitch
from .sections import ReplaySection, RiskSection
from .strategy_sections import ExtraStrategiesSection, StrategySection, sync_strategies
from .tester import ConnectionTester


class ConnectionDetails(QWidget):
    """Header (name, mode badge, live switch), the sections, and Save / Revert with an inline
    status line. Owns the keyring handle (:attr:`keyring`) and the running connection test.

    ``open_secrets``: how the keyring is opened (``SecretStore.open``; tests swap in a refused
    backend). Every keyring problem is shown inline; nothing falls back to plaintext.
    """

    saved = Signal(str)
    renamed = Signal(str, str)
    test_finished = Signal(str)

    def __init__(self, services, parent=None):
        super().__init__(parent)
        self.services = services
        self.conn: Optional[ConnectionConfig] = None
        self.sections: List[DetailsSection] = []
        self._dirty = False
        self.keyring = conn_service.Keyring(SecretStore.open)
        self.catalog = ExchangeCatalog(self)
        self.tester = ConnectionTester(self)
        self.live = LiveSwitch(self)

        self.title = QLabel("No connection selected")
        self.title.setObjectName("DetailsTitle")
        self.title.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)  # long names never widen the window
        self.badge = QLabel()
        self.badge.setObjectName("Badge")
        self.live_button = QPushButton("Go live…")
        self.live_button.setObjectName("LiveButton")
        self.live_button.clicked.connect(self.toggle_live)
        self.subtitle = QLabel()
        self.subtitle.setObjectName("Hint")
        self.subtitle.setWordWrap(True)
        head = QHBoxLayout()
        head.addWidget(self.title, 1)
        head.addWidget(self.badge)
        head.addWidget(self.live_button)

        self._body = WrapBody()  # wrapped warnings and results get their whole height
        self._body_lay = QVBoxLayout(self._body)
        self._body_lay.setContentsMargins(0, 0, 8, 0)
        self._body_lay.setSpacing(10)
        self._body_lay.addStretch(1)
        self.scroll = QScrollArea()
        self.scroll.setWidgetResizable(True)
        self.scroll.setFrameShape(QFrame.Shape.NoFrame)
        self.scroll.setWidget(self._body)

        self.status = QLabel()
        self.status.setObjectName("SaveStatus")
        self.status.setWordWrap(True)
        self.save_button = QPushButton("Save")
        self.save_button.setObjectName("PrimaryButton")
        self.revert_button = QPushButton("Revert")
        self.save_button.clicked.connect(self.save)
        self.revert_button.clicked.connect(self.revert)
        foot = QHBoxLayout()
        foot.addWidget(self.status, 1)
        foot.addWidget(self.revert_button)
        foot.addWidget(self.save_button)

        lay = QVBoxLayout(self)
        lay.setContentsMargins(12, 8, 12, 8)
        lay.addLayout(head)
        lay.addWidget(self.subtitle)
        lay.addWidget(self.scroll, 1)
        lay.addLayout(foot)

        self.exchange_section = ExchangeSection(self.catalog)
        self.credentials_section = CredentialsSection(self)
        self.test_section = TestSection()
        self.replay_section = ReplaySection()
        self.strategy_section = StrategySection(services.config_dir)
        self.extra_strategies_section = ExtraStrategiesSection()
        self.risk_section = RiskSection()
        for s in (self.exchange_section, self.credentials_section, self.test_section, self.replay_section,
                  self.strategy_section, self.extra_strategies_section, self.risk_section):
            self.add_section(s)
        self.exchange_section.exchange_changed.connect(self.credentials_section.set_exchange)
        self.catalog.loaded.connect(self._catalog_loaded)
        self.test_section.test_button.clicked.connect(self.start_test)
        self.test_section.cancel_button.clicked.connect(self.cancel_test)
        self._set_dirty(False)

    # -- keyring ------------------------------------------------------------------------------------
    @property
    def open_secrets(self):
        return self.keyring.opener

    @open_secrets.setter
    def open_secrets(self, opener) -> None:
        self.keyring.opener = opener

    def reset_keyring(self) -> None:
        """Forget the opened keyring (after ``open_secrets`` changed) and show the new state."""
        self.keyring.reset()
        if self.conn is not None:
            self.load(self.services.connection(self.conn.name))

    # -- the test and the live switch (see ConnectionTester, LiveSwitch) ----------------------------
    @property
    def test_task(self):
        return self.tester.task

    @property
    def test_name(self) -> Optional[str]:
        return self.tester.name

    @property
    def test_timeout(self) -> float:
        return self.tester.timeout

    @test_timeout.setter
    def test_timeout(self, seconds: float) -> None:
        self.tester.timeout = seconds

    def start_test(self):
        """Run the shown connection's test as a task on the loop (see :meth:`ConnectionTester.start`)."""
        return self.tester.start()

    def cancel_test(self) -> None:
        self.tester.cancel()

    @property
    def live_dialog(self):
        return self.live.dialog

    def toggle_live(self) -> None:
        self.live.toggle()

    # -- sections -----------------------------------------------------------------------------------
    def add_section(self, section: DetailsSection, index: Optional[int] = None) -> None:
        """Add a box to the panel (``index``: position among the sections, default last)."""
        pos = len(self.sections) if index is None else index
        self.sections.insert(pos, section)
        self._body_lay.insertWidget(pos, section)
        section.edited.connect(self._edited)
        if self.conn is not None:
            section.setVisible(section.applies_to(self.conn))
            section.load(self.conn)

    def section(self, cls):
        return next((s for s in self.sections if isinstance(s, cls)), None)

    def _catalog_loaded(self) -> None:
        if self.conn is not None and not self.conn.is_paper_replay:
            self.credentials_section.set_exchange(self.exchange_section.current_exchange())

    def load(self, conn: Optional[ConnectionConfig]) -> None:
        same = conn is not None and self.conn is not None and self.conn.name == conn.name
        self.conn = conn
        for s in self.sections:
            s.setEnabled(conn is not None)
        if conn is None:
            self.title.setText("No connection selected")
            self.badge.setText("")
            self.subtitle.setText("")
            self.live_button.setVisible(False)
            return
        if not conn.is_paper_replay:
            self.catalog.ensure()
        self.title.setText(conn.name)
        self.badge.setText("LIVE" if conn.live else "PAPER")
        self.badge.setProperty("live", conn.live)
        repolish(self.badge)
        self.live_button.setVisible(not conn.is_paper_replay)
        self.live_button.setText("Back to paper" if conn.live else "Go live…")
        self.subtitle.setText(describe_connection(conn))
        for s in self.sections:
            s.setVisible(s.applies_to(conn))
            s.blockSignals(True)
            try:
                s.load(conn)
            finally:
                s.blockSignals(False)
        self._sync_strategies()
        self.tester.show_state(conn.name)
        if not same:
            self.status.setText("")
        self._set_dirty(False)

    def reload_if_clean(self, name: str) -> None:
        """Reload the shown connection from the settings unless the user is editing it."""
        if self.conn is not None and self.conn.name == name and not self._dirty:
            try:
                self.load(self.services.connection(name))
            except KeyError:
                self.load(None)

    def _edited(self) -> None:
        self._set_dirty(True)
        self.status.setText("")
        self._sync_strategies()

    # -- strategies ---------------------------------------------------------------------------------
    def available_symbols(self) -> List[str]:
        """The shown connection's symbols as entered, before Save: the picked dataset's for a
        replay, the Exchange section's symbols field otherwise."""
        if self.conn is None:
            return []
        if self.conn.is_paper_replay:
            return dataset_symbols(self.replay_section.dataset.currentData())
        return self.exchange_section.entered_symbols()

    def _sync_strategies(self) -> None:
        """Offer the current symbols to every strategy form and show what their sizes add up to
        under the risk limits as entered (hints and warnings; nothing is blocked)."""
        if self.conn is not None:
            sync_strategies(self.strategy_section, self.extra_strategies_section, self.available_symbols(),
                            self.risk_section.entered())

    def _set_dirty(self, dirty: bool) -> None:
        self._dirty = dirty
        self.revert_button.setEnabled(dirty)
        self.save_button.setEnabled(dirty and self.conn is not None)

    @property
    def dirty(self) -> bool:
        return self._dirty

    def revert(self) -> None:
        if self.conn is not None:
            self.load(self.services.connection(self.conn.name))

    # -- save ---------------------------------------------------------------------------------------
    def save(self) -> bool:
        """Validate every section and save a copy of the connection; credentials go to the keyring
        first (undone if the settings cannot be written). False, with the error shown inline, when
        a value is not acceptable or the keyring refuses."""
        if self.conn is None:
            return False
        before = self.services.connection(self.conn.name)
        new = copy.deepcopy(before)
        if not self._apply_sections(new):
            return False
        settings = self.services.settings
        try:
            new.validate()
        except SettingsError as exc:
            self.say_error(f"Not saved: {exc}")
            return False
        if new.name != before.name:
            try:
                conn_service.check_rename(settings, before, new.name, self.services.engine_state(before.name))
            except RuleError as exc:
                if new.name in settings.connections:
                    self.exchange_section.show_error("name", "another connection has this name")
                self.say_error(f"Not saved: {exc}")
                return False
        creds = self.credentials_section
        entered = creds.entered() if not new.is_paper_replay else {}
        store, current, final = None, None, None
        if entered or creds.forget.isChecked() or (new.name != before.name and before.credential_fields):
            try:
                store = self.keyring.store()
                current = self.keyring.stored(before)
            except (NoSecureKeyringError, SecretStoreError) as exc:
                self.say_error("Not saved, nothing was stored: " + str(exc))
                return False
            final = {} if creds.forget.isChecked() else {**current, **entered}
        fields = sorted(final) if final is not None else list(before.credential_fields)
        try:
            conn_service.check_credentials(new.exchange, fields)
        except RuleError as exc:
            creds.show_error(next((f for f in creds.edits if f not in fields), None), "required")
            self.say_error(f"Not saved: {exc}")
            return False
        creds_changed = final is not None and final != current
        note = rules.invalidate_test(before, new, creds_changed)
        new.credential_fields = fields
        try:
            conn_service.store_connection(settings, new, old_name=before.name, keyring=store, current=current,
                                          final=final)
        except (SettingsError, SecretStoreError) as exc:
            self.say_error(f"Not saved: {exc}")
            return False
        creds.clear_entered()
        self.conn = new
        self.load(new)
        notes = [note] if note else []
        if creds_changed:
            notes.append("Credentials stored in the keyring." if final else "Credentials removed from the keyring.")
        if self.services.engine_state(new.name) in rules.BUSY_STATES:
            notes.append("The running engine keeps its settings; they apply at the next start.")
        warning = rules.testnet_warning(new) if not new.is_paper_replay and self.catalog.ready else None
        if warning:
            notes.append(warning)
        self.say_ok("Saved. " + " ".join(n[:1].upper() + n[1:] + ("" if n.endswith(".") else ".") for n in notes))
        if new.name != before.name:
            self.renamed.emit(before.name, new.name)
        self.saved.emit(new.name)
        return True

    def _apply_sections(self, new: ConnectionConfig) -> bool:
        """Write every applicable section into ``new``; False (the error shown inline) at the first bad value."""
        for s in self.sections:
            if not s.applies_to(new):
                continue
            try:
                s.apply(new)
            except FieldError as exc:
                s.show_error(exc.field, exc.message)
                self.say_error(f"Not saved: {exc.label}: {exc.message}")
                QTimer.singleShot(0, lambda s=s: self._reveal_error(s))
                return False
            s.show_error(None)
        return True

    def _reveal_error(self, section: DetailsSection) -> None:
        """Scroll the first error line shown in ``section`` into view (it may be far below)."""
        shown = [lbl for lbl in section.findChildren(QLabel, "FieldError") if lbl.isVisible() and lbl.text()]
        if shown:
            self.scroll.ensureWidgetVisible(shown[0], 50, 80)

    # -- status line --------------------------------------------------------------------------------
    def say_ok(self, text: str) -> None:
        self.status.setProperty("error", False)
        repolish(self.status)
        self.status.setText(text)

    def say_error(self, text: str) -> None:
        self.status.setProperty("error", True)
        repolish(self.status)
        self.status.setText(text)
