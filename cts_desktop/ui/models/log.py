"""The activity log table and its filter (category, minimum level, text)."""
from __future__ import annotations

from typing import Iterable, Optional

from PySide6.QtCore import QSortFilterProxyModel

from .cells import AMBER, LEVEL, RED, TIME_S, WALL, Column
from .stored import StoredTableModel


def _first_line(e, model) -> str:
    msg = e.message
    i = msg.find("\n")
    return msg if i < 0 else msg[:i] + "  …"


class LogModel(StoredTableModel):
    """Engine log lines (``LogEvent``), oldest first, capped at ``max_rows`` (oldest dropped).

    The time column is market time (UTC); lines logged before the first candle have none and show
    the wall-clock time instead (the "Logged" column is always the local wall clock)."""

    cacheable = True
    coloured_fields = frozenset({"message", "category"})

    columns = (
        Column("timestamp", "Market time (UTC)", TIME_S, "left",
               getter=lambda e, m: e.timestamp or (int(e.wall_time * 1000) if e.wall_time else None)),
        Column("wall_time", "Logged", WALL, "left", tip="Local wall-clock time the line was written"),
        Column("category", "Category", sample="position"),
        Column("level", "Level", LEVEL),
        Column("message", "Message", getter=_first_line),
    )

    def __init__(self, parent=None, max_rows: int = 20_000):
        super().__init__(parent, max_rows=max_rows)

    def colour(self, row, col):
        if col.field == "message" and row.level != "info":
            return RED if row.level == "error" else AMBER
        if col.field == "category":
            return RED if row.category == "error" else None
        return super().colour(row, col)

    def tooltip(self, row, col):
        if col.field == "message" and ("\n" in row.message or len(row.message) > 80):
            return row.message
        return None


class LogFilterProxy(QSortFilterProxyModel):
    """Filters a :class:`LogModel` by category set, minimum level and a case-insensitive text."""

    LEVELS = {"info": 0, "warning": 1, "error": 2}

    def __init__(self, source: LogModel, parent=None):
        super().__init__(parent)
        self.setSourceModel(source)
        self._src = source
        self._categories: Optional[set] = None
        self._min_level = 0
        self._text = ""

    def set_filter(self, categories: Optional[Iterable[str]] = None, min_level: str = "info", text: str = "") -> None:
        new_filter = hasattr(self, "beginFilterChange")  # Qt >= 6.9; invalidateFilter() is deprecated
        if new_filter:
            self.beginFilterChange()
        self._categories = set(categories) if categories is not None else None
        self._min_level = self.LEVELS.get(min_level, 0)
        self._text = text.strip().lower()
        if new_filter:
            self.endFilterChange(QSortFilterProxyModel.Direction.Rows)
        else:
            self.invalidateFilter()

    @property
    def active(self) -> bool:
        return self._categories is not None or self._min_level > 0 or bool(self._text)

    def filterAcceptsRow(self, source_row: int, source_parent) -> bool:  # noqa: N802 - Qt API
        if not self.active:
            return True
        e = self._src._rows[source_row]
        if self._categories is not None and e.category not in self._categories:
            return False
        if self._min_level and self.LEVELS.get(e.level, 0) < self._min_level:
            return False
        if self._text and self._text not in e.message.lower() and self._text not in e.category:
            return False
        return True
