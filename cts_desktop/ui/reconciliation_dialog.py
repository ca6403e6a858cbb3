"""The reconciliation review dialog: what a run's start found about earlier runs and did about it.

Shown (not modal) when a run starts whose start reconciled something: orders settled, fills
booked while the app was down, positions carried, reduced or closed outside the app, orders
adopted or listed, runs marked interrupted, a resumed replay, or a failure (the run is then
close-only: a red banner says so). The words come from
:mod:`cts_desktop.services.reconciliation`, the same as headless mode prints.
"""
from __future__ import annotations

import logging
from typing import Any, Optional

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (QDialog, QDialogButtonBox, QLabel, QTreeWidget, QTreeWidgetItem, QVBoxLayout,
                               QWidget)

from ..services.reconciliation import CLOSE_ONLY_NOTE, ReconciliationReview
from . import fmt

log = logging.getLogger(__name__)


class ReconciliationDialog(QDialog):
    """``ReconciliationDialog(review, parent)``: :attr:`tree` holds one branch per section of the
    review, :attr:`banner` the failure (hidden when reconciliation succeeded)."""

    def __init__(self, review: ReconciliationReview, parent: Optional[QWidget] = None):
        super().__init__(parent)
        self.review = review
        self.setObjectName("reconciliationDialog")
        self.setWindowTitle(f"Reconciliation: {review.connection}, run #{review.run_id}")
        self.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        lay = QVBoxLayout(self)
        when = f" ({fmt.utc_ms(review.created_at)} UTC)" if review.created_at else ""
        intro = QLabel(f"<b>Run #{review.run_id} of {review.connection} started{when}.</b> Before trading it "
                       "looked at what earlier runs left (at the exchange, for a live run: orders, then fills, "
                       "then positions) and did this:")
        intro.setWordWrap(True)
        lay.addWidget(intro)
        self.headline = QLabel(review.headline)
        self.headline.setWordWrap(True)
        self.headline.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        lay.addWidget(self.headline)
        self.banner = QLabel(f"<b>Reconciliation failed:</b> {review.error}<br>{CLOSE_ONLY_NOTE}")
        self.banner.setWordWrap(True)
        self.banner.setObjectName("reconciliationFailed")
        self.banner.setStyleSheet("QLabel#reconciliationFailed { background: #8b1e1e; color: white; "
                                  "padding: 8px; border-radius: 4px; }")
        self.banner.setVisible(not review.ok)
        lay.addWidget(self.banner)
        self.tree = QTreeWidget()
        self.tree.setHeaderHidden(True)
        self.tree.setWordWrap(True)
        self.tree.setUniformRowHeights(False)
        for section in review.sections:
            count = sum(1 for r in section.rows if not r.startswith("  "))
            top = QTreeWidgetItem([f"{section.title} ({count})"])
            font = top.font(0)
            font.setBold(True)
            top.setFont(0, font)
            child = None
            for row in section.rows:
                item = QTreeWidgetItem([row.strip()])
                item.setToolTip(0, row.strip())
                if row.startswith("  ") and child is not None:  # explains the row before it
                    child.addChild(item)
                else:
                    top.addChild(item)
                    child = item
            self.tree.addTopLevelItem(top)
        self.tree.expandAll()
        lay.addWidget(self.tree, 1)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        buttons.button(QDialogButtonBox.StandardButton.Close).setText("Reviewed")
        lay.addWidget(buttons)
        self.resize(900, 460)

    def text(self) -> str:
        """Everything the dialog shows, as text (tests, copying)."""
        parts = [self.headline.text()] + ([self.banner.text()] if not self.review.ok else [])
        for i in range(self.tree.topLevelItemCount()):
            top = self.tree.topLevelItem(i)
            parts.append(top.text(0))
            for j in range(top.childCount()):
                item = top.child(j)
                parts.append(item.text(0))
                parts.extend(item.child(k).text(0) for k in range(item.childCount()))
        return "\n".join(parts)


def show_reconciliation(parent: QWidget, services: Any, name: str, run_id: Optional[int]) -> Optional[ReconciliationDialog]:
    """Open the review of run ``run_id`` of connection ``name`` when its start reconciled
    something; returns the dialog (None when there is nothing to review)."""
    try:
        review = services.reconciliation_review(name, run_id)
    except Exception:  # noqa: BLE001 - a store read for display must not break the window
        log.warning("reading the reconciliation of %s failed", name, exc_info=True)
        return None
    if review is None:
        return None
    dlg = ReconciliationDialog(review, parent)
    dlg.show()
    return dlg
