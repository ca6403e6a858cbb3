"""The activity log table and its filter (category, minimum level, text)."""
from __future__ import annotations

from typing import Iterable, List, Optional

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


class LogFilter:
    """Which log lines to show: a category set (None = all), a minimum level and a
    case-insensitive text (in the message or the category). :meth:`select` filters a list in
    one tight loop (100,000 lines in a few tens of ms), so a filtered table is a second
    :class:`LogModel` holding the matching lines, not a proxy that calls Python once per row."""

    LEVELS = {"info": 0, "warning": 1, "error": 2}

    def __init__(self, categories: Optional[Iterable[str]] = None, min_level: str = "info", text: str = ""):
        self.categories = set(categories) if categories is not None else None
        self.min_level = self.LEVELS.get(min_level, 0)
        self.text = text.strip().lower()

    @property
    def active(self) -> bool:
        return self.categories is not None or self.min_level > 0 or bool(self.text)

    def select(self, lines: Iterable) -> List:
        """The lines of ``lines`` that pass, in their order."""
        out = list(lines)
        cats, text = self.categories, self.text
        if cats is not None:
            out = [e for e in out if e.category in cats]
        if self.min_level:
            levels, lo = self.LEVELS, self.min_level
            out = [e for e in out if levels.get(e.level, 0) >= lo]
        if text:
            out = [e for e in out if text in e.message.lower() or text in e.category]
        return out
