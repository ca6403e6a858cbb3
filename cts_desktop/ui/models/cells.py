"""What a record table shows: the declarative :class:`Column`, the cell kinds (how a raw value is
shown, aligned and coloured), and :class:`RecordCells`, the texts, colours, tool tips and view
order shared by the table models. Rows sort on the raw value (:meth:`RecordCells.sort_value`:
numbers as floats, times as ms, text lower-cased)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, List, Optional

from PySide6.QtCore import QModelIndex, Qt
from PySide6.QtGui import QColor

from .. import fmt

GREEN = QColor("#26a69a")
RED = QColor("#ef5350")
AMBER = QColor("#e0a030")
MUTED = QColor("#8a94a6")

_LEFT = Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter
_RIGHT = Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter
_CENTER = Qt.AlignmentFlag.AlignCenter

# Cell kinds: how a raw value is shown, aligned and coloured.
TEXT, INT, PRICE, AMOUNT, MONEY, PNL, PCT, PNL_PCT, TIME, TIME_S, WALL, SIDE, LEVEL = (
    "text", "int", "price", "amount", "money", "pnl", "pct", "pnl_pct", "time", "time_s", "wall", "side", "level")
_SAMPLES = {
    INT: "12,345", PRICE: "43,012.55", AMOUNT: "0.00012345", MONEY: "12,345.67", PNL: "+1,234.56",
    PCT: "12.34 %", PNL_PCT: "+12.34 %", TIME: "2022-01-23 13:56", TIME_S: "2022-01-23 13:56:00",
    WALL: "17:50:54", SIDE: "SHORT", LEVEL: "warning",
}
_NUMERIC = {INT, PRICE, AMOUNT, MONEY, PNL, PCT, PNL_PCT, TIME, TIME_S, WALL}


@dataclass(frozen=True)
class Column:
    """One column: ``field`` is the record attribute read (or the name given to ``getter``'s value),
    ``kind`` one of the cell kinds above, ``align`` ``"left"``/``"right"``/``"center"`` (default:
    right for numbers), ``getter(record, model)`` computes the value when it is not an attribute."""

    field: str
    title: str
    kind: str = TEXT
    align: str = ""
    getter: Optional[Callable[[Any, "RecordCells"], Any]] = None
    tip: str = ""
    sample: str = ""  # a typical cell text, to size the column before any data arrives

    def sample_text(self) -> str:
        return self.sample or _SAMPLES.get(self.kind, "")

    def alignment(self):
        a = self.align or ("right" if self.kind in _NUMERIC else "left")
        return {"left": _LEFT, "right": _RIGHT, "center": _CENTER}[a]


def _pnl_colour(v) -> Optional[QColor]:
    if v is None or v == 0:
        return None
    return GREEN if v > 0 else RED


def _as_int(flag) -> int:
    return int(getattr(flag, "value", flag))


_NO_PARENT = QModelIndex()
# Roles as plain ints: Qt hands data() an int, and int == int is the cheapest test there is.
_DISPLAY = int(Qt.ItemDataRole.DisplayRole.value)
_ALIGN = int(Qt.ItemDataRole.TextAlignmentRole.value)
_FOREGROUND = int(Qt.ItemDataRole.ForegroundRole.value)
_TOOLTIP = int(Qt.ItemDataRole.ToolTipRole.value)
_COLOURED = frozenset({PNL, PNL_PCT, SIDE, LEVEL})
_DESC = Qt.SortOrder.DescendingOrder


class RecordCells:
    """What a record table shows, shared by the table models: cell values, texts, colours, tool
    tips and sort keys from the declarative :class:`Column` list (the records are ``_rows``,
    serial -> record, see :mod:`.rows`)."""

    def value(self, row, col: Column):
        if col.getter is not None:
            return col.getter(row, self)
        return getattr(row, col.field, None)

    def sort_keys(self, col: Column) -> List[Any]:
        """``[sort_value(r, col) for r in _rows]``, in one tight loop per kind (a re-sort of
        50,000-100,000 rows spends most of its time here)."""
        rows = self._rows.values()
        if col.getter is not None:
            get = col.getter
            vals = [get(r, self) for r in rows]
        else:
            field = col.field
            vals = [getattr(r, field, None) for r in rows]
        if col.kind in _NUMERIC:
            low = float("-inf")
            return [low if v is None else float(v) for v in vals]
        return ["" if v is None else str(v).lower() for v in vals]

    def sort_value(self, row, col: Column):
        """The raw value sorted on: a float for numbers, lower-case text."""
        v = self.value(row, col)
        if col.kind in _NUMERIC:
            return float(v) if v is not None else float("-inf")
        return "" if v is None else str(v).lower()

    def currency_of(self, row) -> str:
        sym = getattr(row, "symbol", "")
        return fmt.quote_of(sym) if sym else self.currency

    def display(self, row, col: Column, v) -> str:
        k = col.kind
        if k == TEXT:
            return "" if v is None else str(v)
        if v is None:
            return "–"
        if k == PRICE:
            return fmt.price(v)
        if k == AMOUNT:
            return fmt.amount(v)
        if k == MONEY:
            return fmt.money(v, self.currency_of(row))
        if k == PNL:
            return fmt.money(v, self.currency_of(row), sign=True)
        if k == PCT:
            return fmt.pct(v)
        if k == PNL_PCT:
            return fmt.pct(v, sign=True)
        if k == TIME:
            return fmt.utc_ms(v)
        if k == TIME_S:
            return fmt.utc_ms(v, seconds=True)
        if k == WALL:
            return fmt.wall_clock(v)
        if k == INT:
            return f"{v:,}"
        if k == SIDE:
            return str(v).upper()
        return str(v)

    def colour(self, row, col: Column):
        k = col.kind
        if k in (PNL, PNL_PCT):
            return _pnl_colour(self.value(row, col))
        if k == SIDE:
            v = self.value(row, col)
            return GREEN if v in ("long", "buy") else RED if v in ("short", "sell") else None
        if k == LEVEL:
            v = self.value(row, col)
            return RED if v == "error" else AMBER if v == "warning" else MUTED
        return None

    def tooltip(self, row, col: Column):
        return None
