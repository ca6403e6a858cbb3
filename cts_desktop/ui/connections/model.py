"""The table model of the Connections list: name, exchange, market, mode and engine state of each
connection, the mode and state in colour."""
from __future__ import annotations

from typing import Dict

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QFont

from ...services.connection_rules import market_label
from ...store.settings import ConnectionConfig
from .. import models as m


def _mode(c: ConnectionConfig, model) -> str:
    return "LIVE" if c.live else "PAPER"


def _market(c: ConnectionConfig, model) -> str:
    return market_label(c)


class ConnectionsModel(m.StoredTableModel):
    """Connections with their engine state (``states``: name -> state, kept by the tab)."""

    columns = (
        m.Column("name", "Name"),
        m.Column("exchange", "Exchange"),
        m.Column("market", "Market / dataset", getter=_market),
        m.Column("mode", "Mode", align="center", getter=_mode),
        m.Column("state", "Engine", getter=lambda c, mdl: mdl.states.get(c.name, "idle")),
    )

    coloured_fields = frozenset({"mode", "state"})
    eager = True  # a handful of rows: written at once, no view watching
    _BOLD_FIELDS = ("mode", "name")

    def __init__(self, parent=None):
        super().__init__(parent, key=lambda c: c.name)
        self.states: Dict[str, str] = {}
        self._bold = QFont()
        self._bold.setBold(True)

    def _cell(self, row, c, col):
        d = super()._cell(row, c, col)
        if col.field in self._BOLD_FIELDS:
            d[int(Qt.ItemDataRole.FontRole.value)] = self._bold
        return d

    def colour(self, row, col):
        if col.field == "mode":
            return QColor("#ff8a3d") if row.live else QColor("#4c9be8")
        if col.field == "state":
            return _STATE_COLOURS.get(self.states.get(row.name, "idle"))
        return super().colour(row, col)

    def set_state(self, name: str, state: str) -> None:
        self.states[name] = state
        self.refresh_columns(["state"])


_STATE_COLOURS = {
    "running": m.GREEN, "paused": m.AMBER, "initializing": m.AMBER, "stopping": m.AMBER,
    "error": m.RED, "stopped": m.MUTED, "idle": m.MUTED,
}
