"""Dialogs of the Connections tab: a new exchange connection, and the live-trading confirmation;
and the searchable exchange-id combo box they share with the Exchange box.

Both are opened with ``open()`` (window-modal, never a nested ``exec()`` loop, so the qasync loop
keeps running engines and tests can drive them) and report through ``accepted``.
"""
from __future__ import annotations

from typing import Iterable, List

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (QComboBox, QCompleter, QDialog, QDialogButtonBox, QFormLayout, QLabel, QLineEdit,
                               QPushButton, QVBoxLayout)

from ...services import connection_rules as rules
from ...store.settings import ConnectionConfig
from ..widgets import fit_height


def exchange_combo(ids: Iterable[str], current: str = "") -> QComboBox:
    """An editable combo of exchange ids with a contains-anywhere, case-insensitive completer."""
    combo = QComboBox()
    combo.setEditable(True)
    combo.setInsertPolicy(QComboBox.InsertPolicy.NoInsert)
    combo.setMaxVisibleItems(16)
    combo.setMinimumWidth(220)
    fill_exchange_combo(combo, ids, current)
    return combo


def fill_exchange_combo(combo: QComboBox, ids: Iterable[str], current: str) -> None:
    ids = sorted(set(ids) | ({current} if current else set()))
    combo.blockSignals(True)
    combo.clear()
    combo.addItems(ids)
    combo.setCurrentText(current)
    combo.blockSignals(False)
    completer = QCompleter(ids, combo)
    completer.setCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)
    completer.setFilterMode(Qt.MatchFlag.MatchContains)
    completer.setCompletionMode(QCompleter.CompletionMode.PopupCompletion)
    combo.setCompleter(completer)


class AddConnectionDialog(QDialog):
    """Name and exchange of a new connection. OK is enabled only for a free, non-empty name and a
    known ccxt exchange id; the reason is shown under the form."""

    def __init__(self, taken: Iterable[str], exchange_ids: List[str], name: str = "", parent=None):
        super().__init__(parent)
        self.setWindowTitle("Add exchange connection")
        self.setObjectName("AddConnectionDialog")
        self._taken = set(taken)
        self._ids = set(exchange_ids)
        self.name = QLineEdit(name)
        self.name.setObjectName("field_new_name")
        self.exchange = exchange_combo(exchange_ids, "binance" if "binance" in self._ids else "")
        self.exchange.setObjectName("field_new_exchange")
        self.error = QLabel()
        self.error.setObjectName("FieldError")
        self.error.setWordWrap(True)
        hint = QLabel("Type to search the exchanges ccxt supports. Credentials, testnet and the rest are set in the "
                      "details panel next; the connection paper-trades until you test it and switch it live.")
        hint.setObjectName("Hint")
        hint.setWordWrap(True)
        form = QFormLayout()
        form.addRow("Name", self.name)
        form.addRow("Exchange", self.exchange)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        lay = QVBoxLayout(self)
        lay.addLayout(form)
        lay.addWidget(hint)
        lay.addWidget(self.error)
        lay.addWidget(self.buttons)
        self.name.textChanged.connect(self._check)
        self.exchange.currentTextChanged.connect(self._check)
        self.error.setMinimumHeight(2 * self.error.fontMetrics().lineSpacing())  # room for a two-line reason
        self._check()
        fit_height(self, 460)

    @property
    def ok_button(self) -> QPushButton:
        return self.buttons.button(QDialogButtonBox.StandardButton.Ok)

    def problem(self) -> str:
        name = self.name.text()
        if not name.strip():
            return "Enter a name for the connection."
        if name != name.strip():
            return "The name must not start or end with spaces."
        if name in self._taken:
            return f"A connection called {name!r} already exists."
        if self.exchange.currentText().strip().lower() not in self._ids:
            return f"{self.exchange.currentText()!r} is not an exchange ccxt supports; pick one from the list."
        return ""

    def _check(self, *_a) -> None:
        why = self.problem()
        self.error.setText(why)
        self.ok_button.setEnabled(not why)

    def accept(self) -> None:  # noqa: D401 - Qt API
        if not self.problem():
            super().accept()

    def values(self):
        return self.name.text(), self.exchange.currentText().strip().lower()


class LiveConfirmDialog(QDialog):
    """Names the exchange, the account type, testnet or not, and that real orders will be sent;
    the trader must type the connection name. OK is enabled only for an exact match."""

    def __init__(self, conn: ConnectionConfig, parent=None):
        super().__init__(parent)
        self.conn = conn
        self.setWindowTitle(f"Switch {conn.name} to LIVE trading?")
        self.setObjectName("LiveConfirmDialog")
        head = QLabel(f"<b>Switch “{conn.name}” to LIVE trading</b>")
        lines = rules.confirmation_lines(conn)
        body = QLabel("<br>".join(lines))
        body.setObjectName("LiveConfirmText")
        body.setWordWrap(True)
        body.setTextFormat(Qt.TextFormat.RichText)
        body.setStyleSheet("QLabel { background: #4a1f22; color: #ffd9d7; border: 1px solid #803035; "
                           "border-radius: 4px; padding: 8px; }")
        ask = QLabel(f"Type the connection name (<b>{conn.name}</b>) to confirm:")
        self.typed = QLineEdit()
        self.typed.setObjectName("field_confirm_name")
        self.typed.setPlaceholderText(conn.name)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        self.ok_button.setText("Send real orders")
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        lay = QVBoxLayout(self)
        lay.addWidget(head)
        lay.addWidget(body)
        lay.addWidget(ask)
        lay.addWidget(self.typed)
        lay.addWidget(self.buttons)
        self.typed.textChanged.connect(lambda t: self.ok_button.setEnabled(rules.confirmed(conn, t)))
        self.ok_button.setEnabled(False)
        fit_height(self, 520)

    @property
    def ok_button(self) -> QPushButton:
        return self.buttons.button(QDialogButtonBox.StandardButton.Ok)

    def matches(self) -> bool:
        return rules.confirmed(self.conn, self.typed.text())
