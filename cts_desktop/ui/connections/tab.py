"""The Connections tab: the list of connections (with Add / Duplicate / Delete) on the left and
the selected one's :class:`~.details.ConnectionDetails` on the right. Adding, duplicating and
deleting are :mod:`cts_desktop.services.connections`; the tab asks and reports."""
from __future__ import annotations

from typing import Optional

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (QAbstractItemView, QHBoxLayout, QHeaderView, QLabel, QMessageBox, QPushButton, QSplitter,
                               QTableView, QVBoxLayout, QWidget)

from ...services import connections as conn_service
from ...services.connection_rules import BUSY_STATES, RuleError
from ...store.secrets import NoSecureKeyringError, SecretStoreError
from ...store.settings import SettingsError
from .base import repolish
from .details import ConnectionDetails
from .dialogs import AddConnectionDialog
from .model import ConnectionsModel


class ConnectionsTab(QWidget):
    """The list of connections (left, with Add / Duplicate / Delete) and the selected one's
    details (right).

    ``selected(name)`` is emitted when the user picks a connection in the list; ``saved(name)``
    after a successful save or live switch; ``renamed(old, new)``; ``removed(name)``.
    """

    selected = Signal(str)
    saved = Signal(str)
    renamed = Signal(str, str)
    removed = Signal(str)

    def __init__(self, services, parent=None):
        super().__init__(parent)
        self.services = services
        self.dialog = None
        self.model = ConnectionsModel(self)
        self.table = QTableView()
        self.table.setObjectName("ConnectionsTable")
        self.table.setModel(self.model)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().setVisible(False)
        self.table.setShowGrid(False)
        self.table.setAlternatingRowColors(True)
        hh = self.table.horizontalHeader()
        hh.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        hh.setStretchLastSection(True)
        self.table.selectionModel().currentRowChanged.connect(self._row_changed)

        left = QWidget()
        ll = QVBoxLayout(left)
        ll.setContentsMargins(12, 8, 6, 8)
        heading = QLabel("Connections")
        heading.setObjectName("SectionTitle")
        self.list_actions = QHBoxLayout()
        self.list_actions.addWidget(heading)
        self.list_actions.addStretch(1)
        self.add_button = QPushButton("Add…")
        self.add_button.setObjectName("AddConnectionButton")
        self.duplicate_button = QPushButton("Duplicate")
        self.duplicate_button.setObjectName("DuplicateConnectionButton")
        self.duplicate_button.setToolTip("Copy the settings (not the credentials) into a new connection")
        self.delete_button = QPushButton("Delete…")
        self.delete_button.setObjectName("DeleteConnectionButton")
        self.delete_button.setToolTip("Delete the connection and its keyring entries")
        for b in (self.add_button, self.duplicate_button, self.delete_button):
            self.list_actions.addWidget(b)
        self.add_button.clicked.connect(self.add_connection)
        self.duplicate_button.clicked.connect(self.duplicate_connection)
        self.delete_button.clicked.connect(self.delete_connection)
        ll.addLayout(self.list_actions)
        ll.addWidget(self.table, 1)
        self.list_status = QLabel()
        self.list_status.setObjectName("SaveStatus")
        self.list_status.setWordWrap(True)
        ll.addWidget(self.list_status)
        self.live_hint = QLabel()
        self.live_hint.setObjectName("Hint")
        self.live_hint.setWordWrap(True)
        ll.addWidget(self.live_hint)

        self.details = ConnectionDetails(services)
        self.details.saved.connect(self._saved)
        self.details.renamed.connect(self._renamed)
        self.details.test_finished.connect(self._tested)

        self.splitter = QSplitter(Qt.Orientation.Horizontal)
        self.splitter.setObjectName("ConnectionsSplitter")
        # Explicit minimums: the panes may be narrower than their rows of buttons (a small window
        # clips them rather than growing past the screen).
        left.setMinimumWidth(300)
        self.details.setMinimumWidth(360)
        self.splitter.addWidget(left)
        self.splitter.addWidget(self.details)
        self.splitter.setStretchFactor(0, 1)
        self.splitter.setStretchFactor(1, 1)
        self.splitter.setSizes([560, 640])
        self.splitter.setChildrenCollapsible(False)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addWidget(self.splitter)
        self.refresh()

    def refresh(self, select: Optional[str] = None) -> None:
        current = select or (self.details.conn.name if self.details.conn else None)
        conns = self.services.connections()
        for c in conns:
            self.model.states[c.name] = self.services.engine_state(c.name)
        self.model.set_records(conns)
        live = [c.name for c in conns if c.live]
        self.live_hint.setText(
            f"Live (real orders): {', '.join(live)}" if live else "All connections trade on paper: no real orders are sent.")
        if conns:
            self.select(current if current in {c.name for c in conns} else conns[0].name)
        self._update_buttons()

    def select(self, name: str) -> None:
        i = self.model.row_of(name)
        if i is None:
            return
        if self.table.currentIndex().row() != i:
            self.table.selectRow(i)
            self.table.setCurrentIndex(self.model.index(i, 0))
        elif self.details.conn is None or self.details.conn.name != name:
            self.details.load(self.services.connection(name))
        self._update_buttons()

    def set_state(self, name: str, state: str) -> None:
        self.model.set_state(name, state)
        self._update_buttons()

    def _update_buttons(self) -> None:
        conn = self.details.conn
        self.duplicate_button.setEnabled(conn is not None)
        self.delete_button.setEnabled(conn is not None and not conn.builtin)

    def _row_changed(self, current, _previous) -> None:
        if not current.isValid():
            return
        conn = self.model.record(current.row())
        shown = self.details.conn
        if shown is None or shown.name != conn.name or self.details.dirty \
                or shown is not self.services.settings.connections.get(conn.name):
            self.details.load(self.services.connection(conn.name))
        self._update_buttons()
        self.selected.emit(conn.name)

    def _saved(self, name: str) -> None:
        self.refresh(select=name)
        self.saved.emit(name)

    def _renamed(self, old: str, new: str) -> None:
        self.refresh(select=new)
        self.renamed.emit(old, new)

    def _tested(self, name: str) -> None:
        if name in self.services.settings.connections:
            self.model.upsert([self.services.connection(name)])

    def _say(self, text: str, error: bool = False) -> None:
        self.list_status.setProperty("error", error)
        repolish(self.list_status)
        self.list_status.setText(text)

    # -- add / duplicate / delete ---------------------------------------------------------------------
    def add_connection(self) -> AddConnectionDialog:
        """Open the Add dialog (loading ccxt's exchange list first if needed); returns it."""
        catalog = self.details.catalog
        if not catalog.ready:
            self._say("Loading the list of exchanges…")
            catalog.load_now()
            self._say("")
        dlg = AddConnectionDialog(self.services.settings.connections, catalog.ids,
                                  conn_service.unique_name(self.services.settings, "New connection"), self)
        dlg.accepted.connect(lambda: self._create(*dlg.values()))
        self.dialog = dlg
        dlg.open()
        return dlg

    def _create(self, name: str, exchange: str) -> None:
        try:
            conn = conn_service.new_exchange_connection(name, exchange, self.services.app_settings)
            conn_service.add(self.services.settings, conn)
        except SettingsError as exc:
            self._say(f"Not added: {exc}", error=True)
            return
        self._say(f"Added {name!r}: enter its API credentials, save, then press Test Connection.")
        self.saved.emit(name)  # first: the window's connection selector learns the name
        self.refresh(select=name)

    def duplicate_connection(self) -> Optional[str]:
        """Copy the selected connection's settings (never its credentials, test or live switch)."""
        src = self.details.conn
        if src is None:
            return None
        try:
            new = conn_service.duplicate(self.services.settings, src.name)
        except SettingsError as exc:
            self._say(f"Not duplicated: {exc}", error=True)
            return None
        extra = (" Credentials were NOT copied: enter them for the new connection." if src.credential_fields
                 else "")
        self._say(f"Duplicated {src.name!r} as {new.name!r}: settings copied.{extra}")
        self.saved.emit(new.name)
        self.refresh(select=new.name)
        return new.name

    def delete_connection(self) -> Optional[QMessageBox]:
        """Ask, then delete the selected connection and its keyring entries; returns the question."""
        conn = self.details.conn
        if conn is None or conn.builtin:
            return None
        if self.services.engine_state(conn.name) in BUSY_STATES:
            self._say(f"Stop {conn.name!r} before deleting it.", error=True)
            return None
        box = QMessageBox(QMessageBox.Icon.Warning, "Delete connection",
                          f"Delete {conn.name!r} and its API credentials from the keyring?\n"
                          "Its trade history stays in the database.",
                          QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.Cancel, self)
        box.setDefaultButton(QMessageBox.StandardButton.Cancel)
        name = conn.name
        box.accepted.connect(lambda: self.remove(name))
        self.dialog = box
        box.open()
        return box

    def remove(self, name: str) -> bool:
        """Delete ``name``: keyring entries first (kept, with the reason, if the keyring refuses)."""
        try:
            removed = conn_service.remove(self.services.settings, name, self.details.keyring.store)
        except (NoSecureKeyringError, SecretStoreError) as exc:
            self._say(f"Not deleted: its credentials could not be removed from the keyring: {exc}", error=True)
            return False
        except (SettingsError, RuleError) as exc:
            self._say(f"Not deleted: {exc}", error=True)
            return False
        self._say(f"Deleted {name!r}" + (f" and its keyring entries ({', '.join(removed)})." if removed else "."))
        self.details.load(None)
        self.refresh()
        self.removed.emit(name)
        return True
