"""The walk-forward tab: the window lengths (in-sample, out-of-sample, step, anchored), Run, and the
result: one row per window (out-of-sample span, in-sample and out-of-sample objective, their ratio:
the degradation, the out-of-sample return and trades, the best parameters) and the stitched
out-of-sample equity curve. The analysis is the walkforward service's
(:mod:`cts_desktop.services.walkforward`), run by the window in its child process with the search
settings of the other tabs."""
from __future__ import annotations

import time
from typing import Any, Dict, List, Optional

from PySide6.QtWidgets import (QCheckBox, QHBoxLayout, QHeaderView, QLabel, QLineEdit, QPushButton, QTableWidget,
                               QTableWidgetItem, QVBoxLayout, QWidget)

from ...services import reports as report
from ...services import research_view as view
from ..backtest.charts import CurveCharts
from .trials import fmt_metric

WF_HEADERS = ["#", "Out-of-sample (UTC)", "IS value", "OOS value", "OOS/IS", "OOS return", "Trades",
              "Best parameters"]


def _span(start_ms: int, end_ms: int) -> str:
    """``2022-01-02 00:00 – 01-03 00:00`` (UTC; the end's year when it differs)."""
    a, b = time.gmtime(start_ms / 1000), time.gmtime(end_ms / 1000)
    return f"{time.strftime('%Y-%m-%d %H:%M', a)} – {time.strftime('%m-%d %H:%M' if a.tm_year == b.tm_year else '%Y-%m-%d %H:%M', b)}"


class WalkForwardTab(QWidget):
    """Lengths as the service reads them (``14d``, ``36h``, ``90m``, ``2w`` or candles); ``table``
    the windows, ``chart`` the stitched curve; :attr:`result` the last ``WalkForwardResult``."""

    def __init__(self, parent: Optional[QWidget] = None):
        super().__init__(parent)
        self.result: Any = None
        v = QVBoxLayout(self)
        v.setContentsMargins(0, 4, 0, 0)
        bar = QHBoxLayout()
        self.in_sample = QLineEdit("7d")
        self.out_of_sample = QLineEdit("2d")
        self.step = QLineEdit()
        self.step.setPlaceholderText("auto")
        for w in (self.in_sample, self.out_of_sample, self.step):
            w.setMaximumWidth(110)
            w.setToolTip("A length: 14d, 36h, 90m, 2w, or a number of candles (step: empty = the out-of-sample "
                         "length)")
        self.anchored = QCheckBox("Anchored")
        self.anchored.setToolTip("The in-sample window grows from the start of the data instead of rolling")
        self.run_button = QPushButton("Run walk-forward")
        self.run_button.setObjectName("RunWalkForwardButton")
        for label, w in (("In-sample:", self.in_sample), ("Out-of-sample:", self.out_of_sample), ("Step:", self.step)):
            bar.addWidget(QLabel(label))
            bar.addWidget(w)
        bar.addWidget(self.anchored)
        bar.addWidget(self.run_button)
        bar.addStretch(1)
        v.addLayout(bar)
        self.note = QLabel("Each window searches the in-sample span with the search settings, then trades the "
                           "best parameters on the out-of-sample span after it.")
        self.note.setObjectName("WalkForwardNote")
        self.note.setWordWrap(True)
        v.addWidget(self.note)
        self.table = QTableWidget(0, len(WF_HEADERS))
        self.table.setObjectName("WalkForwardTable")
        self.table.setHorizontalHeaderLabels(WF_HEADERS)
        self.table.verticalHeader().hide()
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.table.horizontalHeader().setSectionResizeMode(len(WF_HEADERS) - 1, QHeaderView.ResizeMode.Stretch)
        self.table.horizontalHeaderItem(2).setToolTip("The best in-sample objective of the window")
        self.table.horizontalHeaderItem(3).setToolTip("The same parameters' objective out of sample")
        self.table.horizontalHeaderItem(4).setToolTip("Out-of-sample / in-sample objective: 1 = no degradation")
        v.addWidget(self.table, 1)
        self.chart = CurveCharts()
        v.addWidget(self.chart, 2)

    def lengths(self) -> Dict[str, Any]:
        """The window settings as :class:`~cts_desktop.services.walkforward.WalkForwardRequest` fields."""
        return {"in_sample": self.in_sample.text().strip(), "out_of_sample": self.out_of_sample.text().strip(),
                "step": self.step.text().strip() or None, "anchored": self.anchored.isChecked()}

    def show_result(self, r: Any, varied: Optional[List[str]] = None) -> None:
        """Show ``r`` (a ``WalkForwardResult``); ``varied``: the searched parameters, the only ones
        listed per window (None: all of them)."""
        self.result = r
        self.table.setRowCount(len(r.windows))
        for i, wr in enumerate(r.windows):
            w = wr.window
            params = ", ".join(f"{k}={val}" for k, val in (wr.params or {}).items()
                               if varied is None or k in varied) or wr.note
            cells = [str(w.index), _span(w.oos_start, w.oos_end), fmt_metric(r.objective, wr.is_value),
                     fmt_metric(r.objective, wr.oos_value), "–" if wr.ratio is None else f"{wr.ratio:.2f}",
                     report.fmt_pct(wr.oos_return), str(wr.oos_trades), params]
            for c, text in enumerate(cells):
                self.table.setItem(i, c, QTableWidgetItem(text))
        m = r.metrics
        start = r.curve[0][1] if r.curve else 0.0
        self.chart.set_curve(r.curve, start, r.currency)
        label = view.OBJECTIVE_LABELS.get(r.objective, r.objective).split(" (")[0]
        ratio = "–" if r.mean_ratio is None else f"{r.mean_ratio:.2f}"
        self.note.setText(f"Walk-forward study #{r.study_id} ({r.state}), objective {label}: stitched out-of-sample "
                          f"return {report.fmt_pct(m.get('total_return'))}, max drawdown "
                          f"{report.fmt_pct(m.get('max_drawdown'))}, {m.get('trades', 0)} trades; mean OOS / IS "
                          f"{ratio} (1 = no degradation).")
