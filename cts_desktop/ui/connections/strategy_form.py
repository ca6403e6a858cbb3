"""One strategy of a connection in a form: which strategy, the symbols it trades
(:class:`SymbolsPicker`), what its size means for the account, and its generated parameters."""
from __future__ import annotations

from typing import Any, Dict, List, Optional

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QCheckBox, QComboBox, QDoubleSpinBox, QFormLayout, QGridLayout, QLabel, QSizePolicy, QVBoxLayout, QWidget

from ...engine import strategies as strategy_registry
from ...engine.strategies.base import ParamError
from .base import CHECKBOX_STYLE, WARNING_STYLE, FieldError
from .param_form import ParamForm


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
