"""The first-run tour: a few short, skippable steps over the four tabs, ending at the way to add
a real exchange.

Shown once, at the first start (``run_gui`` calls :func:`maybe_show_tour`); the flag is the file
``<config dir>/tour-seen`` (not ``window.ini``, which View > Reset layout clears). Help > Tour
opens it again at any time. It is a non-modal dialog: the window behind it stays usable, each
step switches the window to the tab it describes, Esc or Skip closes it (and counts as seen).
The last step's "Add an exchange connection" opens the Connections tab's Add dialog.
"""
from __future__ import annotations

import logging
from pathlib import Path
from typing import List, Optional, Tuple

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QDialog, QHBoxLayout, QLabel, QPushButton, QVBoxLayout

log = logging.getLogger(__name__)

TOUR_FLAG = "tour-seen"

#: (tab index or None, title, text)
STEPS: List[Tuple[Optional[int], str, str]] = [
    (None, "Welcome to CTS Desktop",
     "A desktop station for crypto trading: paper trading on recorded markets or on an exchange's live "
     "prices, and live trading once you allow it. Every order, fill and position is kept on this computer.<br><br>"
     "This short tour shows the tabs. It takes a minute; <b>Skip</b> (or Esc) closes it, and "
     "<b>Help &gt; Tour</b> brings it back."),
    (0, "Dashboard",
     "A card for each active connection: PAPER or LIVE, the engine's state, balance, equity, open positions, "
     "today's P&amp;L and the feed's health, with Start, Stop and Kill for that connection alone. Several "
     "engines run side by side; <b>Add or remove active connections…</b> picks the cards."),
    (1, "Connections",
     "Each connection is an exchange account (or the built-in <b>Paper - recorded market</b>, which needs no "
     "keys) with its strategy and risk settings. API keys are kept in your system's keyring, never in files. "
     "<b>Test Connection</b> checks keys, clock and permissions; live trading stays off until a test passes "
     "and you confirm it."),
    (2, "Live Trading",
     "Start, pause and stop the engine of the selected connection (F5 to F8) and set a replay's speed. The cards "
     "show balance, equity, P&amp;L, fees, trades, win rate and drawdown as they change; below them, the "
     "equity curve and the run's analytics."),
    (3, "Positions",
     "Open positions with their live P&amp;L on top; the history of closed positions and the orders below. "
     "Right-click any table to export all of its rows to CSV."),
    (4, "Activity",
     "What the engine did and why: signals, risk decisions, orders, fills and errors, filterable by kind, "
     "level and text. The app's own log file (named in Help &gt; About) keeps more detail, never secrets."),
    (1, "Add your exchange",
     "Ready for a real exchange? Add a connection, enter its API key and secret, save and press Test "
     "Connection. It paper-trades on the exchange's real prices until you switch live trading on.<br><br>"
     "Or press <b>Finish</b> and try the built-in paper connection first: select it and press Start (F5)."),
]


def tour_seen(config_dir: Path) -> bool:
    """True once the tour has been shown (and finished or skipped) with this config folder."""
    return (Path(config_dir) / TOUR_FLAG).exists()


def mark_tour_seen(config_dir: Path) -> None:
    """Remember that the tour was shown; a folder that cannot be written only means it shows again."""
    try:
        Path(config_dir).mkdir(parents=True, exist_ok=True)
        (Path(config_dir) / TOUR_FLAG).write_text("the first-run tour was shown\n", encoding="utf-8")
    except OSError as exc:  # harmless: the tour shows again at the next start
        log.info("cannot remember that the tour was shown (%s)", exc)


class TourDialog(QDialog):
    """The tour over ``win`` (a MainWindow). ``finished_tour(skipped)`` is emitted once when it
    closes (Skip, Esc, Finish or the add-connection button)."""

    finished_tour = Signal(bool)

    def __init__(self, win):
        super().__init__(win)
        self.win = win
        self.step = 0
        self._done = False
        self.setObjectName("TourDialog")
        self.setWindowTitle("Tour - CTS Desktop")
        self.setModal(False)
        self.counter = QLabel()
        self.counter.setObjectName("Hint")
        self.title = QLabel()
        self.title.setObjectName("SectionTitle")
        self.text = QLabel()
        self.text.setWordWrap(True)
        self.text.setTextFormat(Qt.TextFormat.RichText)
        self.text.setMinimumHeight(112)  # the longest step: the buttons never move
        self.text.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
        self.skip_button = QPushButton("Skip tour")
        self.skip_button.setObjectName("TourSkip")
        self.back_button = QPushButton("Back")
        self.next_button = QPushButton("Next")
        self.next_button.setObjectName("TourNext")
        self.next_button.setDefault(True)
        self.add_button = QPushButton("Add an exchange connection…")
        self.add_button.setObjectName("TourAddConnection")
        self.skip_button.clicked.connect(self.skip)
        self.back_button.clicked.connect(self.back)
        self.next_button.clicked.connect(self.next)
        self.add_button.clicked.connect(self.add_connection)
        buttons = QHBoxLayout()
        buttons.addWidget(self.skip_button)
        buttons.addStretch(1)
        buttons.addWidget(self.back_button)
        buttons.addWidget(self.add_button)
        buttons.addWidget(self.next_button)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(20, 16, 20, 16)
        lay.addWidget(self.counter)
        lay.addWidget(self.title)
        lay.addWidget(self.text)
        lay.addStretch(1)  # spare height goes above the buttons, never between the lines
        lay.addLayout(buttons)
        self.setFixedWidth(560)
        self.show_step(0)

    def show_step(self, i: int) -> None:
        """Show step ``i`` and switch the window to the tab it describes."""
        self.step = max(0, min(i, len(STEPS) - 1))
        tab, title, text = STEPS[self.step]
        last = self.step == len(STEPS) - 1
        self.counter.setText(f"Step {self.step + 1} of {len(STEPS)}")
        self.title.setText(title)
        self.text.setText(text)
        self.back_button.setEnabled(self.step > 0)
        self.next_button.setText("Finish" if last else "Next")
        self.add_button.setVisible(last)
        self.skip_button.setVisible(not last)
        if tab is not None:
            self.win.tabs.setCurrentIndex(tab)

    def next(self) -> None:  # noqa: A003 - a button's name
        if self.step == len(STEPS) - 1:
            self._end(skipped=False)
        else:
            self.show_step(self.step + 1)

    def back(self) -> None:
        self.show_step(self.step - 1)

    def skip(self) -> None:
        self._end(skipped=True)

    def add_connection(self):
        """Close the tour and open the Connections tab's Add dialog; returns that dialog."""
        self._end(skipped=False)
        self.win.tabs.setCurrentWidget(self.win.connections_tab)
        return self.win.connections_tab.add_connection()

    def reject(self) -> None:  # Esc
        self._end(skipped=True)

    def closeEvent(self, event) -> None:  # noqa: N802 - Qt API: the title bar's close button
        self._end(skipped=True, hide=False)
        super().closeEvent(event)

    def _end(self, *, skipped: bool, hide: bool = True) -> None:
        if not self._done:
            self._done = True
            mark_tour_seen(self.win.services.config_dir)
            self.finished_tour.emit(skipped)
        if hide:
            self.hide()


def show_tour(win) -> TourDialog:
    """Help > Tour: open the tour over ``win`` (non-modal, near the window's bottom-right corner,
    clear of the engine buttons); returns it."""
    old = getattr(win, "tour", None)
    if old is not None and old.isVisible():
        old.raise_()
        return old
    if old is not None:
        old.deleteLater()
    dlg = TourDialog(win)
    win.tour = dlg
    dlg.show()
    geo = win.frameGeometry()
    dlg.adjustSize()
    dlg.move(geo.right() - dlg.width() - 40, max(geo.top() + 110, geo.bottom() - dlg.height() - 70))
    return dlg


def maybe_show_tour(win) -> Optional[TourDialog]:
    """At start-up: show the tour when it has never been shown with this config folder."""
    if tour_seen(win.services.config_dir):
        return None
    return show_tour(win)
