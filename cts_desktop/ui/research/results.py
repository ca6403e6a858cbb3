"""The right side of the optimise window: the study's tabs (trials, heatmap, best trial, stored
studies) and the line that says which trial is best."""
from __future__ import annotations

import time
from typing import List, Optional

from PySide6.QtCore import QSortFilterProxyModel, Qt
from PySide6.QtWidgets import (QAbstractItemView, QFrame, QHBoxLayout, QHeaderView, QLabel, QPushButton, QScrollArea,
                               QTableView, QTableWidget, QTableWidgetItem, QTabWidget, QVBoxLayout, QWidget)

from ...services import research_view as view
from ...services.optimize import StudyResult
from ...store.studies import StudyRow
from ..backtest.results import ResultTabs
from .montecarlo_tab import MonteCarloTab
from .walkforward_tab import WalkForwardTab
from .trials import SORT_ROLE, HeatmapView, TrialsModel, fmt_metric

STUDY_HEADERS = ["#", "Created (UTC)", "Strategy", "Data", "Method", "Objective", "Trials", "State"]


def best_text(result: StudyResult) -> str:
    """One line on the study: state, trials, the best trial and its parameters."""
    label = view.OBJECTIVE_LABELS.get(result.objective, result.objective).split(" (")[0]
    head = (f"Study #{result.study_id} ({result.state}): {len(result.trials)} trials of {result.strategy} on "
            f"{result.data}, {result.method}")
    b = result.best
    if b is None:
        return head + ". No feasible trial: loosen the constraints or widen the ranges."
    params = ", ".join(f"{k}={v}" for k, v in b.params.items())
    return head + f". Best: trial #{b.number}, {label} {fmt_metric(result.objective, b.value)} ({params})."


class StudyTabs(QTabWidget):
    """Trials (sortable), Heatmap, Best trial (equity, trades: the backtest window's result tabs),
    Monte Carlo (on the best trial's trades), Walk-forward and Studies (the stored studies, newest first; Open loads one)."""

    def __init__(self, parent: Optional[QWidget] = None):
        super().__init__(parent)
        self.setObjectName("StudyTabs")
        self.trials_model = TrialsModel(self)
        self.trials_proxy = QSortFilterProxyModel(self)
        self.trials_proxy.setSourceModel(self.trials_model)
        self.trials_proxy.setSortRole(SORT_ROLE)
        self.trials_view = QTableView()
        self.trials_view.setObjectName("TrialsTable")
        self.trials_view.setModel(self.trials_proxy)
        self.trials_view.setSortingEnabled(True)
        self.trials_view.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.trials_view.verticalHeader().hide()
        self.trials_view.horizontalHeader().setStretchLastSection(True)
        self.trials_view.resizeColumnsToContents()
        self.addTab(self.trials_view, "Trials")
        self.heatmap = HeatmapView()
        self.addTab(self.heatmap, "Heatmap")
        self.addTab(self._best_tab(), "Best trial")
        self.montecarlo = MonteCarloTab()
        self.addTab(self.montecarlo, "Monte Carlo")
        self.walkforward = WalkForwardTab()
        self.addTab(self.walkforward, "Walk-forward")
        self.addTab(self._studies_tab(), "Studies")

    def _best_tab(self) -> QWidget:
        box = QWidget()
        v = QVBoxLayout(box)
        v.setContentsMargins(0, 4, 0, 0)
        bar = QHBoxLayout()
        self.best_button = QPushButton("Run the best trial again (equity, trades)")
        self.best_button.setObjectName("RerunBestButton")
        self.best_button.setEnabled(False)
        self.best_note = QLabel("The best trial is run again with full recording (kept as a backtest run).")
        self.best_note.setWordWrap(True)
        bar.addWidget(self.best_button)
        bar.addWidget(self.best_note, 1)
        v.addLayout(bar)
        self.best_tabs = ResultTabs()
        scroll = QScrollArea()  # the result tabs ask for the backtest window's width; scroll instead
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QFrame.Shape.NoFrame)
        scroll.setWidget(self.best_tabs)
        v.addWidget(scroll, 1)
        return box

    def _studies_tab(self) -> QWidget:
        box = QWidget()
        v = QVBoxLayout(box)
        v.setContentsMargins(0, 4, 0, 0)
        bar = QHBoxLayout()
        self.open_button = QPushButton("Open")
        self.open_button.setObjectName("OpenStudyButton")
        self.refresh_button = QPushButton("Refresh")
        bar.addWidget(QLabel("Every study is kept in the database; open one to see its results again."), 1)
        bar.addWidget(self.refresh_button)
        bar.addWidget(self.open_button)
        v.addLayout(bar)
        self.studies = QTableWidget(0, len(STUDY_HEADERS))
        self.studies.setObjectName("StudiesTable")
        self.studies.setHorizontalHeaderLabels(STUDY_HEADERS)
        self.studies.verticalHeader().hide()
        self.studies.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.studies.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.studies.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.studies.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.studies.horizontalHeader().setStretchLastSection(True)
        v.addWidget(self.studies, 1)
        return box

    def show_study(self, result: StudyResult) -> None:
        best = result.best.number if result.best else None
        self.trials_model.set_trials(result.trials, result.objective, best)
        self.trials_view.resizeColumnsToContents()
        self.heatmap.set_trials(result.trials, result.objective, result.direction)
        self.best_button.setEnabled(result.best is not None)
        self.montecarlo.set_trades(None)

    def set_studies(self, rows: List[StudyRow]) -> None:
        self.studies.setRowCount(len(rows))
        for i, r in enumerate(rows):
            created = time.strftime("%Y-%m-%d %H:%M", time.gmtime(r.created_at / 1000))
            cells = [str(r.id), created, r.strategy, r.data, r.method, r.objective, str(r.trials), r.state]
            for c, text in enumerate(cells):
                it = QTableWidgetItem(text)
                if c == 0:
                    it.setData(Qt.ItemDataRole.UserRole, r.id)
                self.studies.setItem(i, c, it)
        if rows:
            self.studies.selectRow(0)

    def selected_study(self) -> Optional[int]:
        row = self.studies.currentRow()
        it = self.studies.item(row, 0) if row >= 0 else None
        return int(it.data(Qt.ItemDataRole.UserRole)) if it is not None else None
