"""The optimise window (Tools > Optimize...): search a strategy's declared parameters on a shipped
dataset or an imported candle file, see every trial, a heatmap, the best trial's equity and trades,
export them, keep the best parameters as a preset, reopen any stored study.

Left: the backtest window's settings form (data, strategy and its values, presets, account and
costs) with the search settings under it (:class:`~.space.SearchBox`). Right: Run / Cancel, a
progress bar (done / total trials) with the time left, the state line and the study's tabs
(:class:`~.results.StudyTabs`). The study runs in a child process
(:class:`~cts_desktop.services.research_job.ResearchJob`) polled by a timer: the GUI stays
responsive and the app's database connection is never touched; Cancel keeps the finished trials.
Every rule and message is the optimize service's (:mod:`cts_desktop.services.optimize`).
"""
from __future__ import annotations

import asyncio
import time
from dataclasses import replace
from pathlib import Path
from typing import Any, Callable, Optional, Tuple

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import (QHBoxLayout, QLabel, QProgressBar, QSplitter,
                               QTabWidget, QVBoxLayout, QWidget)

from ...services import backtests, montecarlo, optimize, research_history, walkforward
from ...services import research_view as view
from ...services.research_data import DataSpec
from ...services.research_job import ResearchJob
from ..backtest.data_source import SOURCE_CSV, SOURCE_DATASET, SOURCE_HISTORY, FormError
from ..backtest.form import SettingsForm
from .outputs import StudyOutputs
from .results import StudyTabs, best_text
from .space import SearchBox


class OptimizeWindow(StudyOutputs, QWidget):
    """The optimise panel. ``services``: :class:`~cts_desktop.services.AppServices` (``data_dir``
    for the studies, ``config_dir`` for presets). :attr:`state`: ``idle``, ``running``,
    ``finished``, ``cancelled``, ``error``; :attr:`study` the shown :class:`StudyResult` and
    :attr:`request` its request. Signals: ``state_changed(str)``, ``progressed(done, total)``."""

    state_changed = Signal(str)
    progressed = Signal(int, int)

    def __init__(self, services, parent: Optional[QWidget] = None):
        super().__init__(parent)
        self.services = services
        self.setObjectName("OptimizeWindow")
        self.setWindowTitle("Optimize")
        self.state = "idle"
        self.study: Optional[optimize.StudyResult] = None
        self.request: Optional[optimize.StudyRequest] = None
        self.best_run: Optional[backtests.BacktestResult] = None
        self.job: Optional[ResearchJob] = None
        self._on_done: Optional[Callable[[Any], None]] = None
        self._timer = QTimer(self)
        self._timer.setInterval(100)
        self._timer.timeout.connect(self._poll)
        self.form = SettingsForm(services)
        self._history: Optional[Tuple[tuple, DataSpec]] = None  # (the form's history spec, its kept file)
        self._download: Optional[asyncio.Task] = None
        self.search = SearchBox()
        self.left = QTabWidget()
        self.left.setObjectName("OptimizeSettingsTabs")
        self.left.addTab(self.form, "1. Data && strategy")
        self.left.addTab(self.search, "2. Search space")
        self.form.strategy_box.currentIndexChanged.connect(self._strategy_changed)
        self._strategy_changed()

        split = QSplitter(Qt.Orientation.Horizontal)
        split.addWidget(self.left)
        split.addWidget(self._build_results())
        split.setStretchFactor(0, 0)
        split.setStretchFactor(1, 1)
        split.setSizes([440, 840])
        lay = QVBoxLayout(self)
        lay.setContentsMargins(6, 6, 6, 6)
        lay.addWidget(split)
        self.resize(1280, 720)
        self.refresh_studies()

    # -- building ---------------------------------------------------------------------------------
    def _build_results(self) -> QWidget:
        box = QWidget()
        v = QVBoxLayout(box)
        v.setContentsMargins(6, 0, 0, 0)
        bar = QHBoxLayout()
        self.run_button = self._button("Run study", "RunStudyButton", self.start)
        self.run_button.setDefault(True)
        self.cancel_button = self._button("Cancel", "CancelStudyButton", self.cancel, False)
        self.progress = QProgressBar()
        self.progress.setObjectName("StudyProgress")
        self.progress.setRange(0, 1)
        self.progress.setValue(0)
        self.progress.setFormat("")
        self.eta = QLabel("")
        self.eta.setObjectName("StudyEta")
        self.eta.setMinimumWidth(110)
        self.settings_button = self._button("◀ Settings", "ToggleSettingsButton", lambda: self.show_settings(
            not self.left.isVisible()))
        self.settings_button.setToolTip("Hide or show the settings (the results take the whole width)")
        for w in (self.settings_button, self.run_button, self.cancel_button):
            bar.addWidget(w)
        bar.addWidget(self.progress, 1)
        bar.addWidget(self.eta)
        v.addLayout(bar)
        self.state_label = QLabel("Choose the data and the strategy (tab 1), tick the parameters to search and their "
                                  "ranges (tab 2), then Run study.")
        self.state_label.setObjectName("StudyState")
        self.state_label.setWordWrap(True)
        self.state_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        v.addWidget(self.state_label)
        v.addLayout(self._outputs_bar())
        self.tabs = StudyTabs()
        self.tabs.best_button.clicked.connect(self.show_best)
        self.tabs.open_button.clicked.connect(lambda: self._open_selected())
        self.tabs.refresh_button.clicked.connect(self.refresh_studies)
        self.tabs.walkforward.run_button.clicked.connect(lambda: self.start(walk_forward=True))
        self.tabs.studies.doubleClicked.connect(lambda *_a: self._open_selected())
        v.addWidget(self.tabs, 1)
        return box

    def show_settings(self, visible: bool) -> None:
        """Show or hide the settings on the left (hidden, the results take the whole width)."""
        self.left.setVisible(visible)
        self.settings_button.setText("◀ Settings" if visible else "▶ Settings")

    def _strategy_changed(self, *_a) -> None:
        self.search.set_strategy(self.form.strategy_box.currentData())

    # -- state ------------------------------------------------------------------------------------
    def _set_state(self, state: str, text: str) -> None:
        self.state = state
        self.state_label.setText(text)
        colour = {"error": "#ff6b6b", "cancelled": "#f0b44c"}.get(state, "")
        self.state_label.setStyleSheet(f"color:{colour};" if colour else "")
        busy = (self.job is not None and not self.job.done) or self._download is not None
        self.run_button.setEnabled(not busy)
        self.cancel_button.setEnabled(busy and state == "running")
        self.search.set_busy(busy)
        self.form.setEnabled(not busy)
        has = self.study is not None
        self.export_csv_button.setEnabled(has and not busy)
        for b in (self.report_button, self.preset_button, self.apply_button, self.tabs.best_button):
            b.setEnabled(has and not busy and self.study is not None and self.study.best is not None)
        self.state_changed.emit(state)

    # -- the request ------------------------------------------------------------------------------
    def set_span(self, start_ms: Optional[int], end_ms: Optional[int]) -> None:
        """Search over ``[start_ms, end_ms)`` (ms UTC) of the data only; None: unbounded."""
        self.search.set_span(start_ms, end_ms)

    def _data_spec(self) -> DataSpec:
        spec = self.form.data.spec()
        start, end = self.search.span()
        if spec["source"] == SOURCE_DATASET:
            return DataSpec(dataset=spec["dataset"], start_ms=start, end_ms=end)
        if spec["source"] == SOURCE_CSV:
            path = str(self.form.data.csv.path)
            return DataSpec(candles=(path,), symbols=(spec["symbol"],), market_type=spec["market_type"],
                            start_ms=start, end_ms=end)
        key = tuple(sorted(spec.items()))
        if self._history is None or self._history[0] != key:
            raise FormError("Download the exchange history first (Run study does it).", "history not downloaded.")
        return replace(self._history[1], start_ms=start, end_ms=end)

    async def _download_then_start(self, walk_forward: bool) -> None:
        """Exchange history: downloaded (or read from the cache) and kept as a file by the service,
        then the study starts on it."""
        try:
            spec = self.form.data.spec()
            conn = self.services.connection(spec["connection"])
            self._set_state("running", f"Downloading {spec['symbol']} {spec['timeframe']} from {conn.exchange}…")
            data = await research_history.history_data(
                conn, spec["symbol"], spec["timeframe"], spec["since"], spec["until"], Path(self.services.data_dir),
                lambda d, t: self.state_label.setText(f"Downloading: {d:,} of {t:,} candles…"))
        except Exception as exc:  # noqa: BLE001 - a download's every failure is shown, the window stays usable
            self._download = None
            self._set_state("error", f"Not started: {getattr(exc, 'message', '') or backtests.error_message(exc) or exc}")
            return
        self._download = None
        self._history = (tuple(sorted(spec.items())), data)
        self.start(walk_forward)

    def build_request(self) -> optimize.StudyRequest:
        """The study the form describes, checked by the service. Raises :class:`FormError`,
        :class:`BacktestInputError` (``field`` names the setting) or ``KeyError``."""
        f = self.form
        settings = backtests.BacktestSettings(f.cash.value(), f.fee.value() / 100.0, f.slippage.value() / 100.0,
                                              f.max_position.value() / 100.0)
        strategy = f.strategy_box.currentData()
        specs = view.space_specs(self.search.rows(), f.param_form.values())
        req = optimize.StudyRequest(strategy, specs, self._data_spec(), settings, **self.search.settings())
        req.check()
        return req

    # -- running ----------------------------------------------------------------------------------
    def start(self, walk_forward: bool = False) -> bool:
        """Check the form and start the study (or, ``walk_forward``, the walk-forward analysis with
        the Walk-forward tab's lengths) in the background; False (with the service's message in
        the state line) when the form is refused or a job is running."""
        if (self.job is not None and not self.job.done) or self._download is not None:
            return False
        if self.form.data.source() == SOURCE_HISTORY and not self._history_ready():
            self._download = asyncio.ensure_future(self._download_then_start(walk_forward))
            return True
        try:
            req = self.build_request()
            wf = walkforward.WalkForwardRequest(req, **self.tabs.walkforward.lengths()) if walk_forward else None
        except FormError as exc:
            self.form.show_error(exc.message)
            self._set_state("error", f"Not started: {exc.message}")
            return False
        except (*backtests.INPUT_ERRORS, backtests.ParamError) as exc:
            self._set_state("error", f"Not started: {backtests.error_message(exc) or exc}")
            return False
        self.form.form_error.hide()
        self.progress.setRange(0, 1)
        self.progress.setValue(0)
        self.progress.setFormat("%v / %m trials")
        self.eta.setText("")
        self._t0 = time.monotonic()
        if wf is not None:
            self._launch("walkforward", (wf,), self._walkforward_done)
        else:
            self._launch("study", (req,), lambda result: self._study_done(result, req))
        what = "walk-forward analysis" if wf is not None else f"{req.method} search"
        self._set_state("running", f"Starting the {what} of {req.strategy} (workers: {req.workers})…")
        return True

    def _history_ready(self) -> bool:
        try:
            return self._history is not None and self._history[0] == tuple(sorted(self.form.data.spec().items()))
        except FormError:
            return False

    def _launch(self, kind: str, args: tuple, on_done: Callable[[Any], None]) -> None:
        self.job = ResearchJob(kind, args, Path(self.services.data_dir))
        self._on_done = on_done
        self.job.start()
        self._timer.start()

    def cancel(self) -> None:
        """Stop after the trials running now; the finished ones are kept (study ``cancelled``)."""
        if self.job is not None and not self.job.done:
            self.job.cancel()
            self.state_label.setText("Cancelling: waiting for the trials running now…")

    def _poll(self) -> None:
        job = self.job
        if job is None:
            self._timer.stop()
            return
        for ev in job.events():
            if ev[0] == "progress":
                _kind, done, total, eta = ev
                self.progress.setRange(0, max(1, total))
                self.progress.setValue(done)
                self.eta.setText(f"about {eta:.0f} s left" if eta is not None else "")
                if not self.state_label.text().startswith("Cancelling"):
                    self.state_label.setText(f"Running: {done:,} of {total:,} trials done…")
                self.progressed.emit(done, total)
            elif ev[0] == "done":
                self._timer.stop()
                on_done, self._on_done = self._on_done, None
                if on_done is not None:
                    on_done(ev[1])
            else:
                self._timer.stop()
                self._on_done = None
                self._set_state("error", f"Error: {ev[1]}")

    def _study_done(self, result: optimize.StudyResult, req: optimize.StudyRequest) -> None:
        self.eta.setText(f"done in {result.elapsed_s:.2f} s")
        self.show_study(result, req)
        self.refresh_studies()

    def _walkforward_done(self, result: Any) -> None:
        self.eta.setText(f"done in {result.elapsed_s:.2f} s")
        self.tabs.walkforward.show_result(result, [r.name for r in self.search.rows() if r.vary])
        self.tabs.setCurrentWidget(self.tabs.walkforward)
        state = result.state if result.state in ("finished", "cancelled") else "error"
        self._set_state(state, ("Cancelled: the finished windows are kept. " if state == "cancelled" else "")
                        + f"Walk-forward study #{result.study_id}: {len(result.windows)} windows (Walk-forward tab).")
        self.refresh_studies()

    # -- results ----------------------------------------------------------------------------------
    def show_study(self, result: optimize.StudyResult, req: Optional[optimize.StudyRequest]) -> None:
        self.study, self.request, self.best_run = result, req, None
        self.tabs.show_study(result)
        state = result.state if result.state in ("finished", "cancelled") else "error"
        text = best_text(result)
        if result.state == "cancelled":
            text = "Cancelled: the finished trials are kept. " + text
        self._set_state(state, text)

    def refresh_studies(self) -> None:
        try:
            rows = optimize.list_studies(Path(self.services.data_dir))
            self.tabs.set_studies([r for r in rows if r.kind == "optimize"])  # walk-forward ones: not reopened yet
        except backtests.INPUT_ERRORS as exc:
            self.state_label.setText(f"Cannot list the studies: {backtests.error_message(exc) or exc}")

    def open_study(self, study_id: int) -> bool:
        """Load stored study ``study_id`` into the results (its request too, for the best trial)."""
        data_dir = Path(self.services.data_dir)
        try:
            result = optimize.load_study(data_dir, study_id)
            req = optimize.study_request(data_dir, study_id)
        except backtests.INPUT_ERRORS as exc:
            self._set_state("error", f"Error: {backtests.error_message(exc) or exc}")
            return False
        self.show_study(result, req)
        if req is not None:
            self.fill_form(req)
        return True

    def fill_form(self, req: optimize.StudyRequest) -> None:
        """Put a stored study's request back into the form (data, strategy, account settings,
        search space and search settings), so it can be changed and run again. What cannot be
        restored (a candle file that moved) is said in the state line."""
        f = self.form
        try:
            f.select_strategy(req.strategy)
        except KeyError:
            self.state_label.setText(self.state_label.text() + f" (strategy {req.strategy!r} is not known here)")
            return
        state = view.form_state(req.strategy, req.space)
        f.param_form.set_values(state.fixed)
        self.search.set_rows(state.rows)
        self.search.set_settings({k: getattr(req, k) for k in ("method", "objective", "n_trials", "seed", "workers",
                                                               "min_trades", "max_drawdown")})
        self.search.set_span(req.data.start_ms, req.data.end_ms)
        st = req.settings
        for box, value in ((f.cash, st.cash), (f.fee, st.fee * 100.0), (f.slippage, st.slippage * 100.0),
                           (f.max_position, st.max_position * 100.0)):
            box.setValue(value)
        d = f.data
        if req.data.dataset:
            d.select(SOURCE_DATASET, req.data.dataset)
        elif req.data.candles:
            d.select(SOURCE_CSV)
            d.csv_symbol.setText(req.data.symbols[0] if req.data.symbols else "")
            d.csv_type.setCurrentIndex(max(d.csv_type.findData(req.data.market_type), 0))
            if not d.import_csv(req.data.candles[0]):
                self.state_label.setText(self.state_label.text() + " The study's candle file could not be read "
                                         "again: see the Data tab.")

    def _open_selected(self) -> None:
        sid = self.tabs.selected_study()
        if sid is not None:
            self.open_study(sid)

    def show_best(self, report: Optional[str] = None) -> bool:
        """Run the best trial again (full recording; the HTML report to ``report`` when given) and
        show its equity and trades under Best trial."""
        if self.study is None or self.request is None or self.study.best is None:
            return False
        if self.job is not None and not self.job.done:
            return False

        def done(run: backtests.BacktestResult) -> None:
            self.best_run = run
            self.tabs.best_tabs.show_result(run, (self.study.strategy, optimize.best_params(self.study)))
            self.tabs.montecarlo.set_trades(montecarlo.trades_from_result(
                run, f"best trial #{self.study.best.number} (run #{run.run_id})"))
            self.tabs.setCurrentIndex(2)
            self.show_settings(False)  # the run's summary needs the whole width
            where = f"; report written to {report}" if report else ""
            self._set_state("finished", f"Best trial #{self.study.best.number} run again as backtest run "
                                        f"#{run.run_id}: {run.metrics.trades} trades{where}.")

        self._launch("best", (self.study, self.request, report), done)
        self._set_state("running", "Running the best trial again…")
        return True

    def closeEvent(self, event) -> None:  # noqa: N802 - Qt API
        if self.job is not None and not self.job.done:
            self.job.kill()
        self._timer.stop()
        super().closeEvent(event)
