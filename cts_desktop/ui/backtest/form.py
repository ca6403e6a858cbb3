"""The left side of the backtest window: data, strategy (generated parameter form, named
presets) and account and costs. :meth:`SettingsForm.spec` reads it all into one run spec.

The strategy's parameter form comes from its :class:`~cts_desktop.engine.strategies.Param`
declarations (ranges, units as suffixes, help as tooltips); a ``ParamError`` is shown under the
field it names. Presets (strategy, parameters, cash, fee, slippage, max position) are kept by
name in ``<config dir>/presets.json``.
"""
from __future__ import annotations

from typing import Optional

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (QComboBox, QDoubleSpinBox, QFormLayout, QFrame, QGroupBox, QHBoxLayout, QInputDialog,
                               QLabel, QMessageBox, QPushButton, QScrollArea, QVBoxLayout, QWidget)

from ...engine import strategies
from ...store.presets import PresetStore
from ..connections import ParamForm  # the app's one generated parameter form (shared with the Connections tab)
from .data_source import DataSourceBox
from .palette import ERROR_STYLE, fg


def _percent_box(name: str, maximum: float, decimals: int, suffix: str, tip: str) -> QDoubleSpinBox:
    box = QDoubleSpinBox()
    if name:
        box.setObjectName(name)
    box.setRange(0.0, maximum)
    box.setDecimals(decimals)
    box.setSuffix(suffix)
    box.setToolTip(tip)
    return box


class SettingsForm(QScrollArea):
    """Every setting of a run. ``data``: the :class:`DataSourceBox`; ``presets``: the
    :class:`PresetStore` (its ``error`` says when the file could not be read)."""

    def __init__(self, services, parent: Optional[QWidget] = None):
        super().__init__(parent)
        self.presets = PresetStore(services.config_dir)
        panel = QWidget()
        v = QVBoxLayout(panel)
        v.setContentsMargins(0, 0, 6, 0)
        self.data = DataSourceBox(services)
        self.data.changed.connect(self._update_cash_unit)
        v.addWidget(self.data)
        v.addWidget(self._strategy_box())
        v.addWidget(self._account_box())
        v.addStretch(1)
        self.setWidgetResizable(True)
        self.setFrameShape(QFrame.Shape.NoFrame)
        self.setWidget(panel)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setMinimumWidth(380)
        for box in (self.data.source_box, self.data.dataset_box, self.strategy_box, self.preset_box,
                    self.data.hist_conn, self.data.csv_type):
            box.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
            box.setMinimumContentsLength(12)
        self.data.refresh()
        self._strategy_changed()
        self.refresh_presets()

    # -- building ---------------------------------------------------------------------------------
    def _strategy_box(self) -> QGroupBox:
        st = QGroupBox("Strategy")
        sv = QVBoxLayout(st)
        self.strategy_box = QComboBox()
        self.strategy_box.setObjectName("StrategyBox")
        for name, cls in strategies.REGISTRY.items():
            self.strategy_box.addItem(cls.title or name, name)
        self.strategy_box.currentIndexChanged.connect(self._strategy_changed)
        sv.addWidget(self.strategy_box)
        self.strategy_desc = QLabel()
        self.strategy_desc.setWordWrap(True)
        self.strategy_desc.setStyleSheet(f"color:{fg()};")
        sv.addWidget(self.strategy_desc)
        self.param_form = ParamForm()
        sv.addWidget(self.param_form)
        pr = QHBoxLayout()
        pr2 = QHBoxLayout()
        self.preset_box = QComboBox()
        self.preset_box.setObjectName("PresetBox")
        self.preset_box.setToolTip(f"Named presets, kept in {self.presets.path}")
        self.preset_load = QPushButton("Load")
        self.preset_save = QPushButton("Save as…")
        self.preset_delete = QPushButton("Delete")
        self.preset_load.clicked.connect(lambda: self.load_preset(self.preset_box.currentText()))
        self.preset_save.clicked.connect(self._ask_save_preset)
        self.preset_delete.clicked.connect(self._delete_preset)
        pr.addWidget(QLabel("Preset:"))
        pr.addWidget(self.preset_box, 1)
        pr2.addStretch(1)
        pr2.addWidget(self.preset_load)
        pr2.addWidget(self.preset_save)
        pr2.addWidget(self.preset_delete)
        sv.addLayout(pr)
        sv.addLayout(pr2)
        return st

    def _account_box(self) -> QGroupBox:
        ac = QGroupBox("Account and costs")
        af = QFormLayout(ac)
        self.cash = QDoubleSpinBox()
        self.cash.setObjectName("CashBox")
        self.cash.setRange(1.0, 1e12)
        self.cash.setDecimals(2)
        self.cash.setValue(10_000.0)
        self.cash.setSingleStep(1000.0)
        self.cash.setGroupSeparatorShown(True)
        self.cash_label = QLabel("Starting cash:")
        af.addRow(self.cash_label, self.cash)
        self.fee = _percent_box("FeeBox", 9.99, 3, " %",
                                "Fee per fill, percent of the notional (taker and maker); 0.1 % = 0.001")
        self.fee.setSingleStep(0.01)
        self.fee.setValue(0.1)
        af.addRow("Fee:", self.fee)
        self.slippage = _percent_box("SlippageBox", 9.99, 3, " %",
                                     "Market fills move against the trade by this much of the open price")
        self.slippage.setSingleStep(0.01)
        af.addRow("Slippage:", self.slippage)
        self.max_position = _percent_box("", 100.0, 0, " % of equity", "Risk limit: the largest position notional "
                                         "(the strategy's size is applied first)")
        self.max_position.setMinimum(1.0)
        self.max_position.setValue(100.0)
        af.addRow("Max position:", self.max_position)
        self.form_error = QLabel()
        self.form_error.setObjectName("FormError")
        self.form_error.setStyleSheet(ERROR_STYLE)
        self.form_error.setWordWrap(True)
        self.form_error.hide()
        af.addRow(self.form_error)
        return ac

    # -- reactions --------------------------------------------------------------------------------
    def _update_cash_unit(self) -> None:
        unit, tip = self.data.cash_unit()
        self.cash.setSuffix(f" {unit}")
        self.cash.setToolTip(tip)

    def _strategy_changed(self, *_a) -> None:
        cls = strategies.get(self.strategy_box.currentData())
        self.strategy_desc.setText(cls.description)
        self.param_form.set_strategy(cls)

    def select_strategy(self, name: str) -> None:
        i = self.strategy_box.findData(name)
        if i < 0:
            raise KeyError(name)
        self.strategy_box.setCurrentIndex(i)

    def show_error(self, message: str) -> None:
        self.form_error.setText(message)
        self.form_error.show()

    # -- presets ----------------------------------------------------------------------------------
    def refresh_presets(self) -> None:
        self.preset_box.clear()
        self.preset_box.addItems(self.presets.names())
        has = self.preset_box.count() > 0
        self.preset_load.setEnabled(has)
        self.preset_delete.setEnabled(has)

    def current_preset(self) -> dict:
        return {"strategy": self.strategy_box.currentData(), "params": self.param_form.values(),
                "cash": self.cash.value(), "fee": self.fee.value() / 100.0,
                "slippage": self.slippage.value() / 100.0, "max_position": self.max_position.value() / 100.0}

    def save_preset(self, name: str) -> None:
        name = name.strip()
        if not name:
            raise ValueError("a preset needs a name")
        self.presets.save(name, self.current_preset())
        self.refresh_presets()
        self.preset_box.setCurrentText(name)

    def load_preset(self, name: str) -> Optional[str]:
        """Fill the form from preset ``name``; returns a problem to show, or None."""
        if not name:
            return None
        p = self.presets.get(name)
        try:
            self.select_strategy(p.get("strategy", "ma_cross"))
        except KeyError:
            return f"Preset {name!r}: unknown strategy {p.get('strategy')!r}"
        self.param_form.set_values(p.get("params", {}))
        for box, key, scale in ((self.cash, "cash", 1.0), (self.fee, "fee", 100.0), (self.slippage, "slippage", 100.0),
                                (self.max_position, "max_position", 100.0)):
            if isinstance(p.get(key), (int, float)):
                box.setValue(float(p[key]) * scale)
        return None

    def _ask_save_preset(self) -> None:
        name, ok = QInputDialog.getText(self, "Save preset", "Preset name:", text=self.preset_box.currentText())
        if ok and name.strip():
            try:
                self.save_preset(name)
            except OSError as exc:
                QMessageBox.warning(self, "Save preset", f"Cannot write {self.presets.path}: {exc}")

    def _delete_preset(self) -> None:
        name = self.preset_box.currentText()
        if name:
            self.presets.delete(name)
            self.refresh_presets()

    # -- the run ----------------------------------------------------------------------------------
    def spec(self, strategy) -> dict:
        """The run spec for ``strategy`` (built by :attr:`param_form`): data part (see
        :meth:`DataSourceBox.spec`), strategy, params, cash, fee, slippage, max position
        (fractions). Raises :class:`~.data_source.FormError`."""
        spec = {"strategy": strategy.name, "params": dict(strategy.p), "cash": self.cash.value(),
                "fee": self.fee.value() / 100.0, "slippage": self.slippage.value() / 100.0,
                "max_position": self.max_position.value() / 100.0}
        spec.update(self.data.spec())
        return spec
