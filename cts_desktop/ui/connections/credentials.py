"""The API credentials box of the details panel: one password field per credential the exchange
requires. Stored values are only ever shown masked; the entered ones go only to the OS keyring,
when the panel saves (:func:`cts_desktop.services.connections.store_connection`)."""
from __future__ import annotations

from typing import Dict, List

from PySide6.QtWidgets import QCheckBox, QLabel, QLineEdit, QVBoxLayout, QWidget

from ...store.secrets import SecretStoreError, mask
from .base import DetailsSection


class CredentialsSection(DetailsSection):
    """One password-mode field per credential the exchange requires. Stored values are only ever
    shown masked (``secrets.mask``); an empty field keeps the stored value. Nothing here is
    written anywhere: :meth:`ConnectionDetails.save` moves the entered values to the keyring."""

    def __init__(self, details, parent=None):
        super().__init__("API credentials (kept in the OS keyring)", parent)
        self.details = details
        self.keyring_note = QLabel()
        self.keyring_note.setObjectName("KeyringNote")
        self.keyring_note.setWordWrap(True)
        self.form.addRow(self.keyring_note)
        self.edits: Dict[str, QLineEdit] = {}
        self.stored: Dict[str, QLabel] = {}
        self.forget = QCheckBox("Remove the stored credentials on Save (public market data only)")
        self.forget.setObjectName("field_forget_credentials")
        self.forget.toggled.connect(self._changed)
        self._fields: List[str] = []
        self._rows_start = 1
        self.form.addRow(self.forget)
        self.keyring_ok = False

    def applies_to(self, conn):
        return not conn.is_paper_replay

    def _required(self, exchange: str, fallback: List[str]) -> List[str]:
        facts = self.details.catalog.facts(exchange)
        if facts is not None:
            return list(facts.required)
        return list(fallback) or ["apiKey", "secret"]

    def _build(self, fields: List[str]) -> None:
        keep = {f: e.text() for f, e in self.edits.items()}
        for _ in self._fields:
            self.form.removeRow(self._rows_start)
        for name in list(self._errors):
            del self._errors[name]
        self.edits, self.stored = {}, {}
        self._fields = list(fields)
        for i, field in enumerate(fields):
            edit = QLineEdit()
            edit.setEchoMode(QLineEdit.EchoMode.Password)
            edit.setMinimumWidth(300)
            edit.setText(keep.get(field, ""))
            edit.textChanged.connect(self._changed)
            stored = QLabel()
            stored.setObjectName("Hint")
            box = QWidget()
            bl = QVBoxLayout(box)
            bl.setContentsMargins(0, 0, 0, 0)
            bl.setSpacing(2)
            bl.addWidget(edit)
            bl.addWidget(stored)
            err = QLabel()
            err.setObjectName("FieldError")
            err.setVisible(False)
            bl.addWidget(err)
            edit.setObjectName(f"field_{field}")
            self._errors[field] = err
            self.form.insertRow(self._rows_start + i, field, box)
            self.edits[field] = edit
            self.stored[field] = stored

    def set_exchange(self, exchange: str) -> None:
        fields = self._required(exchange, self._fields)
        if fields != self._fields:
            self._build(fields)
            self._show_stored(self.details.conn)

    def load(self, conn):
        self._build(self._required(conn.exchange, conn.credential_fields))
        for e in self.edits.values():
            e.clear()
        self.forget.setChecked(False)
        self._show_stored(conn)
        self.show_error(None)

    def _show_stored(self, conn) -> None:
        ok, message = self.details.keyring.status()
        self.keyring_ok = ok
        stored: Dict[str, str] = {}
        if ok and conn is not None:
            try:
                stored = self.details.keyring.stored(conn)
            except SecretStoreError as exc:
                ok, message = False, str(exc)
        if ok:
            self.keyring_note.setText(f"Secrets never leave the OS keyring ({message}). Leave a field empty to keep "
                                      "the stored value.")
            self.keyring_note.setStyleSheet("")
        else:
            self.keyring_note.setText("Credentials cannot be stored: " + message)
            self.keyring_note.setStyleSheet("QLabel { color: #ffd9d7; background: #4a1f22; border: 1px solid #803035;"
                                            " border-radius: 4px; padding: 6px; }")
        for field, edit in self.edits.items():
            edit.setEnabled(ok)
            value = stored.get(field)
            edit.setPlaceholderText("enter to replace the stored value" if value else f"enter the {field}")
            self.stored[field].setText(f"stored: {mask(value, field)}" if value else "not stored")
        self.forget.setEnabled(ok and bool(stored))
        self.stored_values_count = len(stored)

    def entered(self) -> Dict[str, str]:
        """Non-empty entered values (whitespace stripped)."""
        return {f: e.text().strip() for f, e in self.edits.items() if e.text().strip()}

    def clear_entered(self) -> None:
        for e in self.edits.values():
            e.blockSignals(True)
            e.clear()
            e.blockSignals(False)
        self.forget.setChecked(False)

    def apply(self, conn):
        pass  # see ConnectionDetails.save: credentials go to the keyring, never into conn
