"""The "Search" box of the optimise window: which parameters vary over which values, the method,
the number of trials, the seed, the workers, the objective and the constraints.

The rows come from the strategy's declared parameters (:func:`research_view.suggestions`); a row
not ticked keeps the value of the strategy form above. :meth:`SearchBox.rows` reads the table back;
the service turns it into the study's space and says what is wrong (naming the parameter).
"""
from __future__ import annotations

from typing import Any, Dict, List, Optional, Tuple

from PySide6.QtCore import QDate, Qt
from PySide6.QtGui import QColor
from PySide6.QtWidgets import (QAbstractItemView, QCheckBox, QComboBox, QDateEdit, QDoubleSpinBox, QFormLayout,
                               QHBoxLayout, QHeaderView, QLabel, QSpinBox, QTableWidget, QTableWidgetItem, QVBoxLayout, QWidget)

from ...services import research_view as view
from ...services.optimize import METHODS
from ...services.research_pool import default_workers
from ..backtest.data_source import utc_ms

DAY_MS = 86_400_000
SPACE_HEADERS = ["Vary", "Parameter", "Min", "Max", "Step", "Values (a,b,…)"]
_METHOD_TITLES = {"grid": "Grid (every point)", "random": "Random (seeded)", "tpe": "Bayesian (Optuna TPE)"}
_OFF = QColor(128, 128, 128)


def _item(text: str, editable: bool) -> QTableWidgetItem:
    it = QTableWidgetItem(text)
    flags = Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable
    if editable:
        flags |= Qt.ItemFlag.ItemIsEditable
    else:
        it.setForeground(_OFF)
    it.setFlags(flags)
    return it


class SearchBox(QWidget):
    """The search settings. ``space`` is the parameter table (one row per declared parameter)."""

    def __init__(self, parent: Optional[QWidget] = None):
        super().__init__(parent)
        self._rows: List[view.RangeRow] = []
        v = QVBoxLayout(self)
        hint = QLabel("Tick the parameters to search and set their ranges (min, max, step) or values; the others "
                      "keep their value on the Data and strategy tab.")
        hint.setWordWrap(True)
        v.addWidget(hint)
        self.space = QTableWidget(0, len(SPACE_HEADERS))
        self.space.setObjectName("SpaceTable")
        self.space.setHorizontalHeaderLabels(SPACE_HEADERS)
        self.space.verticalHeader().hide()
        self.space.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
        hh = self.space.horizontalHeader()
        hh.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        hh.setSectionResizeMode(5, QHeaderView.ResizeMode.Stretch)
        self.space.setStyleSheet("QTableWidget::indicator{width:14px;height:14px;border:1px solid #8a93a6;"
                                 "border-radius:3px;} QTableWidget::indicator:checked{background:#4c9be8;"
                                 "border-color:#4c9be8;}")
        self.space.setMinimumHeight(150)
        v.addWidget(self.space, 1)
        f = QFormLayout()
        v.addLayout(f)
        self.method = QComboBox()
        self.method.setObjectName("MethodBox")
        for m in METHODS:
            self.method.addItem(_METHOD_TITLES.get(m, m), m)
        self.method.currentIndexChanged.connect(self._method_changed)
        f.addRow("Method:", self.method)
        self.trials = QSpinBox()
        self.trials.setObjectName("TrialsBox")
        self.trials.setRange(1, 100_000)
        self.trials.setValue(100)
        self.trials.setToolTip("Random and Bayesian search run this many trials; a grid runs every point")
        f.addRow("Trials:", self.trials)
        self.seed = QSpinBox()
        self.seed.setRange(0, 2**31 - 1)
        self.seed.setToolTip("The same seed gives the same trials")
        f.addRow("Seed:", self.seed)
        self.workers = QSpinBox()
        self.workers.setObjectName("WorkersBox")
        self.workers.setRange(1, 512)
        self.workers.setValue(default_workers())
        self.workers.setToolTip("Processes running trials at once (default: every core)")
        f.addRow("Workers:", self.workers)
        self.objective = QComboBox()
        self.objective.setObjectName("ObjectiveBox")
        for name, label, _how in view.objectives():
            self.objective.addItem(label, name)
        f.addRow("Objective:", self.objective)
        self.min_trades = QSpinBox()
        self.min_trades.setRange(0, 1_000_000)
        self.min_trades.setToolTip("A trial with fewer closed trades is infeasible (never best)")
        f.addRow("Min trades:", self.min_trades)
        self.use_max_dd = QCheckBox("Max drawdown:")
        self.max_dd = QDoubleSpinBox()
        self.max_dd.setRange(0.1, 100.0)
        self.max_dd.setDecimals(1)
        self.max_dd.setValue(30.0)
        self.max_dd.setSuffix(" %")
        self.max_dd.setEnabled(False)
        self.max_dd.setToolTip("A trial whose drawdown goes deeper is infeasible")
        self.use_max_dd.toggled.connect(self.max_dd.setEnabled)
        f.addRow(self.use_max_dd, self.max_dd)
        self.use_span = QCheckBox("Only the dates (UTC):")
        self.use_span.setToolTip("Search over part of the data only: from the first day's start to the last day's end")
        span = QHBoxLayout()
        self.span_from, self.span_to = QDateEdit(), QDateEdit()
        for d in (self.span_from, self.span_to):
            d.setCalendarPopup(True)
            d.setDisplayFormat("yyyy-MM-dd")
            d.setEnabled(False)
            self.use_span.toggled.connect(d.setEnabled)
        span.addWidget(self.span_from)
        span.addWidget(QLabel("to"))
        span.addWidget(self.span_to)
        f.addRow(self.use_span, span)
        self._method_changed()

    def _method_changed(self, *_a) -> None:
        self.trials.setEnabled(self.method.currentData() != "grid")

    def set_strategy(self, strategy: str) -> None:
        """One row per declared parameter of ``strategy`` with a suggested range, none ticked."""
        self._rows = view.suggestions(strategy)
        self.space.setRowCount(len(self._rows))
        for i, r in enumerate(self._rows):
            vary = _item("", r.kind != "fixed")
            vary.setFlags(Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsUserCheckable if r.kind != "fixed"
                          else Qt.ItemFlag.NoItemFlags)
            vary.setCheckState(Qt.CheckState.Unchecked)
            self.space.setItem(i, 0, vary)
            self.space.setItem(i, 1, _item(r.name, False))
            self.space.item(i, 1).setForeground(self.palette().text().color())
            num = r.kind == "number"
            for c, text in ((2, r.low), (3, r.high), (4, r.step)):
                self.space.setItem(i, c, _item(text, num))
            self.space.setItem(i, 5, _item(r.choices if r.kind == "list" else "", r.kind == "list"))

    def set_range(self, name: str, low: Any = None, high: Any = None, step: Any = None,
                  choices: Optional[str] = None, vary: bool = True) -> None:
        """Fill in and tick the row of ``name`` (scripts and tests)."""
        i = [r.name for r in self._rows].index(name)
        for c, v in ((2, low), (3, high), (4, step), (5, choices)):
            if v is not None:
                self.space.item(i, c).setText(str(v))
        self.space.item(i, 0).setCheckState(Qt.CheckState.Checked if vary else Qt.CheckState.Unchecked)

    def set_rows(self, rows: List[view.RangeRow]) -> None:
        """Fill the table from ``rows`` (a reopened study: :func:`~cts_desktop.services.research_view.form_state`);
        rows are matched by name, names the table does not have are ignored."""
        for r in rows:
            if r.name in [x.name for x in self._rows] and r.kind != "fixed":
                self.set_range(r.name, r.low, r.high, r.step, r.choices if r.kind == "list" else None, r.vary)

    def set_settings(self, s: Dict[str, Any]) -> None:
        """The inverse of :meth:`settings` (a reopened study's request fields)."""
        for box, key in ((self.method, "method"), (self.objective, "objective")):
            i = box.findData(s.get(key))
            if i >= 0:
                box.setCurrentIndex(i)
        for spin, key in ((self.trials, "n_trials"), (self.seed, "seed"), (self.min_trades, "min_trades")):
            if isinstance(s.get(key), int):
                spin.setValue(s[key])
        if isinstance(s.get("workers"), int):
            self.workers.setValue(s["workers"])
        dd = s.get("max_drawdown")
        self.use_max_dd.setChecked(isinstance(dd, (int, float)))
        if isinstance(dd, (int, float)):
            self.max_dd.setValue(float(dd) * 100.0)

    def rows(self) -> List[view.RangeRow]:
        """The table as :class:`~cts_desktop.services.research_view.RangeRow` values."""
        out = []
        for i, r in enumerate(self._rows):
            def text(c: int, i: int = i) -> str:
                return self.space.item(i, c).text()
            out.append(view.RangeRow(r.name, r.kind, text(2), text(3), text(4), text(5),
                                     self.space.item(i, 0).checkState() == Qt.CheckState.Checked))
        return out

    def span(self) -> Tuple[Optional[int], Optional[int]]:
        """``(start_ms, end_ms)`` UTC, half-open (the last day included), or ``(None, None)``."""
        if not self.use_span.isChecked():
            return None, None
        return utc_ms(self.span_from.date()), utc_ms(self.span_to.date()) + DAY_MS

    def set_span(self, start_ms: Optional[int], end_ms: Optional[int]) -> None:
        """Tick and fill the dates from ms UTC (``end_ms`` exclusive); None for both: the whole data."""
        self.use_span.setChecked(start_ms is not None)
        if start_ms is not None and end_ms is not None:
            self.span_from.setDate(QDate.fromJulianDay(2440588 + start_ms // DAY_MS))
            self.span_to.setDate(QDate.fromJulianDay(2440588 + (end_ms - 1) // DAY_MS))

    def settings(self) -> Dict[str, Any]:
        """The search settings as :class:`~cts_desktop.services.optimize.StudyRequest` fields."""
        return {"method": self.method.currentData(), "objective": self.objective.currentData(),
                "n_trials": self.trials.value(), "seed": self.seed.value(), "workers": self.workers.value(),
                "min_trades": self.min_trades.value(),
                "max_drawdown": self.max_dd.value() / 100.0 if self.use_max_dd.isChecked() else None}

    def set_busy(self, busy: bool) -> None:
        for w in (self.space, self.method, self.seed, self.workers, self.objective, self.min_trades, self.use_max_dd,
                  self.use_span):
            w.setEnabled(not busy)
        self.trials.setEnabled(not busy and self.method.currentData() != "grid")
        self.max_dd.setEnabled(not busy and self.use_max_dd.isChecked())
        for d in (self.span_from, self.span_to):
            d.setEnabled(not busy and self.use_span.isChecked())
