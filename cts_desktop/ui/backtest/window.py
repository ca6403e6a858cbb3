"""The backtest window: pick data, a strategy and its parameters, run, study and export the result.

``BacktestWindow(services)`` is a plain ``QWidget``: the main window can put it in a tab or show it
as its own window (``Tools > Backtest...``). Everything runs on the qasync loop; what a run needs
besides drawing (loading, checks, risk limits, the run and its record, exports) is the backtests
service (:mod:`cts_desktop.services.backtests`), shared with ``cts-desktop backtest``.

The settings are on the left (:class:`~.form.SettingsForm`), the results on the right: every
metric with its unit, per-symbol and per-strategy tables (:mod:`.results`), equity and drawdown
charts, a price chart with entry/exit markers (:mod:`.charts`), a sortable trades table, and
exports (trades CSV, HTML report). The run is sliced (20 ms, progress bar, Cancel) and kept in the
database as a ``backtest`` run; a cancelled run writes nothing but its cancelled run row.
"""
from __future__ import annotations

import asyncio
import logging
import time
from pathlib import Path
from typing import Any, Dict, Optional

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (QFileDialog, QHBoxLayout, QLabel, QProgressBar, QPushButton,
                               QSplitter, QVBoxLayout, QWidget)

from ...engine.strategies.base import ParamError
from ...services import backtests
from ...services import reports as report
from .data_source import SOURCE_CSV, SOURCE_DATASET, FormError
from .form import SettingsForm
from .results import ResultTabs

log = logging.getLogger(__name__)

# the form's fields, reachable as the window's own (scripts and tests drive the window by them)
_FORM_FIELDS = ("presets", "strategy_box", "strategy_desc", "param_form", "preset_box", "preset_load",
                "preset_save", "preset_delete", "cash", "cash_label", "fee", "slippage", "max_position",
                "form_error", "save_preset", "current_preset", "select_strategy")
_RESULT_FIELDS = ("metrics_panel", "by_symbol", "by_strategy", "curve_charts", "price_chart", "trades_model",
                  "trades_proxy", "trades_view")
_DATA_FIELDS = ("source_box", "source_stack", "dataset_box", "csv_path", "csv_button", "csv_symbol", "csv_type",
                "csv_status", "hist_conn", "hist_symbol", "hist_tf", "hist_from", "hist_to", "hist_status",
                "import_csv", "source")


class BacktestWindow(QWidget):
    """The backtest panel. ``services``: :class:`~cts_desktop.services.AppServices` (database for
    the results and the history cache, ``config_dir`` for presets, connections for downloads).

    :attr:`state` is one of ``idle``, ``loading``, ``running``, ``finished``, ``cancelled``,
    ``error``; :attr:`result` the last :class:`BacktestResult`. Signals: ``state_changed(str)``,
    ``progressed(done, total)`` (candles), ``finished(object)`` (the result).
    """

    state_changed = Signal(str)
    progressed = Signal(int, int)
    finished = Signal(object)

    def __init__(self, services, parent: Optional[QWidget] = None):
        super().__init__(parent)
        self.services = services
        self.setObjectName("BacktestWindow")
        self.setWindowTitle("Backtest")
        self.state = "idle"
        self.result: Optional[backtests.BacktestResult] = None
        self.task: Optional[asyncio.Task] = None
        self._cancel = False
        self._dataset_cache: Dict[str, backtests.BacktestInputs] = {}
        self._report: Optional[backtests.ReportInfo] = None
        self.form = SettingsForm(services)
        for name in _FORM_FIELDS:
            setattr(self, name, getattr(self.form, name))
        for name in _DATA_FIELDS:
            setattr(self, name, getattr(self.form.data, name))

        split = QSplitter(Qt.Orientation.Horizontal)
        split.addWidget(self.form)
        split.addWidget(self._build_results())
        split.setStretchFactor(0, 0)
        split.setStretchFactor(1, 1)
        split.setSizes([420, 900])
        lay = QVBoxLayout(self)
        lay.setContentsMargins(6, 6, 6, 6)
        lay.addWidget(split)
        self.resize(1320, 820)
        if self.presets.error:
            self._set_state("idle", self.presets.error)

    @property
    def _csv(self) -> Optional[backtests.CandleSeries]:
        """The imported candle file, or None."""
        return self.form.data.csv

    # -- building ---------------------------------------------------------------------------------
    def _run_bar(self) -> QHBoxLayout:
        bar = QHBoxLayout()
        self.run_button = QPushButton("Run backtest")
        self.run_button.setObjectName("RunBacktestButton")
        self.run_button.setDefault(True)
        self.run_button.clicked.connect(self.start)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setObjectName("CancelBacktestButton")
        self.cancel_button.setEnabled(False)
        self.cancel_button.clicked.connect(self.cancel)
        self.progress = QProgressBar()
        self.progress.setObjectName("BacktestProgress")
        self.progress.setRange(0, 1000)
        self.progress.setValue(0)
        self.progress.setTextVisible(True)
        self.progress.setFormat("%p %")
        self.export_csv_button = QPushButton("Export trades CSV…")
        self.export_csv_button.setObjectName("ExportTradesButton")
        self.export_html_button = QPushButton("Export HTML report…")
        self.export_html_button.setObjectName("ExportReportButton")
        self.export_csv_button.clicked.connect(self._choose_export_trades)
        self.export_html_button.clicked.connect(self._choose_export_report)
        for b in (self.export_csv_button, self.export_html_button):
            b.setEnabled(False)
        bar.addWidget(self.run_button)
        bar.addWidget(self.cancel_button)
        bar.addWidget(self.progress, 1)
        bar.addWidget(self.export_csv_button)
        bar.addWidget(self.export_html_button)
        return bar

    def _build_results(self) -> QWidget:
        box = QWidget()
        v = QVBoxLayout(box)
        v.setContentsMargins(6, 0, 0, 0)
        v.addLayout(self._run_bar())
        self.state_label = QLabel("Choose the data and a strategy, then Run.")
        self.state_label.setObjectName("BacktestState")
        self.state_label.setWordWrap(True)
        self.state_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        v.addWidget(self.state_label)
        self.tabs = ResultTabs(self)
        for name in _RESULT_FIELDS:
            setattr(self, name, getattr(self.tabs, name))
        v.addWidget(self.tabs, 1)
        return box

    # -- settings ---------------------------------------------------------------------------------
    def select_source(self, source: str, dataset: Optional[str] = None) -> None:
        self.form.data.select(source, dataset)

    def load_preset(self, name: str) -> None:
        problem = self.form.load_preset(name)
        if problem:
            self._set_state(self.state, problem)

    # -- running ----------------------------------------------------------------------------------
    def _set_state(self, state: str, text: str) -> None:
        self.state = state
        self.state_label.setText(text)
        colour = {"error": "#ff6b6b", "cancelled": "#f0b44c", "finished": ""}.get(state, "")
        self.state_label.setStyleSheet(f"color:{colour};" if colour else "")
        busy = state in ("loading", "running")
        self.run_button.setEnabled(not busy)
        self.cancel_button.setEnabled(busy)
        for w in (self.source_box, self.source_stack, self.strategy_box, self.param_form):
            w.setEnabled(not busy)
        self.state_changed.emit(state)

    def start(self) -> Optional[asyncio.Task]:
        """Validate the form and start the run on the loop; returns the task, or None when the
        form has an error (shown next to the field) or a run is going on."""
        if self.task is not None and not self.task.done():
            return None
        self.form_error.hide()
        try:
            strategy = self.param_form.build()
        except ParamError as exc:
            self._set_state("idle", f"Not started: {exc}")
            return None
        try:
            spec = self.form.spec(strategy)
        except FormError as exc:
            self.form.show_error(exc.message)
            self._set_state("idle", f"Not started: {exc.short}")
            return None
        self._cancel = False
        self.progress.setRange(0, 1000)
        self.progress.setValue(0)
        self._set_state("loading", "Loading candles…")
        self.task = asyncio.ensure_future(self._run(spec, strategy))
        return self.task

    def cancel(self) -> None:
        """Ask the running backtest (or load/download) to stop; it stops within one slice."""
        if self.task is not None and not self.task.done():
            self._cancel = True
            self.state_label.setText("Cancelling…")

    def _cancelled(self) -> bool:
        return self._cancel

    async def _load(self, spec: dict) -> backtests.BacktestInputs:
        src = spec["source"]
        if src == SOURCE_DATASET:
            key = spec["dataset"]
            inputs = self._dataset_cache.get(key)
            if inputs is None:
                data_dir = getattr(self.services, "replay_data_dir", None)
                inputs = await asyncio.get_running_loop().run_in_executor(None, backtests.load_dataset, key, data_dir)
                self._dataset_cache[key] = inputs
            return inputs
        if src == SOURCE_CSV:
            return backtests.csv_inputs(self._csv, spec["symbol"], spec["market_type"], spec["fee"])
        conn = self.services.connection(spec["connection"])

        def progress(done: int, total: int) -> None:
            self.progress.setValue(int(1000 * done / total) if total else 0)
            self.state_label.setText(f"Downloading {spec['symbol']} {spec['timeframe']} from {conn.exchange}: "
                                     f"{done:,} / ~{total:,} candles (cached ones are not downloaded again)…")

        inputs = await backtests.load_history(conn, spec["symbol"], spec["timeframe"], spec["since"], spec["until"],
                                              progress, cancelled=self._cancelled)
        candles = inputs.series[spec["symbol"]]
        self.hist_status.setText(f"{len(candles):,} candles of {spec['symbol']} {spec['timeframe']} from "
                                 f"{conn.exchange}, {report.fmt_time(candles[0][0])} to "
                                 f"{report.fmt_time(candles[-1][0])} UTC (kept in the database).")
        return inputs

    def _progress(self, done: int, total: int) -> None:
        self.progress.setValue(int(1000 * done / total) if total else 0)
        self.progressed.emit(done, total)

    async def _run(self, spec: dict, strategy) -> Optional[backtests.BacktestResult]:
        t0 = time.perf_counter()
        settings = backtests.BacktestSettings(spec["cash"], spec["fee"], spec["slippage"], spec["max_position"])
        run: Dict[str, Any] = {}
        try:
            inputs = await self._load(spec)
            if self._cancel:
                raise backtests.BacktestCancelled("cancelled while loading")

            def started(total: int) -> None:
                run["total"] = total
                self._set_state("running", f"Running {strategy.title or strategy.name} on {inputs.label}…")

            result = await backtests.run_async(strategy, inputs, settings, self.services.db, started=started,
                                               progress=self._progress, cancelled=self._cancelled)
        except backtests.BacktestCancelled:
            self.progress.setValue(0)
            self._set_state("cancelled", "Cancelled: no results were kept (the run is listed as cancelled).")
            return None
        except Exception as exc:  # noqa: BLE001 - shown, logged when unexpected, the window stays usable
            self._failed(exc)
            return None
        self.progress.setValue(1000)
        self._report = backtests.report_info(strategy, inputs, settings, result)
        self.show_result(result, (strategy.name, dict(strategy.p)))
        m = result.metrics
        text = (f"Finished: {run['total']:,} candles in {time.perf_counter() - t0:.2f} s, {m.trades} trades, "
                f"total return {report.fmt_pct(m.total_return)} (run #{result.run_id}).")
        if result.strategy_error:
            self._set_state("error", f"The strategy failed during the run: {result.strategy_error}. " + text)
        else:
            self._set_state("finished", text)
        self.finished.emit(result)
        return result

    def _failed(self, exc: Exception) -> None:
        msg = backtests.error_message(exc)
        if msg is None:
            log.exception("backtest failed", exc_info=exc)
            self._set_state("error", f"Error: {type(exc).__name__}: {exc}")
        elif backtests.is_download_error(exc) and self._cancel:
            self._set_state("cancelled", f"Cancelled: {msg}. Candles downloaded so far are kept in the cache.")
        else:
            self._set_state("error", f"Error: {msg}")

    # -- results ----------------------------------------------------------------------------------
    def show_result(self, result: backtests.BacktestResult, strategy=None) -> None:
        self.result = result
        self.tabs.show_result(result, strategy)
        for b in (self.export_csv_button, self.export_html_button):
            b.setEnabled(True)

    def _default_name(self, ext: str) -> str:
        stamp = time.strftime("%Y%m%d-%H%M%S")
        strategy = (self._report.settings or {}).get("strategy", "run") if self._report else "run"
        return str(Path.home() / f"backtest-{strategy}-{stamp}.{ext}")

    def _choose_export_trades(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Export trades", self._default_name("csv"), "CSV files (*.csv)")
        if path:
            self.export_trades(path)

    def _choose_export_report(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Export report", self._default_name("html"), "HTML files (*.html)")
        if path:
            self.export_report(path)

    def _cannot_write(self, path, exc: OSError) -> bool:
        msg = backtests.cannot_write(path, exc)
        self.state_label.setText(msg[:1].upper() + msg[1:])
        return False

    def export_trades(self, path) -> bool:
        """Write the last result's trades as CSV (see :func:`backtests.write_trades`)."""
        if self.result is None:
            return False
        try:
            n = backtests.write_trades(path, self.result)
        except OSError as exc:
            return self._cannot_write(path, exc)
        self.state_label.setText(f"{n:,} trades written to {path}")
        return True

    def export_report(self, path) -> bool:
        """Write the last result as a self-contained HTML report."""
        if self.result is None:
            return False
        try:
            backtests.write_report(path, self.result, self._report)
        except OSError as exc:
            return self._cannot_write(path, exc)
        self.state_label.setText(f"Report written to {path}")
        return True

    def closeEvent(self, event) -> None:  # noqa: N802 - Qt API
        self.cancel()
        super().closeEvent(event)
