"""What the optimise window does with a study's result: export the trials as CSV, the best trial's
HTML report, and "use these parameters": a named preset or a connection's main strategy (through
the connections service, which checks the values and refuses while the engine runs)."""
from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Optional

from PySide6.QtWidgets import QComboBox, QFileDialog, QHBoxLayout, QInputDialog, QLabel, QPushButton

from ...core.connection import SettingsError
from ...services import backtests, optimize
from ...services import connections as conn_service


class StudyOutputs:
    """Mixed into :class:`~.window.OptimizeWindow`: needs ``services``, ``study``, ``request``,
    ``form``, ``state_label`` and :meth:`show_best`."""

    services: Any
    study: Optional[optimize.StudyResult]
    request: Optional[optimize.StudyRequest]

    def _outputs_bar(self) -> QHBoxLayout:
        bar = QHBoxLayout()
        self.export_csv_button = self._button("Export trials CSV…", "ExportTrialsButton", self._choose_csv, False)
        self.report_button = self._button("HTML report…", "StudyReportButton", self._choose_report, False)
        self.preset_button = self._button("Save as preset…", "SaveBestPresetButton", self._ask_preset, False)
        self.preset_button.setToolTip("Keep the best parameters as a preset: the backtest window and the "
                                      "Connections tab load it by name")
        self.conn_box = QComboBox()
        self.conn_box.setObjectName("ApplyConnectionBox")
        self.conn_box.setMinimumContentsLength(10)
        self.conn_box.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.apply_button = self._button("Apply", "ApplyBestButton", lambda: self.apply_to_connection(
            self.conn_box.currentText()), False)
        self.apply_button.setToolTip("Make the best parameters the connection's main strategy (stop its engine first)")
        for w in (self.export_csv_button, self.report_button):
            bar.addWidget(w)
        bar.addSpacing(12)
        bar.addWidget(QLabel("Best parameters:"))
        bar.addWidget(self.preset_button)
        bar.addWidget(QLabel("or to"))
        bar.addWidget(self.conn_box)
        bar.addWidget(self.apply_button)
        bar.addStretch(1)
        self.refresh_connections()
        return bar

    def _button(self, text: str, name: str, slot, enabled: bool = True) -> QPushButton:
        b = QPushButton(text)
        b.setObjectName(name)
        b.clicked.connect(slot)
        b.setEnabled(enabled)
        return b

    def refresh_connections(self) -> None:
        current = self.conn_box.currentText()
        self.conn_box.clear()
        self.conn_box.addItems([c.name for c in self.services.connections()])
        if current:
            self.conn_box.setCurrentText(current)

    def apply_to_connection(self, name: str) -> bool:
        """Make the best parameters connection ``name``'s main strategy; False (with the service's
        message) when refused."""
        if self.study is None or not name:
            return False
        try:
            params = optimize.best_params(self.study)
            conn_service.apply_strategy(self.services.settings, name, self.study.strategy, params,
                                        self.services.engine_state(name))
        except (conn_service.RuleError, backtests.BacktestInputError, backtests.ParamError, KeyError,
                SettingsError) as exc:
            self.state_label.setText(f"Not applied: {backtests.error_message(exc) or exc}")
            return False
        text = ", ".join(f"{k}={v}" for k, v in self.study.best.params.items()) if self.study.best else ""
        self.state_label.setText(f"Connection {name!r} now runs {self.study.strategy} with the best parameters "
                                 f"({text}); it takes effect at its next start.")
        return True

    def export_csv(self, path) -> bool:
        """Write every trial of the shown study as CSV (see :func:`optimize.export_trials`)."""
        if self.study is None:
            return False
        try:
            n = optimize.export_trials(Path(path), self.study.trials)
        except OSError as exc:
            self.state_label.setText(backtests.cannot_write(path, exc))
            return False
        self.state_label.setText(f"{n} trials written to {path}")
        return True

    def save_preset(self, name: str) -> bool:
        """Keep the best parameters (and the study's account settings) as preset ``name``."""
        if self.study is None or self.request is None or not name.strip():
            return False
        try:
            optimize.save_preset(Path(self.services.config_dir), name.strip(), self.study, self.request.settings)
        except OSError as exc:
            self.state_label.setText(backtests.cannot_write(self.form.presets.path, exc))
            return False
        except backtests.BacktestInputError as exc:
            self.state_label.setText(str(exc))
            return False
        self.form.presets.load()
        self.form.refresh_presets()
        self.state_label.setText(f"Best parameters saved as preset {name.strip()!r} (Backtest and Connections "
                                 "load it by name).")
        return True

    def _default_name(self, ext: str) -> str:
        sid = self.study.study_id if self.study else 0
        return str(Path.home() / f"study-{sid}-{time.strftime('%Y%m%d-%H%M%S')}.{ext}")

    def _choose_csv(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Export trials", self._default_name("csv"), "CSV files (*.csv)")
        if path:
            self.export_csv(path)

    def _choose_report(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Best trial report", self._default_name("html"),
                                              "HTML files (*.html)")
        if path:
            self.show_best(path)

    def _ask_preset(self) -> None:
        name, ok = QInputDialog.getText(self, "Save as preset", "Preset name:",
                                        text=f"{self.study.strategy}-study-{self.study.study_id}" if self.study else "")
        if ok and name.strip():
            self.save_preset(name)

