"""Connections tab: the list of connections and the settings of the selected one.

The details panel is a stack of :class:`DetailsSection` boxes. Each section loads its fields from
a :class:`~cts_desktop.store.settings.ConnectionConfig`, writes them into a copy on Save and
reports a bad value as :class:`FieldError` (shown inline, next to the field, and nothing is
saved). A new kind of connection (exchange keys, Test Connection) adds a section with
:meth:`ConnectionDetails.add_section`; ``applies_to`` hides sections that do not fit a connection
(the replay settings only apply to the recorded-market paper exchange).

Exchange connections get three more sections: :class:`ExchangeSection` (any ccxt exchange,
account type, testnet, API type, rate limits, base URL, symbols), :class:`CredentialsSection`
(password fields; stored values shown masked; the values go only to the OS keyring) and
:class:`TestSection` (Test Connection as a cancellable task on the qasync loop, and its result).
The rules (required credentials, test invalidation, the live gate) are those of
:mod:`cts_desktop.connections_logic`, shared with the CLI. ccxt is imported off the GUI thread
on first need (:class:`ExchangeCatalog`), never at start-up.
"""
from __future__ import annotations

import asyncio
import copy
import importlib
import logging
import threading
from typing import Any, Dict, List, Optional, Tuple

from PySide6.QtCore import QObject, Qt, QTimer, Signal
from PySide6.QtGui import QColor, QFont
from PySide6.QtWidgets import (QAbstractItemView, QCheckBox, QComboBox, QDoubleSpinBox, QFormLayout, QFrame, QGridLayout,
                               QGroupBox, QHBoxLayout, QHeaderView, QInputDialog, QLabel, QLineEdit, QMessageBox, QPlainTextEdit,
                               QProgressBar, QPushButton, QScrollArea, QSizePolicy, QSpinBox, QSplitter, QTableView, QToolButton,
                               QVBoxLayout, QWidget)

from .. import connections_logic as rules
from ..core.risk import RiskLimits
from ..engine import strategies as strategy_registry
from ..engine.strategies.base import Param, ParamError
from ..exchange.replay import DATASETS
from ..store.presets import PresetStore
from ..store.secrets import CREDENTIAL_FIELDS, NoSecureKeyringError, SecretStore, SecretStoreError, mask
from ..store.settings import SPEEDS, ConnectionConfig, SettingsError
from . import models as m
from .connection_dialogs import AddConnectionDialog, LiveConfirmDialog, exchange_combo, fill_exchange_combo

log = logging.getLogger(__name__)


class FieldError(ValueError):
    """A value the user entered is not acceptable; ``field`` names the form field, ``label`` says
    which one in the status line (default: the field's name; "additional strategy 2 (RSI mean
    reversion), oversold" where the field alone is ambiguous)."""

    def __init__(self, field: str, message: str, label: Optional[str] = None):
        super().__init__(message)
        self.field = field
        self.message = message
        self.label = label or field.replace("_", " ")


# -- the list ---------------------------------------------------------------------------------------
def _mode(c: ConnectionConfig, model) -> str:
    return "LIVE" if c.live else "PAPER"


def _market(c: ConnectionConfig, model) -> str:
    if c.is_paper_replay:
        ds = DATASETS.get(c.dataset)
        if ds is None:
            return c.dataset
        if len(ds.symbols) > 1:  # "Bittrex ETH, LTC, ADA vs BTC 5m, ..." -> "Bittrex (3 symbols)", not "Bittrex ETH"
            return f"{ds.title.split()[0]} ({len(ds.symbols)} symbols)"
        return ds.title.split(",")[0].split(" (")[0]
    return f"{c.market_type}{' (testnet)' if c.testnet else ''}"


class ConnectionsModel(m.RecordTableModel):
    """Connections with their engine state (``states``: name -> state, kept by the tab)."""

    columns = (
        m.Column("name", "Name"),
        m.Column("exchange", "Exchange"),
        m.Column("market", "Market / dataset", getter=_market),
        m.Column("mode", "Mode", align="center", getter=_mode),
        m.Column("state", "Engine", getter=lambda c, mdl: mdl.states.get(c.name, "idle")),
    )

    coloured_fields = frozenset({"mode", "state"})

    def __init__(self, parent=None):
        super().__init__(parent, key=lambda c: c.name)
        self.states: Dict[str, str] = {}
        self._bold = QFont()
        self._bold.setBold(True)

    def data(self, index, role=Qt.ItemDataRole.DisplayRole):
        if index.isValid() and role == Qt.ItemDataRole.FontRole and self.columns[index.column()].field in ("mode", "name"):
            return self._bold
        return super().data(index, role)

    def colour(self, row, col):
        if col.field == "mode":
            return QColor("#ff8a3d") if row.live else QColor("#4c9be8")
        if col.field == "state":
            return _STATE_COLOURS.get(self.states.get(row.name, "idle"))
        return super().colour(row, col)

    def set_state(self, name: str, state: str) -> None:
        self.states[name] = state
        i = self.row_of(name)
        if i is not None:
            c = len(self.columns) - 1
            self.dataChanged.emit(self.index(i, c), self.index(i, c))


_STATE_COLOURS = {
    "running": m.GREEN, "paused": m.AMBER, "initializing": m.AMBER, "stopping": m.AMBER,
    "error": m.RED, "stopped": m.MUTED, "idle": m.MUTED,
}


# -- sections ---------------------------------------------------------------------------------------
class DetailsSection(QGroupBox):
    """One box of the details panel. Subclasses build their form in ``__init__`` and implement
    :meth:`load` and :meth:`apply`; emit :attr:`edited` when the user changes something."""

    edited = Signal()

    def __init__(self, title: str, parent: Optional[QWidget] = None):
        super().__init__(title, parent)
        self.form = QFormLayout(self)
        self.form.setLabelAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        self.form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.FieldsStayAtSizeHint)
        self.form.setHorizontalSpacing(14)
        self.form.setVerticalSpacing(6)
        self._errors: Dict[str, QLabel] = {}

    def applies_to(self, conn: ConnectionConfig) -> bool:
        return True

    def load(self, conn: ConnectionConfig) -> None:
        raise NotImplementedError

    def apply(self, conn: ConnectionConfig) -> None:
        """Write the fields into ``conn`` (a copy); raise :class:`FieldError` for a bad value."""
        raise NotImplementedError

    def validate(self) -> None:
        """Check the fields without saving (called on every edit); raise :class:`FieldError`."""

    # helpers for subclasses
    def add_field(self, name: str, label: str, editor: QWidget, unit: str = "", help: str = "") -> QWidget:
        row = QWidget()
        lay = QVBoxLayout(row)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.setSpacing(2)
        line = QHBoxLayout()
        line.setSpacing(6)
        line.addWidget(editor)
        if unit:
            u = QLabel(unit)
            u.setObjectName("Unit")
            line.addWidget(u)
        line.addStretch(1)
        lay.addLayout(line)
        err = QLabel()
        err.setObjectName("FieldError")
        err.setWordWrap(True)
        err.setVisible(False)
        lay.addWidget(err)
        self._errors[name] = err
        lbl = QLabel(label)
        if help:
            lbl.setToolTip(help)
            editor.setToolTip(help)
        editor.setObjectName(f"field_{name}")
        self.form.addRow(lbl, row)
        return editor

    def show_error(self, field: Optional[str], message: str = "") -> None:
        for name, lbl in self._errors.items():
            on = name == field and bool(message)
            lbl.setText(message if on else "")
            lbl.setVisible(on)

    def error_text(self, field: str) -> str:
        lbl = self._errors.get(field)
        return lbl.text() if lbl is not None and lbl.isVisible() else ""

    def check(self) -> bool:
        """Validate and show the first problem inline (or none); True when the fields are valid."""
        try:
            self.validate()
        except FieldError as exc:
            self.show_error(exc.field, exc.message)
            return False
        self.show_error(None)
        return True

    def _changed(self, *_args) -> None:
        self.check()
        self.edited.emit()


def _spin(minimum: float, maximum: float, decimals: int = 0, step: float = 1.0, width: int = 130):
    if decimals == 0:
        w = QSpinBox()
        w.setRange(int(minimum), int(min(maximum, 2**31 - 1)))
        w.setSingleStep(int(step))
    else:
        w = QDoubleSpinBox()
        w.setDecimals(decimals)
        w.setRange(minimum, maximum)
        w.setSingleStep(step)
    w.setGroupSeparatorShown(True)
    w.setMinimumWidth(width)
    w.setAlignment(Qt.AlignmentFlag.AlignRight)
    return w


class ReplaySection(DetailsSection):
    """Recorded market, replay speed, starting balance and fee of a paper-replay connection."""

    def __init__(self, parent=None):
        super().__init__("Paper account and market data", parent)
        self.dataset = QComboBox()
        for key, ds in DATASETS.items():
            self.dataset.addItem(ds.title, key)
        self.dataset.setMinimumWidth(280)
        self.add_field("dataset", "Recorded market", self.dataset,
                       help="The recorded candles the paper exchange replays")
        self.speed = QComboBox()
        for key in SPEEDS:
            self.speed.addItem(key, key)
        self.add_field("speed", "Replay speed", self.speed,
                       help="Candles are replayed at this multiple of real time; max is as fast as possible")
        self.balance = _spin(1.0, 1e9, 2, 1000.0, 160)
        self.add_field("starting_balance", "Starting balance", self.balance, "USDT equivalent",
                       "Converted to the quote currency at the replay's first price where it is not a dollar")
        self.fee = _spin(-0.001, 5.0, 3, 0.01)
        self.fee.setSpecialValueText("market default")
        self.add_field("fee", "Taker fee", self.fee, "%", "Fee per fill as a percentage of notional; "
                                                           "'market default' uses the market's schedule (0.1 %)")
        for w in (self.dataset, self.speed):
            w.currentIndexChanged.connect(self._changed)
        for w in (self.balance, self.fee):
            w.valueChanged.connect(self._changed)

    def applies_to(self, conn):
        return conn.is_paper_replay

    def load(self, conn):
        i = self.dataset.findData(conn.dataset)
        self.dataset.setCurrentIndex(max(i, 0))
        self.speed.setCurrentIndex(max(self.speed.findData(conn.speed), 0))
        self.balance.setValue(conn.starting_balance)
        self.fee.setValue(self.fee.minimum() if conn.fee is None else conn.fee * 100.0)
        self.show_error(None)

    def apply(self, conn):
        conn.dataset = self.dataset.currentData()
        conn.speed = self.speed.currentData()
        if self.balance.value() <= 0:
            raise FieldError("starting_balance", "must be more than 0")
        conn.starting_balance = float(self.balance.value())
        fee = self.fee.value()
        conn.fee = None if fee < 0 else fee / 100.0


# -- strategies -------------------------------------------------------------------------------------
_ACRONYMS = {"ma", "sma", "ema", "rsi", "atr", "adx", "macd", "sl", "tp"}


def _label(name: str) -> str:
    """``"ma_type"`` -> ``"MA type"``; ``"stop_loss"`` -> ``"Stop loss"``."""
    text = " ".join(w.upper() if w in _ACRONYMS else w for w in name.split("_"))
    return text[:1].upper() + text[1:]


PARAM_ERROR_STYLE = "color:#ff6b6b;"
WARNING_STYLE = "QLabel { color: #f0b94a; }"
# The dark palette draws a check box's indicator nearly invisible: give it a visible box.
CHECKBOX_STYLE = ("QCheckBox::indicator{width:14px;height:14px;border:1px solid #8a93a6;border-radius:3px;"
                  "background:#12151c;} QCheckBox::indicator:checked{background:#4c9be8;border-color:#4c9be8;}"
                  "QCheckBox::indicator:disabled{border-color:#4a5162;}"
                  "QCheckBox::indicator:checked:disabled{background:#34527a;border-color:#34527a;}")


class ParamForm(QWidget):
    """Input widgets generated from a strategy class's ``params`` (ranges, units as suffixes, help
    as tooltips) with an error line under each: the app's one parameter form, used by the backtest
    window and, through :class:`StrategyForm`, by the Connections tab.

    Rows added with :meth:`add_row` (a strategy selector, symbols...) stay above the parameters
    when :meth:`set_strategy` replaces them. ``changed`` fires on every user edit (errors are
    cleared first: the owner validates again).
    """

    changed = Signal()

    def __init__(self, parent: Optional[QWidget] = None):
        super().__init__(parent)
        self.form = QFormLayout(self)
        self.form.setContentsMargins(0, 0, 0, 0)
        self.form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        self.strategy_cls = None
        self.widgets: Dict[str, QWidget] = {}  # parameter editors
        self.errors: Dict[str, QLabel] = {}  # error lines: parameters and add_row fields
        self.params: Dict[str, Param] = {}
        self.fixed: Dict[str, QWidget] = {}  # add_row editors by field name
        self._fixed_rows = 0

    def _row(self, widget: QWidget, field: str) -> QWidget:
        err = QLabel()
        err.setObjectName("FieldError")
        err.setStyleSheet(PARAM_ERROR_STYLE)
        err.setWordWrap(True)
        err.hide()
        box = QWidget()
        lay = QVBoxLayout(box)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.setSpacing(1)
        lay.addWidget(widget)
        lay.addWidget(err)
        self.errors[field] = err
        return box

    def add_row(self, field: str, label: str, widget: QWidget, help: str = "", index: Optional[int] = None) -> QWidget:
        """A row kept above the parameters; ``field`` names its error line ("" for none)."""
        pos = self._fixed_rows if index is None else min(index, self._fixed_rows)
        if help:
            widget.setToolTip(help)
        if field:
            widget.setObjectName(f"field_{field}")
            self.fixed[field] = widget
        lbl = QLabel(label)
        lbl.setToolTip(help)
        self.form.insertRow(pos, lbl, self._row(widget, field) if field else widget)
        self._fixed_rows += 1
        return widget

    def set_strategy(self, cls, values: Optional[Dict[str, Any]] = None) -> None:
        """Replace the parameter rows by ``cls``'s, at their defaults overlaid with ``values``."""
        while self.form.rowCount() > self._fixed_rows:
            self.form.removeRow(self._fixed_rows)
        for name in self.params:
            self.errors.pop(name, None)
        self.strategy_cls = cls
        self.widgets, self.params = {}, {}
        for p in cls.params:
            w = self._widget_for(p)
            w.setObjectName(f"param_{p.name}")
            tip = p.help or p.name
            extra = []
            if p.minimum is not None:
                extra.append(f"{'>' if p.exclusive_min else '>='} {p.minimum:g}")
            if p.maximum is not None:
                extra.append(f"<= {p.maximum:g}")
            if p.unit:
                extra.append(f"unit: {p.unit}")
            if extra:
                tip += f" ({', '.join(extra)})"
            w.setToolTip(f"{p.name}: {tip}")
            label = QLabel(_label(p.name))
            label.setToolTip(w.toolTip())
            self.form.addRow(label, self._row(w, p.name))
            self.widgets[p.name] = w
            self.params[p.name] = p
        self.set_values({p.name: p.default for p in cls.params})
        if values:
            self.set_values(values)

    def _widget_for(self, p: Param) -> QWidget:
        suffix = f" {p.unit}" if p.unit else ""
        if p.type is bool:
            w = QCheckBox("Yes")
            w.setStyleSheet(CHECKBOX_STYLE)
            w.toggled.connect(self._edited)
        elif p.type is int:
            w = QSpinBox()
            lo = int(p.minimum) + (1 if p.exclusive_min else 0) if p.minimum is not None else -2_000_000_000
            hi = int(p.maximum) if p.maximum is not None else 2_000_000_000
            w.setRange(lo, hi)
            w.setSuffix(suffix)
            w.setAccelerated(True)
            w.valueChanged.connect(self._edited)
        elif p.type is float:
            w = QDoubleSpinBox()
            hi = p.maximum if p.maximum is not None else 1e12
            lo = p.minimum if p.minimum is not None else -1e12
            w.setDecimals(4 if hi <= 1 else 2)
            w.setRange(lo, hi)
            w.setSingleStep(0.01 if hi <= 1 else 0.1 if hi <= 100 else 1.0)
            w.setSuffix(suffix)
            w.setAccelerated(True)
            w.valueChanged.connect(self._edited)
        elif p.choices:
            w = QComboBox()
            w.addItems(list(p.choices))
            w.currentIndexChanged.connect(self._edited)
        else:
            w = QLineEdit()
            w.setPlaceholderText(p.help)
            w.textChanged.connect(self._edited)
        return w

    def _edited(self, *_a) -> None:
        self.clear_errors()
        self.changed.emit()

    def values(self) -> Dict[str, Any]:
        """The form as ``{name: value}`` (typed as the widgets hold them)."""
        out: Dict[str, Any] = {}
        for name, w in self.widgets.items():
            if isinstance(w, QCheckBox):
                out[name] = w.isChecked()
            elif isinstance(w, QSpinBox):
                out[name] = int(w.value())
            elif isinstance(w, QDoubleSpinBox):
                out[name] = float(w.value())
            elif isinstance(w, QComboBox):
                out[name] = w.currentText()
            else:
                out[name] = w.text()
        return out

    def set_values(self, values: Dict[str, Any]) -> None:
        """Fill in ``values`` (unknown names ignored; a value the widget cannot take is skipped)."""
        for name, v in values.items():
            w = self.widgets.get(name)
            if w is None:
                continue
            w.blockSignals(True)
            try:
                if isinstance(w, QCheckBox):
                    w.setChecked(bool(v))
                elif isinstance(w, QSpinBox):
                    w.setValue(int(v))
                elif isinstance(w, QDoubleSpinBox):
                    w.setValue(float(v))
                elif isinstance(w, QComboBox):
                    i = w.findText(str(v))
                    if i >= 0:
                        w.setCurrentIndex(i)
                else:
                    w.setText(str(v))
            except (TypeError, ValueError):
                pass
            finally:
                w.blockSignals(False)
        self.clear_errors()

    def show_error(self, field: str, message: str, focus: bool = True) -> None:
        """Show ``message`` under ``field`` (or under the first field when it names none);
        ``focus`` moves the keyboard focus to the field (not while the user types elsewhere)."""
        label = self.errors.get(field) or next(iter(self.errors.values()), None)
        if label is None:
            return
        label.setText(message)
        label.show()
        w = self.widgets.get(field)
        if w is not None:
            if not isinstance(w, QCheckBox):  # its own style sheet draws the indicator
                w.setStyleSheet("border:1px solid #ff6b6b;")
            if focus:
                w.setFocus()

    def clear_errors(self) -> None:
        for name, label in self.errors.items():
            if label.isVisible() or label.text():
                label.clear()
                label.hide()
                w = self.widgets.get(name)
                if w is not None and not isinstance(w, QCheckBox):
                    w.setStyleSheet("")

    def error_text(self, field: str) -> str:
        label = self.errors.get(field)
        return label.text() if label is not None and not label.isHidden() else ""

    def build(self):
        """A strategy instance from the form; raises :class:`ParamError` (also shown inline)."""
        try:
            return self.strategy_cls(self.values())
        except ParamError as exc:
            self.show_error(exc.field, str(exc))
            raise


class SymbolsPicker(QWidget):
    """Which of the connection's symbols a strategy trades: "All symbols" (saved as ``[]``, so
    symbols added to the connection later are included) or the ticked subset. A saved symbol the
    connection no longer has stays listed, in amber, until it is unticked."""

    changed = Signal()
    COLUMNS = 4

    def __init__(self, parent: Optional[QWidget] = None):
        super().__init__(parent)
        self.all_box = QCheckBox("All symbols of the connection")
        self.all_box.setObjectName("AllSymbols")
        self.all_box.setStyleSheet(CHECKBOX_STYLE)
        self.all_box.toggled.connect(self._all_toggled)
        self.grid = QGridLayout()
        self.grid.setContentsMargins(20, 0, 0, 0)
        self.grid.setHorizontalSpacing(14)
        self.grid.setVerticalSpacing(2)
        self.grid.setColumnStretch(self.COLUMNS, 1)  # the boxes stay together on the left
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.setSpacing(3)
        lay.addWidget(self.all_box)
        lay.addLayout(self.grid)
        self.available: List[str] = []
        self.boxes: Dict[str, QCheckBox] = {}

    def set_symbols(self, available: List[str], selected: List[str]) -> None:
        """Offer ``available``; tick ``selected`` (``[]``: All symbols)."""
        self.available = list(available)
        for b in self.boxes.values():
            self.grid.removeWidget(b)
            b.deleteLater()
        self.boxes = {}
        unknown = [s for s in selected if s not in self.available]
        for i, sym in enumerate(self.available + unknown):
            b = QCheckBox(sym)
            b.setObjectName(f"symbol_{sym}")
            b.setChecked(not selected or sym in selected)
            style = CHECKBOX_STYLE
            if sym in unknown:
                style += "QCheckBox { color: #f0b94a; }"
                b.setToolTip(f"{sym} is not one of this connection's symbols")
            b.setStyleSheet(style)
            b.toggled.connect(self._box_toggled)
            self.grid.addWidget(b, i // self.COLUMNS, i % self.COLUMNS)
            self.boxes[sym] = b
        self.all_box.blockSignals(True)
        self.all_box.setChecked(not selected)
        self.all_box.blockSignals(False)
        self._update_enabled()

    def set_available(self, available: List[str]) -> bool:
        """The connection's symbols changed (another section edited): keep the selection.
        True when the list changed."""
        if list(available) == self.available:
            return False
        self.set_symbols(available, self.selection())
        return True

    def select(self, symbols: List[str]) -> None:
        """Tick exactly ``symbols`` (``[]``: All symbols), as the user would; emits ``changed``."""
        self.set_symbols(self.available, list(symbols))
        self.changed.emit()

    def is_all(self) -> bool:
        return self.all_box.isChecked()

    def selection(self) -> List[str]:
        """What is saved: ``[]`` for All symbols, else the ticked symbols."""
        if self.all_box.isChecked():
            return []
        return [s for s, b in self.boxes.items() if b.isChecked()]

    def traded(self) -> List[str]:
        """The symbols the strategy will actually see."""
        return list(self.available) if self.all_box.isChecked() else \
            [s for s in self.selection() if s in self.available]

    def unknown(self) -> List[str]:
        return [s for s in self.selection() if s not in self.available]

    def _all_toggled(self, on: bool) -> None:
        if on and any(s not in self.available for s in self.boxes):
            self.set_symbols(self.available, [])  # All: a symbol the connection lacks goes
        for b in self.boxes.values():  # All shows every box ticked; unticking All starts from there
            b.blockSignals(True)
            b.setChecked(True)
            b.blockSignals(False)
        self._update_enabled()
        self.changed.emit()

    def _box_toggled(self, _on: bool) -> None:
        self.changed.emit()

    def _update_enabled(self) -> None:
        for b in self.boxes.values():
            b.setEnabled(not self.all_box.isChecked())


def connection_symbols(conn: ConnectionConfig) -> List[str]:
    """The symbols a connection trades: its dataset's for a replay, its configured ones otherwise."""
    if conn.is_paper_replay:
        ds = DATASETS.get(conn.dataset)
        return ds.symbols if ds is not None else []
    return list(conn.symbols)


def _pct(fraction: float) -> str:
    return f"{fraction * 100:.4g} %"


def _symbols(n: int) -> str:
    return f"{n} symbol{'' if n == 1 else 's'}"


def strategy_allocation(size: Optional[float], symbols: List[str], risk: Dict[str, Any]) -> Tuple[str, List[str]]:
    """The hint and the warnings for one strategy: ``size`` (fraction of equity per entry, None
    when the strategy has none) on each of ``symbols``, under the ``risk`` limits."""
    if size is None:
        return "This strategy sizes its own entries.", []
    n = len(symbols)
    text = f"Each entry uses {_pct(size)} of equity" + (
        f"; with {_symbols(n)} up to {_pct(size * n)} in use." if n else ".")
    warnings = []
    max_fraction = float(risk.get("max_position_fraction", 1.0))
    if size > max_fraction + 1e-12:
        warnings.append(f"{_pct(size)} is above the risk limit Max position size ({_pct(max_fraction)}): "
                        "every entry will be refused.")
    if size * n > 1 + 1e-12:
        warnings.append(f"Up to {_pct(size * n)} of equity: once the cash is in use, further entries are "
                        "refused for insufficient funds.")
    return text, warnings


def total_allocation(strategies: List[Tuple[str, Optional[float], List[str]]],
                     risk: Dict[str, Any]) -> Tuple[str, List[str]]:
    """The hint and the warnings for all the strategies of a connection together:
    ``(title, size, symbols)`` each. Positions are per symbol (one-way, no adding to a position),
    so a symbol traded by several strategies holds at most the largest of their sizes."""
    per_symbol: Dict[str, float] = {}
    traders: Dict[str, List[str]] = {}
    for title, size, symbols in strategies:
        for s in symbols:
            per_symbol[s] = max(per_symbol.get(s, 0.0), size or 0.0)
            traders.setdefault(s, []).append(title)
    total = sum(per_symbol.values())
    parts = ", ".join(f"{s} {_pct(v)}" for s, v in per_symbol.items())
    text = (f"All strategies together: up to {_pct(total)} of equity in use" + (f" ({parts})." if parts else "."))
    shared = [s for s, t in traders.items() if len(t) > 1]
    if shared:
        text += (f" {', '.join(shared)} {'is' if len(shared) == 1 else 'are'} traded by more than one strategy: "
                 "they share one position per symbol.")
    warnings = []
    if total > 1 + 1e-12:
        warnings.append(f"Together up to {_pct(total)} of equity: when every strategy is in a position at once, "
                        "later entries are refused for insufficient funds.")
    max_open = int(risk.get("max_open_positions", 0) or 0)
    if max_open and len(per_symbol) > max_open:
        warnings.append(f"{_symbols(len(per_symbol))} can be in a position at once, but the risk limit Max open "
                        f"positions is {max_open}: entries beyond it are refused.")
    return text, warnings


class StrategyForm(ParamForm):
    """One strategy of a connection: which one, its description, the symbols it trades, what its
    size means for the account (a hint, and warnings that do not block), and its generated
    parameters (:class:`ParamForm`). :meth:`spec` validates through the strategy class itself
    (``resolve_params``, then the constructor's cross-parameter checks)."""

    def __init__(self, parent: Optional[QWidget] = None):
        super().__init__(parent)
        self.form.setLabelAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        # Fields grow (editors are made Fixed): with FieldsStayAtSizeHint, QFormLayout sizes a
        # wrapped label's row for the full width and then lays it out narrower, clipping it.
        self.form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        self.form.setHorizontalSpacing(14)
        self.form.setVerticalSpacing(6)
        self.strategy = QComboBox()
        for name, cls in sorted(strategy_registry.REGISTRY.items()):
            self.strategy.addItem(cls.title or name, name)
        self._fix_width(self.strategy)
        self.add_row("strategy", "Strategy", self.strategy)
        self.description = QLabel()
        self.description.setObjectName("Hint")
        self.description.setWordWrap(True)
        self.add_row("", "", self.description)
        self.symbols = SymbolsPicker()
        self.add_row("symbols", "Symbols", self.symbols,
                     "The symbols this strategy trades; two strategies on one symbol share its position")
        self.allocation = QLabel()
        self.allocation.setObjectName("AllocationHint")
        self.allocation.setWordWrap(True)
        self.allocation_warning = QLabel()
        self.allocation_warning.setObjectName("AllocationWarning")
        self.allocation_warning.setWordWrap(True)
        self.allocation_warning.setStyleSheet(WARNING_STYLE)
        self.allocation_warning.setVisible(False)
        notes = QWidget()
        nl = QVBoxLayout(notes)
        nl.setContentsMargins(0, 0, 0, 0)
        nl.setSpacing(2)
        nl.addWidget(self.allocation)
        nl.addWidget(self.allocation_warning)
        self.add_row("", "Allocation", notes)
        self.strategy.currentIndexChanged.connect(self._strategy_changed)
        self.symbols.changed.connect(self._edited)

    @staticmethod
    def _fix_width(w: QWidget) -> None:
        w.setSizePolicy(QSizePolicy.Policy.Fixed, w.sizePolicy().verticalPolicy())
        if not isinstance(w, QCheckBox):
            w.setMinimumWidth(150)

    def set_strategy(self, cls, values: Optional[Dict[str, Any]] = None) -> None:
        super().set_strategy(cls, values)
        for w in self.widgets.values():
            self._fix_width(w)

    @property
    def title(self) -> str:
        cls = self.strategy_cls
        return (cls.title or cls.name) if cls is not None else str(self.strategy.currentData())

    def load(self, spec: Dict[str, Any], available: List[str]) -> None:
        """Show ``spec`` (``{"strategy", "params", "symbols"}``) offering ``available`` symbols."""
        i = self.strategy.findData(spec.get("strategy"))
        self.strategy.blockSignals(True)
        self.strategy.setCurrentIndex(max(i, 0))
        self.strategy.blockSignals(False)
        cls = strategy_registry.REGISTRY.get(self.strategy.currentData())
        known = {p.name for p in cls.params}
        self.set_strategy(cls, {k: v for k, v in dict(spec.get("params") or {}).items() if k in known})
        self.description.setText(cls.description)
        self.symbols.set_symbols(available, list(spec.get("symbols") or []))
        self.clear_errors()

    def set_strategy_values(self, strategy: str, params: Dict[str, Any]) -> bool:
        """Switch to ``strategy`` with ``params`` (a preset); the symbols stay. False when unknown."""
        i = self.strategy.findData(strategy)
        if i < 0:
            return False
        self.load({"strategy": strategy, "params": params, "symbols": self.symbols.selection()}, self.symbols.available)
        self._edited()
        return True

    def _strategy_changed(self, *_a) -> None:
        cls = strategy_registry.REGISTRY.get(self.strategy.currentData())
        self.set_strategy(cls)
        self.description.setText(cls.description)
        self._edited()

    def size(self) -> Optional[float]:
        """The ``size`` parameter as entered (fraction of equity per entry), None without one."""
        w = self.widgets.get("size")
        return float(w.value()) if isinstance(w, QDoubleSpinBox) else None

    def set_allocation(self, text: str, warnings: List[str]) -> None:
        self.allocation.setText(text)
        self.allocation_warning.setText("\n".join("⚠ " + w for w in warnings))
        self.allocation_warning.setVisible(bool(warnings))

    def spec(self, where: str = "strategy") -> Dict[str, Any]:
        """``{"strategy", "params", "symbols"}``, validated; raises :class:`FieldError` whose
        ``label`` names ``where`` (e.g. "additional strategy 2"), the strategy and the field."""
        cls = self.strategy_cls
        label = lambda field: f"{where} ({self.title}), {field.replace('_', ' ')}"  # noqa: E731
        try:
            params = cls.resolve_params(self.values())
            cls(params)
        except ParamError as exc:
            msg = str(exc)
            prefix = f"{exc.field}: "
            field = exc.field if exc.field in self.widgets else "strategy"
            raise FieldError(field, msg[len(prefix):] if msg.startswith(prefix) else msg,
                             label(exc.field)) from None
        unknown = self.symbols.unknown()
        if unknown:
            one = len(unknown) == 1
            raise FieldError("symbols", f"{', '.join(unknown)} {'is' if one else 'are'} not traded by this connection: "
                                        f"untick {'it' if one else 'them'}", label("symbols"))
        if not self.symbols.is_all() and not self.symbols.selection():
            raise FieldError("symbols", "tick at least one symbol, or All symbols", label("symbols"))
        return {"strategy": cls.name, "params": params, "symbols": self.symbols.selection()}


class StrategySection(DetailsSection):
    """The connection's main strategy (``strategy``, ``strategy_params``, ``strategy_symbols``)
    in a :class:`StrategyForm`, with named presets shared with the backtest window."""

    def __init__(self, config_dir=None, parent=None):
        super().__init__("Strategy", parent)
        self.strategy_form = StrategyForm()
        self.strategy = self.strategy_form.strategy
        self.form.addRow(self.strategy_form)
        # Named presets (strategy + parameters), shared with the backtest window.
        self.presets = PresetStore(config_dir) if config_dir is not None else None
        self.preset_box = QComboBox()
        self.preset_box.setObjectName("field_preset")
        self.preset_box.setMinimumWidth(160)
        self.preset_load = QPushButton("Load")
        self.preset_save = QPushButton("Save as…")
        self.preset_load.clicked.connect(lambda: self.load_preset(self.preset_box.currentText()))
        self.preset_save.clicked.connect(self._ask_save_preset)
        row = QHBoxLayout()
        row.setSpacing(6)
        row.addWidget(self.preset_box)
        row.addWidget(self.preset_load)
        row.addWidget(self.preset_save)
        row.addStretch(1)
        holder = QWidget()
        holder.setLayout(row)
        row.setContentsMargins(0, 0, 0, 0)
        self.strategy_form.add_row("", "Preset", holder, index=2)  # under the description
        if self.presets is None:
            self.strategy_form.form.setRowVisible(holder, False)
        self._refresh_presets()
        self.strategy_form.changed.connect(self._changed)

    @property
    def strategy_class(self):
        return self.strategy_form.strategy_cls

    @property
    def editors(self) -> Dict[str, QWidget]:
        return self.strategy_form.widgets

    def values(self) -> Dict[str, Any]:
        return self.strategy_form.values()

    def set_value(self, name: str, value: Any) -> None:
        """Set one parameter as the user would (validated inline, marks the form edited)."""
        self.strategy_form.set_values({name: value})
        self._changed()

    def load(self, conn):
        self.strategy_form.load(conn.strategy_specs()[0], connection_symbols(conn))
        self.show_error(None)

    def validate(self) -> Dict[str, Any]:
        return self.strategy_form.spec("main strategy")

    def apply(self, conn):
        spec = self.validate()
        conn.strategy = spec["strategy"]
        conn.strategy_params = spec["params"]
        conn.strategy_symbols = spec["symbols"]

    def show_error(self, field: Optional[str], message: str = "") -> None:
        self.strategy_form.clear_errors()
        if field and message:
            self.strategy_form.show_error(field, message, focus=False)

    def error_text(self, field: str) -> str:
        return self.strategy_form.error_text(field)

    # -- presets ------------------------------------------------------------------------------------
    def _refresh_presets(self) -> None:
        if self.presets is None:
            return
        current = self.preset_box.currentText()
        self.preset_box.clear()
        self.preset_box.addItems(self.presets.names())
        if current:
            self.preset_box.setCurrentText(current)
        self.preset_load.setEnabled(self.preset_box.count() > 0)

    def save_preset(self, name: str) -> None:
        """Save the strategy and its (validated) parameters as preset ``name``.
        Raises :class:`FieldError` for invalid parameters, ``OSError`` when the file is unwritable."""
        name = name.strip()
        if not name:
            raise FieldError("strategy", "a preset needs a name")
        spec = self.validate()
        self.presets.save(name, {"strategy": spec["strategy"], "params": spec["params"]})
        self._refresh_presets()
        self.preset_box.setCurrentText(name)

    def load_preset(self, name: str) -> None:
        """Put preset ``name``'s strategy and parameters in the form (saved with the connection
        on Save, like any edit); the symbols stay."""
        if not name or self.presets is None:
            return
        preset = self.presets.get(name)
        if not self.strategy_form.set_strategy_values(preset.get("strategy"), dict(preset.get("params", {}))):
            self.show_error("strategy", f"preset {name!r}: unknown strategy {preset.get('strategy')!r}")

    def _ask_save_preset(self) -> None:
        name, ok = QInputDialog.getText(self, "Save preset", "Preset name:", text=self.preset_box.currentText())
        if not ok or not name.strip():
            return
        try:
            self.save_preset(name)
        except FieldError as exc:
            self.show_error(exc.field, exc.message)
        except OSError as exc:
            self.show_error("strategy", f"cannot write {self.presets.path}: {exc.strerror or exc}")


class ExtraStrategy(QFrame):
    """One additional strategy in :class:`ExtraStrategiesSection`: a title, Remove, its form."""

    def __init__(self, parent: Optional[QWidget] = None):
        super().__init__(parent)
        self.setObjectName("ExtraStrategy")
        self.setStyleSheet("QFrame#ExtraStrategy { border: 1px solid #343c4e; border-radius: 6px; }")
        self.heading = QLabel()
        self.heading.setObjectName("ExtraStrategyTitle")
        self.heading.setStyleSheet("QLabel { font-weight: 600; color: #e6e9ef; }")
        self.remove_button = QPushButton("Remove")
        self.remove_button.setObjectName("RemoveStrategyButton")
        head = QHBoxLayout()
        head.addWidget(self.heading, 1)
        head.addWidget(self.remove_button)
        self.strategy_form = StrategyForm()
        lay = QVBoxLayout(self)
        lay.setContentsMargins(10, 8, 10, 10)
        lay.setSpacing(6)
        lay.addLayout(head)
        lay.addWidget(self.strategy_form)
        self.strategy_form.strategy.currentIndexChanged.connect(lambda *_: self.set_number(self.number))
        self.number = 1

    def set_number(self, number: int) -> None:
        self.number = number
        self.heading.setText(f"{number}. {self.strategy_form.title}")


class ExtraStrategiesSection(DetailsSection):
    """More strategies on the same connection (``extra_strategies``), each with its own symbols
    and parameters; Add / Remove; validated on Save, an error naming the strategy and the field.
    Also shows the allocation of all the strategies together."""

    def __init__(self, parent=None):
        super().__init__("Additional strategies", parent)
        intro = QLabel("Run more strategies on this connection, each on its own symbols. "
                       "Strategies trading the same symbol share its position.")
        intro.setObjectName("Hint")
        intro.setWordWrap(True)
        self.form.addRow(intro)
        self._list = QWidget()
        self._list_lay = QVBoxLayout(self._list)
        self._list_lay.setContentsMargins(0, 0, 0, 0)
        self._list_lay.setSpacing(8)
        self.form.addRow(self._list)
        self.add_button = QPushButton("+ Add strategy")
        self.add_button.setObjectName("AddStrategyButton")
        self.add_button.clicked.connect(lambda: self.add_strategy())
        self.total = QLabel()
        self.total.setObjectName("TotalAllocation")
        self.total.setWordWrap(True)
        self.total_warning = QLabel()
        self.total_warning.setObjectName("TotalAllocationWarning")
        self.total_warning.setWordWrap(True)
        self.total_warning.setStyleSheet(WARNING_STYLE)
        self.total_warning.setVisible(False)
        row = QHBoxLayout()
        row.addWidget(self.add_button)
        row.addStretch(1)
        self.form.addRow(row)
        self.form.addRow(self.total)
        self.form.addRow(self.total_warning)
        self.entries: List[ExtraStrategy] = []
        self._available: List[str] = []

    def load(self, conn):
        for entry in list(self.entries):
            self._drop(entry)
        self._available = connection_symbols(conn)
        for spec in conn.strategy_specs()[1:]:
            self._add(spec)
        self.show_error(None)

    def add_strategy(self, strategy: Optional[str] = None) -> ExtraStrategy:
        """Add a strategy (the first of the list unless ``strategy`` names one) on All symbols."""
        entry = self._add({"strategy": strategy or "", "params": {}, "symbols": []})
        self._changed()
        return entry

    def remove_strategy(self, entry: ExtraStrategy) -> None:
        self._drop(entry)
        self._changed()

    def _add(self, spec: Dict[str, Any]) -> ExtraStrategy:
        entry = ExtraStrategy()
        entry.strategy_form.load(spec, self._available)
        entry.strategy_form.changed.connect(self._changed)
        entry.remove_button.clicked.connect(lambda: self.remove_strategy(entry))
        self.entries.append(entry)
        self._list_lay.addWidget(entry)
        self._renumber()
        return entry

    def _drop(self, entry: ExtraStrategy) -> None:
        self.entries.remove(entry)
        self._list_lay.removeWidget(entry)
        entry.hide()
        entry.deleteLater()
        self._renumber()

    def _renumber(self) -> None:
        for i, entry in enumerate(self.entries):
            entry.set_number(i + 1)
        self.total.setVisible(bool(self.entries))
        self.total_warning.setVisible(bool(self.entries) and bool(self.total_warning.text()))

    def forms(self) -> List[StrategyForm]:
        return [e.strategy_form for e in self.entries]

    def set_total(self, text: str, warnings: List[str]) -> None:
        self.total.setText(text)
        self.total_warning.setText("\n".join("⚠ " + w for w in warnings))
        self.total_warning.setVisible(bool(self.entries) and bool(warnings))

    def validate(self) -> List[Dict[str, Any]]:
        specs = []
        for i, entry in enumerate(self.entries):
            try:
                specs.append(entry.strategy_form.spec(f"additional strategy {i + 1}"))
            except FieldError as exc:
                raise FieldError(f"{i}:{exc.field}", exc.message, exc.label) from None
        return specs

    def apply(self, conn):
        conn.extra_strategies = self.validate()

    @staticmethod
    def _split(field: str) -> Tuple[int, str]:
        i, _, name = field.partition(":")
        return int(i), name

    def show_error(self, field: Optional[str], message: str = "") -> None:
        for entry in self.entries:
            entry.strategy_form.clear_errors()
        if field and message:
            i, name = self._split(field)
            if 0 <= i < len(self.entries):
                self.entries[i].strategy_form.show_error(name, message, focus=False)

    def error_text(self, field: str) -> str:
        i, name = self._split(field)
        return self.entries[i].strategy_form.error_text(name) if 0 <= i < len(self.entries) else ""


class RiskSection(DetailsSection):
    """Pre-trade risk limits (``RiskLimits``)."""

    def __init__(self, parent=None):
        super().__init__("Risk limits", parent)
        self.max_fraction = _spin(0.0, 1.0, 2, 0.05)
        self.add_field("max_position_fraction", "Max position size", self.max_fraction, "fraction of equity",
                       "Largest position notional as a fraction of equity (0 < x <= 1)")
        self.max_open = _spin(1, 1000)
        self.add_field("max_open_positions", "Max open positions", self.max_open, "",
                       "Most positions open at once across symbols")
        self.max_fraction.valueChanged.connect(self._changed)
        self.max_open.valueChanged.connect(self._changed)

    def load(self, conn):
        self.max_fraction.setValue(float(conn.risk.get("max_position_fraction", 0.5)))
        self.max_open.setValue(int(conn.risk.get("max_open_positions", 3)))
        self.show_error(None)

    def validate(self) -> Dict[str, Any]:
        risk = {"max_position_fraction": float(self.max_fraction.value()),
                "max_open_positions": int(self.max_open.value())}
        try:
            RiskLimits(**risk)
        except ValueError as exc:
            text = str(exc)
            field = "max_open_positions" if text.startswith("max_open") else "max_position_fraction"
            raise FieldError(field, text[len(field):].strip() if text.startswith(field) else text) from None
        return risk

    def apply(self, conn):
        conn.risk = dict(conn.risk, **self.validate())


# -- exchange connections ---------------------------------------------------------------------------
class ExchangeCatalog(QObject):
    """What ccxt knows about the exchanges, loaded once off the GUI thread (importing ccxt and
    ccxt.pro takes about a second; the app's start-up never waits for it). ``loaded`` fires when
    :meth:`facts` and :attr:`ids` become available."""

    loaded = Signal()
    _preloaded = Signal(object)  # from the loader thread; queued to the GUI thread

    def __init__(self, parent=None):
        super().__init__(parent)
        self.ids: List[str] = []
        self._started = False
        self._preloaded.connect(self._finish, Qt.ConnectionType.QueuedConnection)

    @property
    def ready(self) -> bool:
        return bool(self.ids)

    def ensure(self) -> None:
        """Start loading on a background thread once the event loop runs (no-op when loaded or loading)."""
        if self.ready or self._started:
            return
        self._started = True
        QTimer.singleShot(250, self._start_thread)  # after the first paint: start-up never competes with it

    def _start_thread(self) -> None:
        def work() -> None:
            try:
                rules.preload()
                ids = rules.exchange_ids()
            except Exception as exc:  # noqa: BLE001 - shown as "not loaded"; load_now() will say why
                log.warning("loading the ccxt exchange list failed: %s", exc)
                ids = []
            self._preloaded.emit(ids)

        threading.Thread(target=work, name="ccxt-catalog", daemon=True).start()

    def _finish(self, ids) -> None:
        if ids and not self.ready:
            self.ids = list(ids)
            self.loaded.emit()

    def load_now(self) -> None:
        """Load synchronously (used when a value is needed at once, e.g. on Save)."""
        if self.ready:
            return
        rules.preload()
        self.ids = rules.exchange_ids()
        self.loaded.emit()

    def facts(self, exchange: str) -> Optional[rules.ExchangeFacts]:
        if not self.ready:
            return None
        try:
            return rules.exchange_facts(exchange)
        except rules.RuleError:
            return None


_MARKET_TYPES = (("spot", "Spot"), ("margin", "Margin"), ("swap", "Futures (perpetual swap)"))


class ExchangeSection(DetailsSection):
    """Name, exchange, account type, testnet, API type, rate limits, base URL, enabled, symbols."""

    exchange_changed = Signal(str)

    def __init__(self, catalog: ExchangeCatalog, parent=None):
        super().__init__("Exchange", parent)
        self.catalog = catalog
        self.name = QLineEdit()
        self.name.setMinimumWidth(260)
        self.add_field("name", "Name", self.name, help="Renaming moves the keyring entries along")
        self.exchange = exchange_combo([], "")
        self.add_field("exchange", "Exchange", self.exchange, help="Any exchange ccxt supports; type to search")
        self.facts_hint = QLabel()
        self.facts_hint.setObjectName("Hint")
        self.facts_hint.setWordWrap(True)
        self.form.addRow("", self.facts_hint)
        self.market_type = QComboBox()
        for key, title in _MARKET_TYPES:
            self.market_type.addItem(title, key)
        self.add_field("market_type", "Market type", self.market_type, help="ccxt defaultType of the account")
        self.position_mode = QComboBox()
        self.position_mode.addItem("One-way", "one-way")
        self.position_mode.addItem("Hedge", "hedge")
        self.add_field("position_mode", "Position mode", self.position_mode, help="Futures only")
        self.testnet = QCheckBox("Use the exchange's testnet (sandbox)")
        self.add_field("testnet", "Testnet", self.testnet)
        self.api_type = QComboBox()
        self.api_type.addItem("REST (polling)", "rest")
        self.api_type.addItem("WebSocket (ccxt.pro)", "websocket")
        self.add_field("api_type", "API type", self.api_type)
        self.rate = _spin(0.0, 10_000.0, 2, 1.0, width=210)
        self.add_field("rate_limit_per_second", "Rate limit", self.rate, "requests / s",
                       "0 = the exchange's own limit (ccxt rateLimit)")
        self.concurrency = _spin(1, 256)
        self.add_field("max_concurrency", "Max concurrency", self.concurrency, "requests in flight")
        self.batch = _spin(1, 100_000)
        self.add_field("batch_size", "Batch size", self.batch, "items per paged request")
        self.base_url = QLineEdit()
        self.base_url.setPlaceholderText("default (ccxt's URLs)")
        self.base_url.setMinimumWidth(300)
        self.add_field("base_url", "API base URL", self.base_url,
                       help="Optional override for a self-hosted gateway or a local test exchange")
        self.symbols = QLineEdit()
        self.symbols.setPlaceholderText("BTC/USDT, ETH/USDT")
        self.symbols.setMinimumWidth(300)
        self.add_field("symbols", "Symbols", self.symbols, help="Unified ccxt symbols, comma separated")
        self.enabled = QCheckBox("Enabled")
        self.add_field("enabled", "", self.enabled)
        self._exchange_loaded = ""
        for w in (self.market_type, self.position_mode, self.api_type):
            w.currentIndexChanged.connect(self._changed)
        self.market_type.currentIndexChanged.connect(self._update_enabled)
        for w in (self.testnet, self.enabled):
            w.toggled.connect(self._changed)
        for w in (self.rate, self.concurrency, self.batch):
            w.valueChanged.connect(self._changed)
        for w in (self.name, self.base_url, self.symbols):
            w.textChanged.connect(self._changed)
        self.exchange.currentTextChanged.connect(self._exchange_edited)
        catalog.loaded.connect(self._catalog_loaded)

    def applies_to(self, conn):
        return not conn.is_paper_replay

    def current_exchange(self) -> str:
        return self.exchange.currentText().strip().lower()

    def entered_symbols(self) -> List[str]:
        return [s.strip().upper() for s in self.symbols.text().split(",") if s.strip()]

    def load(self, conn):
        self._exchange_loaded = conn.exchange
        fill_exchange_combo(self.exchange, self.catalog.ids, conn.exchange)
        self.name.setText(conn.name)
        self.name.setReadOnly(conn.builtin)
        self.market_type.setCurrentIndex(max(self.market_type.findData(conn.market_type), 0))
        self.position_mode.setCurrentIndex(max(self.position_mode.findData(conn.position_mode), 0))
        self.testnet.setChecked(conn.testnet)
        self.api_type.setCurrentIndex(max(self.api_type.findData(conn.api_type), 0))
        self.rate.setValue(conn.rate_limit_per_second or 0.0)
        self.concurrency.setValue(conn.max_concurrency)
        self.batch.setValue(conn.batch_size)
        self.base_url.setText(conn.base_url)
        self.symbols.setText(", ".join(conn.symbols))
        self.enabled.setChecked(conn.enabled)
        self._apply_facts(set_defaults=False)
        self.show_error(None)

    def _catalog_loaded(self) -> None:
        current = self.exchange.currentText()
        fill_exchange_combo(self.exchange, self.catalog.ids, current)
        self._apply_facts(set_defaults=False)

    def _exchange_edited(self, _text: str) -> None:
        ex = self.current_exchange()
        facts = self.catalog.facts(ex)
        if facts is not None and ex != self._exchange_loaded:
            self._exchange_loaded = ex
            self._apply_facts(set_defaults=True)
            self.exchange_changed.emit(ex)
        self._changed()

    def _apply_facts(self, set_defaults: bool) -> None:
        """Hints and defaults from ccxt: testnet on where the exchange has one, WebSocket only where
        ccxt.pro supports it, the rate limit's default shown as the spin box's special text."""
        facts = self.catalog.facts(self.current_exchange())
        ws_item = self.api_type.model().item(1)
        if facts is None:
            self.facts_hint.setText("Loading exchange details…" if not self.catalog.ready else "")
            self.rate.setSpecialValueText("exchange default")
            ws_item.setEnabled(True)
        else:
            bits = [facts.name, "testnet available" if facts.has_testnet else "no testnet in ccxt",
                    "WebSocket via ccxt.pro" if facts.websocket else "REST only",
                    "needs " + ", ".join(facts.required)]
            self.facts_hint.setText(" · ".join(bits))
            rps = facts.requests_per_second
            self.rate.setSpecialValueText(f"exchange default ({rps:g}/s)" if rps else "exchange default")
            ws_item.setEnabled(facts.websocket)
            if not facts.websocket and self.api_type.currentData() == "websocket":
                self.api_type.setCurrentIndex(0)
            if set_defaults:
                self.testnet.setChecked(facts.has_testnet)
                self.rate.setValue(0.0)
        self._update_enabled()

    def _update_enabled(self, *_a) -> None:
        self.position_mode.setEnabled(self.market_type.currentData() == "swap")

    def validate(self) -> None:
        url = self.base_url.text().strip()
        if url and not url.startswith(("http://", "https://", "ws://", "wss://")):
            raise FieldError("base_url", "must start with http(s):// or ws(s)://")
        name = self.name.text()
        if not name.strip():
            raise FieldError("name", "must not be empty")
        if name != name.strip():
            raise FieldError("name", "must not start or end with spaces")

    def apply(self, conn):
        self.validate()
        ex = self.current_exchange()
        if ex == "paper":
            raise FieldError("exchange", "the recorded-market paper exchange is the built-in connection; pick a ccxt exchange")
        if not self.catalog.ready:
            self.catalog.load_now()
        try:
            conn.exchange = rules.check_exchange(ex)
        except rules.RuleError as exc:
            raise FieldError("exchange", str(exc)) from None
        facts = self.catalog.facts(conn.exchange)
        if self.api_type.currentData() == "websocket" and facts is not None and not facts.websocket:
            raise FieldError("api_type", f"ccxt.pro has no WebSocket support for {conn.exchange}; use REST")
        conn.name = self.name.text()
        conn.market_type = self.market_type.currentData()
        conn.position_mode = self.position_mode.currentData()
        conn.testnet = self.testnet.isChecked()
        conn.api_type = self.api_type.currentData()
        conn.rate_limit_per_second = float(self.rate.value()) or None
        conn.max_concurrency = int(self.concurrency.value())
        conn.batch_size = int(self.batch.value())
        conn.base_url = self.base_url.text().strip()
        conn.symbols = self.entered_symbols()
        bad = [s for s in conn.symbols if "/" not in s]
        if bad:
            raise FieldError("symbols", f"{', '.join(bad)}: use unified symbols like BTC/USDT")
        conn.enabled = self.enabled.isChecked()


class CredentialsSection(DetailsSection):
    """One password-mode field per credential the exchange requires. Stored values are only ever
    shown masked (``secrets.mask``); an empty field keeps the stored value. Nothing here is
    written anywhere: :meth:`ConnectionDetails.save` moves the entered values to the keyring."""

    def __init__(self, details: "ConnectionDetails", parent=None):
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
        ok, message = self.details.keyring_status()
        self.keyring_ok = ok
        stored: Dict[str, str] = {}
        if ok and conn is not None and conn.credential_fields:
            try:
                stored = self.details.secret_store().get_all(conn.name, conn.credential_fields)
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


def _fmt_number(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:,.8f}".rstrip("0").rstrip(".")
    return str(v)


def describe_rate_limits(limits: Dict[str, Any]) -> str:
    parts = []
    if limits.get("requests_per_second"):
        parts.append(f"{limits['requests_per_second']:g} requests/s (ccxt: {limits.get('ccxt_rate_limit_ms')} ms apart)")
    for item in limits.get("exchange") or []:
        if isinstance(item, dict) and {"rateLimitType", "limit"} <= set(item):
            parts.append(f"{item['rateLimitType']} {item['limit']} per {item.get('intervalNum', 1)} "
                         f"{str(item.get('interval', '')).lower()}")
    if limits.get("used_weight_1m") is not None:
        parts.append(f"used weight (1 min): {limits['used_weight_1m']}")
    return "\n".join(parts) or "–"


class TestSection(DetailsSection):
    """Test Connection: the button, progress with the current stage, Cancel, and the last result
    (status, warnings, balances, capabilities, latency, clock offset, rate limits, permissions,
    time, and an expandable request log). Running the test is :meth:`ConnectionDetails.start_test`."""

    __test__ = False  # not a pytest class

    def __init__(self, parent=None):
        super().__init__("Test Connection", parent)
        self.test_button = QPushButton("Test Connection")
        self.test_button.setObjectName("TestConnectionButton")
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setObjectName("CancelTestButton")
        self.cancel_button.setVisible(False)
        self.progress = QProgressBar()
        self.progress.setRange(0, 100)
        self.progress.setTextVisible(False)
        self.progress.setFixedHeight(8)
        self.progress.setMinimumWidth(160)
        self.progress.setVisible(False)
        self.stage = QLabel()
        self.stage.setObjectName("Hint")
        row = QHBoxLayout()
        row.addWidget(self.test_button)
        row.addWidget(self.cancel_button)
        row.addWidget(self.progress)
        row.addWidget(self.stage, 1)
        self.form.addRow(row)
        self.result = QLabel("Never tested.")
        self.result.setObjectName("TestStatus")
        self.result.setWordWrap(True)
        self.result.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.form.addRow(self.result)
        self.danger = QLabel()
        self.danger.setObjectName("TestDanger")
        self.danger.setWordWrap(True)
        self.danger.setStyleSheet("QLabel { background: #6b1518; color: #ffffff; font-weight: 700; border: 2px solid "
                                  "#ff5a52; border-radius: 4px; padding: 8px; }")
        self.danger.setVisible(False)
        self.form.addRow(self.danger)
        self.warnings = QLabel()
        self.warnings.setObjectName("TestWarnings")
        self.warnings.setWordWrap(True)
        self.warnings.setStyleSheet("QLabel { color: #f0b94a; }")
        self.form.addRow(self.warnings)
        self.facts: Dict[str, QLabel] = {}
        for key, title in (("tested_at", "Last test"), ("latency", "Latency"), ("clock", "Clock offset"),
                           ("balances", "Balances"), ("permissions", "Key permissions"),
                           ("capabilities", "Capabilities"), ("rate_limits", "Rate limits")):
            lbl = QLabel("–")
            lbl.setObjectName(f"test_{key}")
            lbl.setWordWrap(True)
            lbl.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            self.facts[key] = lbl
            self.form.addRow(title, lbl)
        self.log_toggle = QToolButton()
        self.log_toggle.setObjectName("TestLogToggle")
        self.log_toggle.setCheckable(True)
        self.log_toggle.setText("▸ Request log")
        self.log_view = QPlainTextEdit()
        self.log_view.setObjectName("TestLog")
        self.log_view.setReadOnly(True)
        self.log_view.setMinimumHeight(150)
        self.log_view.setVisible(False)
        self.log_toggle.toggled.connect(self._toggle_log)
        self.form.addRow(self.log_toggle)
        self.form.addRow(self.log_view)

    def applies_to(self, conn):
        return not conn.is_paper_replay

    def _toggle_log(self, on: bool) -> None:
        self.log_view.setVisible(on)
        self.log_toggle.setText(("▾" if on else "▸") + self.log_toggle.text()[1:])

    def set_running(self, running: bool) -> None:
        self.test_button.setEnabled(not running)
        self.cancel_button.setVisible(running)
        self.progress.setVisible(running)
        if running:
            self.progress.setValue(0)
            self.stage.setText("Starting…")

    def set_progress(self, stage: str, fraction: float) -> None:
        self.progress.setValue(int(max(0.0, min(1.0, fraction)) * 100))
        self.stage.setText(stage + "…" if fraction < 1 else stage)

    def set_message(self, text: str, tone: str = "") -> None:
        colours = {"ok": "#3fd1bf", "error": "#ff7a76", "": "#aab3c5"}
        self.result.setStyleSheet(f"QLabel {{ color: {colours.get(tone, '#aab3c5')}; font-weight: 600; }}")
        self.result.setText(text)

    def load(self, conn):
        self.show_result(conn.last_test or {})

    def show_result(self, t: Dict[str, Any]) -> None:
        if not t:
            self.set_message("Never tested. Save the connection, then press Test Connection.")
            for lbl in self.facts.values():
                lbl.setText("–")
            self.danger.setVisible(False)
            self.warnings.setText("")
            self.log_view.setPlainText("")
            self.log_toggle.setText(("▾" if self.log_toggle.isChecked() else "▸") + " Request log")
            return
        ok = bool(t.get("ok"))
        verdict = "PASSED" if ok else f"FAILED ({t.get('error_kind') or 'error'})"
        self.set_message(f"{verdict}: {t.get('status', '')}", "ok" if ok else "error")
        f = self.facts
        f["tested_at"].setText(rules.fmt_time(t.get("tested_at")) or "–")
        lat, off = t.get("latency_ms"), t.get("clock_offset_ms")
        f["latency"].setText("–" if lat is None else f"{lat:.0f} ms round trip")
        f["clock"].setText("–" if off is None else f"{round(off):+d} ms (exchange minus this computer)")
        bal = t.get("balances") or {}
        f["balances"].setText("\n".join(f"{k}  {_fmt_number(v)}" for k, v in sorted(bal.items())) or
                              ("none (empty account)" if ok and t.get("permissions") is not None else "–"))
        perms = t.get("permissions")
        if isinstance(perms, dict):
            granted = [k for k, v in perms.items() if v is True]
            denied = [k for k, v in perms.items() if v is False]
            f["permissions"].setText("granted: " + (", ".join(granted) or "none")
                                     + (f"\nnot granted: {', '.join(denied)}" if denied else ""))
        else:
            f["permissions"].setText("not exposed by this exchange" if ok else "–")
        caps = t.get("capabilities") or {}
        have = [k for k, v in caps.items() if v is True]
        emulated = [k for k, v in caps.items() if v == "emulated"]
        lack = [k for k, v in caps.items() if not v]
        f["capabilities"].setText("\n".join(x for x in (
            ", ".join(have), f"emulated: {', '.join(emulated)}" if emulated else "",
            f"missing: {', '.join(lack)}" if lack else "") if x) or "–")
        f["rate_limits"].setText(describe_rate_limits(t.get("rate_limits") or {}))
        warnings = list(t.get("warnings") or [])
        loud = [w for w in warnings if w.startswith("DANGER")]
        if isinstance(perms, dict) and perms.get("enableWithdrawals") and not loud:
            loud = ["DANGER: this API key can WITHDRAW funds."]
        self.danger.setText("⚠  " + "\n".join(loud) if loud else "")
        self.danger.setVisible(bool(loud))
        self.warnings.setText("\n".join("• " + w for w in warnings if w not in loud))
        log = t.get("log") or []
        self.log_view.setPlainText("\n".join(
            f"{rules.fmt_time(e.get('time'))[11:] if e.get('time') else ''}  {e.get('request', '?')}  ->  "
            f"{e.get('outcome', '?')}" + (f"  ({e['ms']:.0f} ms)" if isinstance(e.get("ms"), (int, float)) else "")
            for e in log if isinstance(e, dict)))
        self.log_toggle.setText(("▾" if self.log_toggle.isChecked() else "▸") + f" Request log ({len(log)} requests)")

    def apply(self, conn):
        pass


# -- the details panel --------------------------------------------------------------------------------
class ConnectionDetails(QWidget):
    """Header (name, mode badge, live switch), the sections, and Save / Revert with an inline
    status line. Owns the keyring handle (:meth:`secret_store`) and the running connection test.

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
        self.open_secrets = SecretStore.open
        self._secrets: Optional[SecretStore] = None
        self._keyring_error: Optional[str] = None
        self.catalog = ExchangeCatalog(self)
        self.test_timeout = 15.0
        self.test_task: Optional[asyncio.Future] = None
        self.test_name: Optional[str] = None
        self.live_dialog: Optional[LiveConfirmDialog] = None

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

        self._body = QWidget()
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
    def secret_store(self) -> SecretStore:
        """The opened keyring; raises :class:`NoSecureKeyringError` (message: what to install/start)."""
        if self._secrets is None:
            try:
                self._secrets = self.open_secrets()
            except NoSecureKeyringError as exc:
                self._keyring_error = str(exc)
                raise
        return self._secrets

    def keyring_status(self):
        """``(True, description)`` or ``(False, message)``; never raises."""
        try:
            store = self.secret_store()
        except NoSecureKeyringError as exc:
            return False, str(exc)
        except Exception as exc:  # noqa: BLE001 - the panel must not crash on a keyring surprise
            return False, f"the keyring could not be opened ({type(exc).__name__})"
        names = {"secretservice": "Secret Service", "kwallet": "KWallet", "macos": "macOS Keychain",
                 "windows": "Windows Credential Locker"}
        return True, names.get(getattr(store, "backend_name", ""), "OS keyring")

    def reset_keyring(self) -> None:
        """Forget the opened keyring (after ``open_secrets`` changed) and show the new state."""
        self._secrets = None
        if self.conn is not None:
            self.load(self.services.connection(self.conn.name))

    def _stored_secrets(self, conn: ConnectionConfig) -> Dict[str, str]:
        if not conn.credential_fields:
            return {}
        return self.secret_store().get_all(conn.name, conn.credential_fields)

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
        enabled = conn is not None
        for s in self.sections:
            s.setEnabled(enabled)
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
        self._repolish(self.badge)
        self.live_button.setVisible(not conn.is_paper_replay)
        self.live_button.setText("Back to paper" if conn.live else "Go live…")
        if conn.is_paper_replay:
            kind = "Built-in paper exchange replaying a recorded market"
        else:
            kind = (f"{rules.venue(conn)}; "
                    + ("LIVE: real orders are sent" if conn.live else "paper trading on the exchange's real market data")
                    + f"; last test: {rules.test_summary(conn.last_test)}")
        self.subtitle.setText(kind + (" (built in)" if conn.builtin else ""))
        for s in self.sections:
            s.setVisible(s.applies_to(conn))
            s.blockSignals(True)
            try:
                s.load(conn)
            finally:
                s.blockSignals(False)
        self._sync_strategies()
        running = self.test_task is not None and not self.test_task.done()
        self.test_section.set_running(running and self.test_name == conn.name)
        if running and self.test_name != conn.name:
            self.test_section.test_button.setEnabled(False)
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
            ds = DATASETS.get(self.replay_section.dataset.currentData())
            return ds.symbols if ds is not None else []
        return self.exchange_section.entered_symbols()

    def _sync_strategies(self) -> None:
        """Offer the current symbols to every strategy form and show what their sizes add up to
        under the risk limits as entered (hints and warnings; nothing is blocked)."""
        if self.conn is None:
            return
        symbols = self.available_symbols()
        risk = {"max_position_fraction": float(self.risk_section.max_fraction.value()),
                "max_open_positions": int(self.risk_section.max_open.value())}
        extras = self.extra_strategies_section
        rows = []
        offered = False
        for form in [self.strategy_section.strategy_form] + extras.forms():
            offered = form.symbols.set_available(symbols) or offered
            traded = form.symbols.traded()
            form.set_allocation(*strategy_allocation(form.size(), traded, risk))
            rows.append((form.title, form.size(), traded))
        extras.set_total(*total_allocation(rows, risk))
        if offered:  # a ticked symbol may have left the connection: say so at once
            self.strategy_section.check()
            extras.check()

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
        for s in self.sections:
            if not s.applies_to(new):
                continue
            try:
                s.apply(new)
            except FieldError as exc:
                s.show_error(exc.field, exc.message)
                self._error(f"Not saved: {exc.label}: {exc.message}")
                QTimer.singleShot(0, lambda: self._reveal_error(s))
                return False
            s.show_error(None)
        try:
            new.validate()
        except SettingsError as exc:
            self._error(f"Not saved: {exc}")
            return False
        renamed = new.name != before.name
        if renamed:
            if new.name in self.services.settings.connections:
                self.exchange_section.show_error("name", "another connection has this name")
                self._error(f"Not saved: a connection called {new.name!r} already exists")
                return False
            if self.services.engine_state(before.name) in ("initializing", "running", "paused", "stopping"):
                self._error("Not saved: stop the engine before renaming the connection")
                return False

        creds = self.credentials_section
        entered = creds.entered() if not new.is_paper_replay else {}
        forget = creds.forget.isChecked()
        store: Optional[SecretStore] = None
        current: Optional[Dict[str, str]] = None
        final: Optional[Dict[str, str]] = None
        if entered or forget or (renamed and before.credential_fields):
            try:
                store = self.secret_store()
                current = self._stored_secrets(before)
            except (NoSecureKeyringError, SecretStoreError) as exc:
                self._error("Not saved, nothing was stored: " + str(exc))
                return False
            final = {} if forget else {**current, **entered}
        fields = sorted(final) if final is not None else list(before.credential_fields)
        try:
            rules.check_complete(new.exchange, fields)
        except rules.RuleError as exc:
            creds.show_error(next((f for f in creds.edits if f not in fields), None), "required")
            self._error(f"Not saved: {exc}")
            return False
        creds_changed = final is not None and final != current
        note = rules.invalidate_test(before, new, creds_changed)
        new.credential_fields = fields

        # Keyring first, then the settings file; undo the keyring if the file cannot be written.
        undo = []
        try:
            if store is not None and final is not None:
                for field, value in final.items():
                    if renamed or current.get(field) != value:
                        store.set(new.name, field, value)
                        old = current.get(field)
                        if old is not None and not renamed:
                            undo.append(lambda f=field, o=old: store.set(before.name, f, o))
                        else:
                            undo.append(lambda f=field: store.delete(new.name, f))
                for field in current:
                    if renamed or field not in final:
                        store.delete(before.name, field)
                        undo.append(lambda f=field: store.set(before.name, f, current[f]))
            settings = self.services.settings
            previous = dict(settings.connections)
            settings.connections = {(new.name if k == before.name else k): (new if k == before.name else v)
                                    for k, v in settings.connections.items()}
            try:
                settings.save()
            except SettingsError:
                settings.connections = previous
                raise
        except (SettingsError, SecretStoreError) as exc:
            for step in reversed(undo):
                try:
                    step()
                except SecretStoreError:
                    pass
            self._error(f"Not saved: {exc}")
            return False
        creds.clear_entered()
        self.conn = new
        self.load(new)
        notes = [note] if note else []
        if creds_changed:
            notes.append("Credentials stored in the keyring." if final else "Credentials removed from the keyring.")
        if self.services.engine_state(new.name) in ("initializing", "running", "paused", "stopping"):
            notes.append("The running engine keeps its settings; they apply at the next start.")
        warning = rules.testnet_warning(new) if not new.is_paper_replay and self.catalog.ready else None
        if warning:
            notes.append(warning)
        self._ok("Saved. " + " ".join(n[:1].upper() + n[1:] + ("" if n.endswith(".") else ".") for n in notes))
        if renamed:
            self.renamed.emit(before.name, new.name)
        self.saved.emit(new.name)
        return True

    def _reveal_error(self, section: DetailsSection) -> None:
        """Scroll the first error line shown in ``section`` into view (it may be far below)."""
        shown = [lbl for lbl in section.findChildren(QLabel, "FieldError") if lbl.isVisible() and lbl.text()]
        if shown:
            self.scroll.ensureWidgetVisible(shown[0], 50, 80)

    # -- test connection ----------------------------------------------------------------------------
    def start_test(self) -> Optional[asyncio.Future]:
        """Run the connection test of the shown connection (saving pending edits first) as a task
        on the loop; the window stays responsive. Returns the task (None when refused)."""
        if self.conn is None or self.conn.is_paper_replay:
            return None
        if self.test_task is not None and not self.test_task.done():
            self._error(f"A test of {self.test_name!r} is already running.")
            return None
        if self._dirty and not self.save():
            return None
        conn = copy.deepcopy(self.services.connection(self.conn.name))
        try:
            secrets = self._stored_secrets(conn)
        except (NoSecureKeyringError, SecretStoreError) as exc:
            self._error("Cannot test with the stored credentials: " + str(exc))
            return None
        self.test_name = conn.name
        self.test_section.set_running(True)
        self.test_section.set_message(f"Testing {rules.venue(conn)}…")
        self.status.setText("")
        self.test_task = asyncio.ensure_future(self._run_test(conn, secrets))
        return self.test_task

    def cancel_test(self) -> None:
        if self.test_task is not None and not self.test_task.done():
            self.test_task.cancel()

    async def _run_test(self, conn: ConnectionConfig, secrets: Dict[str, str]) -> None:
        section = self.test_section

        def progress(stage: str, fraction: float) -> None:
            if self.conn is not None and self.conn.name == conn.name:
                section.set_progress(stage, fraction)

        shown = lambda: self.conn is not None and self.conn.name == conn.name  # noqa: E731
        try:
            progress("Loading the exchange library", 0.02)
            loop = asyncio.get_event_loop()
            conntest = await loop.run_in_executor(None, importlib.import_module, "cts_desktop.exchange.conntest")
            result = await conntest.test_connection(conn, secrets, timeout=self.test_timeout, on_progress=progress)
        except asyncio.CancelledError:
            if shown():
                section.set_running(False)
                section.stage.setText("")
                section.show_result(self.services.connection(conn.name).last_test or {})
                section.set_message("Test cancelled: nothing was changed.", "")
            raise
        except Exception as exc:  # noqa: BLE001 - a bug in the test: reported, nothing stored
            text = rules.scrub(f"{type(exc).__name__}: {exc}", secrets.values())
            log.warning("connection test of %s crashed: %s", conn.name, text)
            if shown():
                section.set_running(False)
                section.set_message(f"The connection test crashed: {text}", "error")
            return
        finally:
            if self.test_task is asyncio.current_task():
                self.test_name = None
        record = rules.test_record(conn, result, secrets)
        stored = self.services.settings.connections.get(conn.name)
        same = stored is not None and all(getattr(stored, f) == getattr(conn, f) for f in rules.TEST_RELEVANT_FIELDS) \
            and sorted(stored.credential_fields) == sorted(conn.credential_fields)
        if same:
            stored.last_test = record
            try:
                self.services.save_connection(stored)
            except SettingsError as exc:
                self._error(f"The test result could not be saved: {exc}")
        if shown():
            section.set_running(False)
            section.stage.setText("")
            section.show_result(record)
            if self.conn is not None and not self._dirty and same:
                self.conn = stored
                self.subtitle.setText(f"{rules.venue(stored)}; "
                                      + ("LIVE: real orders are sent" if stored.live else
                                         "paper trading on the exchange's real market data")
                                      + f"; last test: {rules.test_summary(stored.last_test)}")
            if not same:
                section.set_message(section.result.text() + "  (Not kept: the connection changed during the test.)",
                                    "ok" if result.ok else "error")
        self.test_finished.emit(conn.name)

    # -- live switch --------------------------------------------------------------------------------
    def toggle_live(self) -> None:
        """Back to paper at once; to live only after a passing test with the current credentials
        and the typed confirmation (:class:`LiveConfirmDialog`)."""
        if self.conn is None or self.conn.is_paper_replay:
            return
        if self._dirty:
            self._error("Save or revert your changes first.")
            return
        conn = self.services.connection(self.conn.name)
        if conn.live:
            self._set_live(conn, False)
            return
        try:
            secrets = self._stored_secrets(conn)
        except (NoSecureKeyringError, SecretStoreError) as exc:
            self._error("Live trading refused: the credentials cannot be read: " + str(exc))
            return
        refusal = rules.live_refusal(conn, secrets)
        if refusal is not None:
            hint = {"no-credentials": "; enter the API credentials and save, then press Test Connection",
                    "untested": "; press Test Connection first", "failed": "; fix it and test again",
                    "changed": "; press Test Connection again"}.get(refusal.kind, "")
            self._error(refusal.message[:1].upper() + refusal.message[1:] + hint + ".")
            return
        dlg = LiveConfirmDialog(conn, self)
        dlg.accepted.connect(lambda: self._confirmed_live(conn.name, dlg))
        dlg.finished.connect(lambda _r: setattr(self, "live_dialog", None))
        self.live_dialog = dlg
        dlg.open()

    def _confirmed_live(self, name: str, dlg: LiveConfirmDialog) -> None:
        conn = self.services.connection(name)
        if not dlg.matches():
            self._error("Live trading NOT switched on: the typed name did not match the connection name.")
            return
        try:  # judged again: the credentials or the test may have changed while the dialog was open
            refusal = rules.live_refusal(conn, self._stored_secrets(conn))
        except (NoSecureKeyringError, SecretStoreError) as exc:
            self._error("Live trading refused: " + str(exc))
            return
        if refusal is not None:
            self._error(refusal.message[:1].upper() + refusal.message[1:] + ".")
            return
        self._set_live(conn, True)

    def _set_live(self, conn: ConnectionConfig, live: bool) -> None:
        new = copy.deepcopy(conn)
        new.live = live
        try:
            new.validate()
            self.services.save_connection(new)
        except SettingsError as exc:
            self._error(f"Not changed: {exc}")
            return
        self.load(new)
        running = self.services.engine_state(new.name) in ("initializing", "running", "paused", "stopping")
        tail = " The running engine keeps its mode until it is restarted." if running else ""
        if live:
            self._ok(f"{new.name} is LIVE: real orders will be sent to {rules.venue(new)} when it runs.{tail}")
        else:
            self._ok(f"{new.name} is back to paper trading: no real orders.{tail}")
        self.saved.emit(new.name)

    # -- status line --------------------------------------------------------------------------------
    def _ok(self, text: str) -> None:
        self.status.setProperty("error", False)
        self._repolish(self.status)
        self.status.setText(text)

    def _error(self, text: str) -> None:
        self.status.setProperty("error", True)
        self._repolish(self.status)
        self.status.setText(text)

    @staticmethod
    def _repolish(w: QWidget) -> None:
        w.style().unpolish(w)
        w.style().polish(w)


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
        ConnectionDetails._repolish(self.list_status)
        self.list_status.setText(text)

    def _unique(self, base: str) -> str:
        names = set(self.services.settings.connections)
        if base not in names:
            return base
        n = 2
        while f"{base} {n}" in names:
            n += 1
        return f"{base} {n}"

    # -- add / duplicate / delete ---------------------------------------------------------------------
    def add_connection(self) -> AddConnectionDialog:
        """Open the Add dialog (loading ccxt's exchange list first if needed); returns it."""
        catalog = self.details.catalog
        if not catalog.ready:
            self._say("Loading the list of exchanges…")
            catalog.load_now()
            self._say("")
        dlg = AddConnectionDialog(self.services.settings.connections, catalog.ids, self._unique("New connection"), self)
        dlg.accepted.connect(lambda: self._create(*dlg.values()))
        self.dialog = dlg
        dlg.open()
        return dlg

    def _create(self, name: str, exchange: str) -> None:
        facts = rules.exchange_facts(exchange)
        conn = ConnectionConfig(name=name, exchange=exchange, testnet=facts.has_testnet, symbols=["BTC/USDT"],
                                market_type="spot")
        try:
            conn.validate()
            self.services.save_connection(conn)
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
        new = copy.deepcopy(self.services.connection(src.name))
        new.name = self._unique(f"{src.name} (copy)")
        new.builtin = False
        new.live = False
        new.last_test = {}
        new.credential_fields = []
        try:
            new.validate()
            self.services.save_connection(new)
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
        if self.services.engine_state(conn.name) in ("initializing", "running", "paused", "stopping"):
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
        conn = self.services.connection(name)
        removed: List[str] = []
        if conn.credential_fields:
            try:
                removed = self.details.secret_store().delete_connection(name, CREDENTIAL_FIELDS)
            except (NoSecureKeyringError, SecretStoreError) as exc:
                self._say(f"Not deleted: its credentials could not be removed from the keyring: {exc}", error=True)
                return False
        try:
            self.services.settings.remove(name)
        except SettingsError as exc:
            self._say(f"Not deleted: {exc}", error=True)
            return False
        self._say(f"Deleted {name!r}" + (f" and its keyring entries ({', '.join(removed)})." if removed else "."))
        self.details.load(None)
        self.refresh()
        self.removed.emit(name)
        return True
