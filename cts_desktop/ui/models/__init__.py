"""Declarative table models: a table is a list of :class:`Column` rows, not a new widget class.

Inspired by VeighNa's monitors (a ``headers`` table and a key -> row cache). Every table is a
:class:`StoredTableModel`: the display data lives in C++ items (a ``QStandardItemModel``),
written when a record arrives or changes and only for the rows a visible view shows, so painting
never calls into Python (no GIL round trip per painted cell), and updates are cheap (a batch of
changed records rewrites the cells it touched, new records go straight to their sorted place, a
capped log drops its oldest rows in one go). The models sort themselves, without a proxy model:
a Python sort of the column's keys and one layout change (50,000 rows in ~50 ms), after which
only the rows in view are written again.
Records are read back with ``record(row)``; rows sort on the raw value
(:meth:`RecordCells.sort_value`: numbers as floats, times as ms, text lower-cased).

Rooms: :mod:`.cells` (columns, cell kinds, texts, colours and sort keys), :mod:`.rows` (records
by arrival serial and the view order, no Qt), :mod:`.stored` (the C++-backed
:class:`StoredTableModel`), :mod:`.viewfill` (lazy writing of the rows a view shows),
:mod:`.trading` (positions, orders), :mod:`.log` (activity log and its filter: a second model of
the matching lines, no proxy).
"""
from .cells import (AMBER, AMOUNT, GREEN, INT, LEVEL, MONEY, MUTED, PCT, PNL, PNL_PCT, PRICE, RED, SIDE, TEXT, TIME,
                    TIME_S, WALL, Column, RecordCells)
from .log import LogFilter, LogModel
from .stored import StoredTableModel
from .trading import ClosedPositionsModel, OpenPositionsModel, OrdersModel

__all__ = [
    "TEXT", "INT", "PRICE", "AMOUNT", "MONEY", "PNL", "PCT", "PNL_PCT", "TIME", "TIME_S", "WALL", "SIDE", "LEVEL",
    "Column", "RecordCells", "StoredTableModel", "OpenPositionsModel", "ClosedPositionsModel", "OrdersModel",
    "LogModel", "LogFilter", "GREEN", "RED", "AMBER", "MUTED",
]
