"""The strategy boxes of the details panel: the connection's main strategy (with named presets
shared with the backtest window) and its additional strategies (add, remove), each a
:class:`~.strategy_form.StrategyForm`."""
from __future__ import annotations

from typing import Any, Dict, List, Optional, Tuple

from PySide6.QtWidgets import QComboBox, QFrame, QHBoxLayout, QInputDialog, QLabel, QPushButton, QVBoxLayout, QWidget

from ...services.connection_rules import connection_symbols
from ...services.strategy_allocation import strategy_allocation, total_allocation
from ...store.presets import PresetStore
from .base import WARNING_STYLE, DetailsSection, FieldError
from .strategy_form import StrategyForm


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


def sync_strategies(main: StrategySection, extras: ExtraStrategiesSection, symbols: List[str],
                    risk: Dict[str, Any]) -> None:
    """Offer ``symbols`` (the connection's, as entered) to every strategy form and show what their
    sizes add up to under the ``risk`` limits as entered (hints and warnings; nothing is blocked)."""
    rows = []
    offered = False
    for form in [main.strategy_form] + extras.forms():
        offered = form.symbols.set_available(symbols) or offered
        traded = form.symbols.traded()
        form.set_allocation(*strategy_allocation(form.size(), traded, risk))
        rows.append((form.title, form.size(), traded))
    extras.set_total(*total_allocation(rows, risk))
    if offered:  # a ticked symbol may have left the connection: say so at once
        main.check()
        extras.check()
