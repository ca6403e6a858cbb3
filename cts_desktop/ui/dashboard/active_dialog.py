"""The "Add or remove active connections" dialog: a checkbox per connection (with its mode and
exchange); OK saves the ticked ones through :meth:`DashboardService.set_active`, whose refusal is
shown in the dialog."""
from __future__ import annotations

from typing import List

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QDialog, QDialogButtonBox, QLabel, QListWidget, QListWidgetItem, QVBoxLayout

from ...core.connection import SettingsError
from ...services.dashboard import DashboardError, DashboardService


class ActiveConnectionsDialog(QDialog):
    """Pick the Dashboard's cards. ``saved`` (the names) is set once OK stored them."""

    def __init__(self, service: DashboardService, parent=None):
        super().__init__(parent)
        self.service = service
        self.saved: List[str] = []
        self.setObjectName("ActiveConnectionsDialog")
        self.setWindowTitle("Add or remove active connections")
        lay = QVBoxLayout(self)
        hint = QLabel("Each ticked connection gets a card on the Dashboard, with its figures and its Start, "
                      "Stop and Kill buttons. Engines keep running when their card is removed.")
        hint.setWordWrap(True)
        hint.setObjectName("Hint")
        lay.addWidget(hint)
        self.list = QListWidget()
        self.list.setObjectName("ActiveList")
        active = set(service.active())
        for c in service.services.connections():
            mode = "LIVE" if c.live else "paper"
            where = f"replay of {c.dataset}" if c.is_paper_replay else c.exchange
            item = QListWidgetItem(f"{c.name}    [{mode}]  ·  {where}")
            item.setData(Qt.ItemDataRole.UserRole, c.name)
            item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
            item.setCheckState(Qt.CheckState.Checked if c.name in active else Qt.CheckState.Unchecked)
            self.list.addItem(item)
        lay.addWidget(self.list, 1)
        self.error = QLabel()
        self.error.setObjectName("FieldError")
        self.error.setWordWrap(True)
        self.error.hide()
        lay.addWidget(self.error)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        lay.addWidget(buttons)
        rows = max(3, min(self.list.count(), 12))
        self.resize(520, 150 + rows * (self.list.sizeHintForRow(0) + 2 if self.list.count() else 24))

    def checked(self) -> List[str]:
        """The ticked connections' names, in list order."""
        out = []
        for i in range(self.list.count()):
            item = self.list.item(i)
            if item.checkState() == Qt.CheckState.Checked:
                out.append(item.data(Qt.ItemDataRole.UserRole))
        return out

    def set_checked(self, names: List[str]) -> None:
        """Tick exactly ``names`` (scripts and tests)."""
        for i in range(self.list.count()):
            item = self.list.item(i)
            on = item.data(Qt.ItemDataRole.UserRole) in names
            item.setCheckState(Qt.CheckState.Checked if on else Qt.CheckState.Unchecked)

    def accept(self) -> None:
        try:
            self.saved = self.service.set_active(self.checked())
        except (DashboardError, SettingsError) as exc:
            self.error.setText(str(exc))
            self.error.show()
            return
        super().accept()
