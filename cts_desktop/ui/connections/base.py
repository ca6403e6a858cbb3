"""The parts every box of the connection details panel shares: :class:`DetailsSection` (a titled
form whose fields load from a connection, are written into a copy on Save, and show a bad value
inline as :class:`FieldError`), the spin-box factory, the styles the forms use, and the line that
describes a connection under the panel's title.
"""
from __future__ import annotations

from typing import Dict, Optional

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QDoubleSpinBox, QFormLayout, QGroupBox, QHBoxLayout, QLabel, QSpinBox, QVBoxLayout, QWidget

from ...services import connection_rules as rules
from ...store.settings import ConnectionConfig

PARAM_ERROR_STYLE = "color:#ff6b6b;"
WARNING_STYLE = "QLabel { color: #f0b94a; }"
# The dark palette draws a check box's indicator nearly invisible: give it a visible box
# (its inside in the theme's field colour, so it also suits the light theme).
CHECKBOX_STYLE = ("QCheckBox::indicator{width:14px;height:14px;border:1px solid #8a93a6;border-radius:3px;"
                  "background:palette(base);} QCheckBox::indicator:checked{background:#4c9be8;border-color:#4c9be8;}"
                  "QCheckBox::indicator:disabled{border-color:#4a5162;}"
                  "QCheckBox::indicator:checked:disabled{background:#34527a;border-color:#34527a;}")


class FieldError(ValueError):
    """A value the user entered is not acceptable; ``field`` names the form field, ``label`` says
    which one in the status line (default: the field's name; "additional strategy 2 (RSI mean
    reversion), oversold" where the field alone is ambiguous)."""

    def __init__(self, field: str, message: str, label: Optional[str] = None):
        super().__init__(message)
        self.field = field
        self.message = message
        self.label = label or field.replace("_", " ")


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


def spin(minimum: float, maximum: float, decimals: int = 0, step: float = 1.0, width: int = 130):
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


def describe_connection(conn: ConnectionConfig) -> str:
    """The line under the details panel's title: the venue, the mode and the last test."""
    if conn.is_paper_replay:
        kind = "Built-in paper exchange replaying a recorded market"
    else:
        kind = (f"{rules.venue(conn)}; "
                + ("LIVE: real orders are sent" if conn.live else "paper trading on the exchange's real market data")
                + f"; last test: {rules.test_summary(conn.last_test)}")
    return kind + (" (built in)" if conn.builtin else "")


def repolish(w: QWidget) -> None:
    """Apply the style sheet again after a dynamic property the sheet matches on changed."""
    w.style().unpolish(w)
    w.style().polish(w)
