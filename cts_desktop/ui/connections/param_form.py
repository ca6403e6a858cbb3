"""The app's one strategy-parameter form, generated from a strategy class's ``params``: used by the
backtest window and, through :class:`~.strategy_form.StrategyForm`, by the Connections tab.
"""
from __future__ import annotations

from typing import Any, Dict, Optional

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QCheckBox, QComboBox, QDoubleSpinBox, QFormLayout, QLabel, QLineEdit, QSpinBox, QVBoxLayout, QWidget

from ...engine.strategies.base import Param, ParamError
from .base import CHECKBOX_STYLE, PARAM_ERROR_STYLE

_ACRONYMS = {"ma", "sma", "ema", "rsi", "atr", "adx", "macd", "sl", "tp"}


def _label(name: str) -> str:
    """``"ma_type"`` -> ``"MA type"``; ``"stop_loss"`` -> ``"Stop loss"``."""
    text = " ".join(w.upper() if w in _ACRONYMS else w for w in name.split("_"))
    return text[:1].upper() + text[1:]


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
