"""Connections tab: the list of connections and the settings of the selected one.

The details panel is a stack of :class:`DetailsSection` boxes. Each section loads its fields from
a :class:`~cts_desktop.store.settings.ConnectionConfig`, writes them into a copy on Save and
reports a bad value as :class:`FieldError` (shown inline, next to the field, and nothing is
saved). A new kind of connection (exchange keys, Test Connection) adds a section with
:meth:`ConnectionDetails.add_section`; ``applies_to`` hides sections that do not fit a connection
(the replay settings only apply to the recorded-market paper exchange).
"""
from __future__ import annotations

import copy
from typing import Any, Dict, List, Optional

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QColor, QFont
from PySide6.QtWidgets import (QAbstractItemView, QCheckBox, QComboBox, QDoubleSpinBox, QFormLayout, QFrame,
                               QGroupBox, QHBoxLayout, QHeaderView, QLabel, QLineEdit, QPushButton, QScrollArea,
                               QSizePolicy, QSpinBox, QSplitter, QTableView, QVBoxLayout, QWidget)

from ..core.risk import RiskLimits
from ..engine import strategies as strategy_registry
from ..engine.strategies.base import Param, ParamError
from ..exchange.replay import DATASETS
from ..store.settings import SPEEDS, ConnectionConfig, SettingsError
from . import models as m


class FieldError(ValueError):
    """A value the user entered is not acceptable; ``field`` names the form field."""

    def __init__(self, field: str, message: str):
        super().__init__(message)
        self.field = field
        self.message = message


# -- the list ---------------------------------------------------------------------------------------
def _mode(c: ConnectionConfig, model) -> str:
    return "LIVE" if c.live else "PAPER"


def _market(c: ConnectionConfig, model) -> str:
    if c.is_paper_replay:
        ds = DATASETS.get(c.dataset)
        return ds.title.split(",")[0].split(" (")[0] if ds else c.dataset
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

    def _changed(self, *_args) -> None:
        try:
            self.validate()
        except FieldError as exc:
            self.show_error(exc.field, exc.message)
        else:
            self.show_error(None)
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


_ACRONYMS = {"ma", "sma", "ema", "rsi", "atr", "adx", "macd", "sl", "tp"}


def _label(name: str) -> str:
    """``"ma_type"`` -> ``"MA type"``; ``"stop_loss"`` -> ``"Stop loss"``."""
    text = " ".join(w.upper() if w in _ACRONYMS else w for w in name.split("_"))
    return text[:1].upper() + text[1:]


class StrategySection(DetailsSection):
    """The strategy and its parameters, validated by the strategy class itself
    (``resolve_params`` then the constructor's cross-parameter checks)."""

    def __init__(self, parent=None):
        super().__init__("Strategy", parent)
        self.strategy = QComboBox()
        for name, cls in sorted(strategy_registry.REGISTRY.items()):
            self.strategy.addItem(cls.title or name, name)
        self.add_field("strategy", "Strategy", self.strategy)
        self.description = QLabel()
        self.description.setObjectName("Hint")
        self.description.setWordWrap(True)
        self.form.addRow("", self.description)
        self.editors: Dict[str, QWidget] = {}
        self._param_rows: List[int] = []
        self._cls = None
        self._loading = False
        self.strategy.currentIndexChanged.connect(self._strategy_changed)

    @property
    def strategy_class(self):
        return strategy_registry.REGISTRY.get(self.strategy.currentData())

    def _strategy_changed(self, *_a) -> None:
        if not self._loading:
            self._build(self.strategy_class, {})
            self._changed()

    def _build(self, cls, values: Dict[str, Any]) -> None:
        # Remove the previous strategy's rows (the first two rows are the selector and description).
        while self.form.rowCount() > 2:
            self.form.removeRow(2)
        for name in list(self._errors):
            if name != "strategy":
                del self._errors[name]
        self.editors = {}
        self._cls = cls
        if cls is None:
            return
        self.description.setText(cls.description)
        for p in cls.params:
            ed = self._editor(p)
            self.editors[p.name] = ed
            self._set(p, ed, values.get(p.name, p.default))
            label = _label(p.name)
            self.add_field(p.name, label, ed, p.unit, p.help)

    def _editor(self, p: Param) -> QWidget:
        if p.type == "choice" or p.choices:
            w = QComboBox()
            for c in p.choices:
                w.addItem(str(c), c)
            w.currentIndexChanged.connect(self._changed)
        elif p.type is bool:
            w = QCheckBox()
            w.toggled.connect(self._changed)
        elif p.type is int:
            w = _spin(p.minimum if p.minimum is not None else -10**9, p.maximum if p.maximum is not None else 10**9)
            w.valueChanged.connect(self._changed)
        elif p.type is float:
            lo = p.minimum if p.minimum is not None else -1e12
            hi = p.maximum if p.maximum is not None else 1e12
            decimals = 4 if hi <= 1 else 2
            w = _spin(lo, hi, decimals, 0.05 if hi <= 1 else 0.5)
            w.valueChanged.connect(self._changed)
        else:
            w = QLineEdit()
            w.textChanged.connect(self._changed)
        return w

    @staticmethod
    def _set(p: Param, w: QWidget, v: Any) -> None:
        if isinstance(w, QComboBox):
            w.setCurrentIndex(max(w.findData(v), 0))
        elif isinstance(w, QCheckBox):
            w.setChecked(bool(v))
        elif isinstance(w, (QSpinBox, QDoubleSpinBox)):
            try:
                w.setValue(int(v) if isinstance(w, QSpinBox) else float(v))
            except (TypeError, ValueError):
                w.setValue(int(p.default) if isinstance(w, QSpinBox) else float(p.default))
        else:
            w.setText(str(v))

    @staticmethod
    def _get(w: QWidget) -> Any:
        if isinstance(w, QComboBox):
            return w.currentData()
        if isinstance(w, QCheckBox):
            return w.isChecked()
        if isinstance(w, (QSpinBox, QDoubleSpinBox)):
            return w.value()
        return w.text()

    def values(self) -> Dict[str, Any]:
        return {name: self._get(w) for name, w in self.editors.items()}

    def set_value(self, name: str, value: Any) -> None:
        """Set one parameter's editor (tests and presets)."""
        p = next(p for p in self._cls.params if p.name == name)
        self._set(p, self.editors[name], value)

    def load(self, conn):
        self._loading = True
        try:
            i = self.strategy.findData(conn.strategy)
            self.strategy.setCurrentIndex(max(i, 0))
        finally:
            self._loading = False
        self._build(self.strategy_class, dict(conn.strategy_params))
        self.show_error(None)

    def validate(self) -> Dict[str, Any]:
        cls = self._cls
        if cls is None:
            raise FieldError("strategy", f"unknown strategy {self.strategy.currentData()!r}")
        try:
            params = cls.resolve_params(self.values())
            cls(params)
        except ParamError as exc:
            msg = str(exc)
            prefix = f"{exc.field}: "
            raise FieldError(exc.field if exc.field in self.editors else "strategy",
                             msg[len(prefix):] if msg.startswith(prefix) else msg) from None
        return params

    def apply(self, conn):
        params = self.validate()
        conn.strategy = self._cls.name
        conn.strategy_params = params


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


# -- the details panel --------------------------------------------------------------------------------
class ConnectionDetails(QWidget):
    """Header (name, mode badge), the sections, and Save / Revert with an inline status line."""

    saved = Signal(str)

    def __init__(self, services, parent=None):
        super().__init__(parent)
        self.services = services
        self.conn: Optional[ConnectionConfig] = None
        self.sections: List[DetailsSection] = []
        self._dirty = False

        self.title = QLabel("No connection selected")
        self.title.setObjectName("DetailsTitle")
        self.badge = QLabel()
        self.badge.setObjectName("Badge")
        self.subtitle = QLabel()
        self.subtitle.setObjectName("Hint")
        head = QHBoxLayout()
        head.addWidget(self.title)
        head.addWidget(self.badge)
        head.addStretch(1)

        self._body = QWidget()
        self._body_lay = QVBoxLayout(self._body)
        self._body_lay.setContentsMargins(0, 0, 8, 0)
        self._body_lay.setSpacing(10)
        self._body_lay.addStretch(1)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QFrame.Shape.NoFrame)
        scroll.setWidget(self._body)

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
        lay.addWidget(scroll, 1)
        lay.addLayout(foot)

        for s in (ReplaySection(), StrategySection(), RiskSection()):
            self.add_section(s)
        self._set_dirty(False)

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

    def load(self, conn: Optional[ConnectionConfig]) -> None:
        self.conn = conn
        enabled = conn is not None
        for s in self.sections:
            s.setEnabled(enabled)
        if conn is None:
            self.title.setText("No connection selected")
            self.badge.setText("")
            self.subtitle.setText("")
            return
        self.title.setText(conn.name)
        self.badge.setText("LIVE" if conn.live else "PAPER")
        self.badge.setProperty("live", conn.live)
        self.badge.style().unpolish(self.badge)
        self.badge.style().polish(self.badge)
        kind = "Built-in paper exchange replaying a recorded market" if conn.is_paper_replay else f"Exchange {conn.exchange}"
        self.subtitle.setText(kind + (" (built in)" if conn.builtin else ""))
        for s in self.sections:
            s.setVisible(s.applies_to(conn))
            s.blockSignals(True)
            try:
                s.load(conn)
            finally:
                s.blockSignals(False)
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

    def save(self) -> bool:
        """Validate every section and save a copy of the connection; False (with the error shown
        inline) when a value is not acceptable."""
        if self.conn is None:
            return False
        new = copy.deepcopy(self.services.connection(self.conn.name))
        for s in self.sections:
            if not s.applies_to(new):
                continue
            try:
                s.apply(new)
            except FieldError as exc:
                s.show_error(exc.field, exc.message)
                self._error(f"Not saved: {exc.field.replace('_', ' ')}: {exc.message}")
                return False
            s.show_error(None)
        try:
            new.validate()
            self.services.save_connection(new)
        except SettingsError as exc:
            self._error(f"Not saved: {exc}")
            return False
        self.conn = new
        self._set_dirty(False)
        note = ""
        if self.services.engine_state(new.name) in ("initializing", "running", "paused", "stopping"):
            note = " The running engine keeps its settings; they apply at the next start."
        self.status.setProperty("error", False)
        self._repolish(self.status)
        self.status.setText("Saved." + note)
        self.saved.emit(new.name)
        return True

    def _error(self, text: str) -> None:
        self.status.setProperty("error", True)
        self._repolish(self.status)
        self.status.setText(text)

    @staticmethod
    def _repolish(w: QWidget) -> None:
        w.style().unpolish(w)
        w.style().polish(w)


class ConnectionsTab(QWidget):
    """The list of connections (left) and the selected one's details (right).

    ``selected(name)`` is emitted when the user picks a connection in the list; ``saved(name)``
    after a successful save.
    """

    selected = Signal(str)
    saved = Signal(str)

    def __init__(self, services, parent=None):
        super().__init__(parent)
        self.services = services
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
        self.list_actions = QHBoxLayout()  # room for Add / Remove / Test Connection buttons
        self.list_actions.addWidget(heading)
        self.list_actions.addStretch(1)
        ll.addLayout(self.list_actions)
        ll.addWidget(self.table, 1)
        self.live_hint = QLabel()
        self.live_hint.setObjectName("Hint")
        self.live_hint.setWordWrap(True)
        ll.addWidget(self.live_hint)

        self.details = ConnectionDetails(services)
        self.details.saved.connect(self._saved)

        self.splitter = QSplitter(Qt.Orientation.Horizontal)
        self.splitter.setObjectName("ConnectionsSplitter")
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

    def select(self, name: str) -> None:
        i = self.model.row_of(name)
        if i is None:
            return
        if self.table.currentIndex().row() != i:
            self.table.selectRow(i)
            self.table.setCurrentIndex(self.model.index(i, 0))
        elif self.details.conn is None or self.details.conn.name != name:
            self.details.load(self.services.connection(name))

    def set_state(self, name: str, state: str) -> None:
        self.model.set_state(name, state)

    def _row_changed(self, current, _previous) -> None:
        if not current.isValid():
            return
        conn = self.model.record(current.row())
        self.details.load(self.services.connection(conn.name))
        self.selected.emit(conn.name)

    def _saved(self, name: str) -> None:
        self.model.upsert([self.services.connection(name)])
        self.saved.emit(name)
