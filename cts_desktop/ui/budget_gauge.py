"""The Activity tab's request-budget gauge: the request weight the connection's exchange key / IP
has used this minute against its limit, and whether requests flow, wait (429) or are banned (418)."""
from __future__ import annotations

import time
from typing import Dict, Optional, Tuple

from PySide6.QtGui import QColor
from PySide6.QtWidgets import QHBoxLayout, QLabel, QWidget

from .widgets import ProgressLine

STATE_COLOURS = {"ok": "#4c9be8", "backing off": "#e0a030", "banned": "#e5534b"}


class BudgetGauge(QWidget):
    """``Requests  [====      ]  312 / 6,000 weight · ok``; hidden until a budget is reported."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setObjectName("BudgetGauge")
        self.title = QLabel("Requests")
        self.title.setObjectName("InfoLabel")
        self.bar = ProgressLine(self, height=8)
        self.bar.setFixedWidth(120)
        self.text = QLabel()
        self.text.setObjectName("InfoLabel")
        # room for the longest text, so the gauge neither jitters nor clips when the state changes
        self.text.setMinimumWidth(self.text.fontMetrics().horizontalAdvance("88,888 / 88,888 weight · banned until 88:88:88 UTC") + 12)
        lay = QHBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.setSpacing(8)
        lay.addWidget(self.title)
        lay.addWidget(self.bar)
        lay.addWidget(self.text)
        self.state = ""
        self._budgets: Dict[str, Tuple[int, Optional[int], str, float]] = {}
        self.setVisible(False)

    def set_budget(self, used: int, limit: Optional[int], state: str, until: float = 0.0, label: str = "") -> None:
        """Show one budget: ``used`` / ``limit`` request weight this minute, ``state`` ok /
        backing off / banned, ``until`` (time.time() s) when a back-off or ban ends. With several
        budgets (the IP's and the key's) the tightest is shown: banned, then backing off, then the
        fullest one with a limit."""
        self._budgets[label] = (used, limit, state, until)
        rank = {"banned": 2, "backing off": 1}
        label, (used, limit, state, until) = max(
            self._budgets.items(), key=lambda kv: (rank.get(kv[1][2], 0), kv[1][1] is not None,
                                                   kv[1][0] / kv[1][1] if kv[1][1] else 0.0))
        self.state = state
        self.bar.chunk = QColor(STATE_COLOURS.get(state, STATE_COLOURS["ok"]))
        self.bar.set_fraction(1.0 if state == "banned" else (used / limit if limit else 0.0))
        self.bar.update()
        figures = f"{used:,} / {limit:,} weight" if limit else f"{used:,} weight"
        if state == "banned":
            end = time.strftime("%H:%M:%S", time.gmtime(until))
            words = f"banned until {end} UTC"
        elif state == "backing off":
            words = f"backing off {max(0.0, until - time.time()):.0f} s"
        else:
            words = "ok"
        self.text.setText(f"{figures} · {words}")
        why = {"banned": "The exchange banned this IP (HTTP 418): no request is sent until the ban ends. ",
               "backing off": "The exchange said slow down (HTTP 429): every connection on it waits. "}.get(state, "")
        self.setToolTip(f"{why}Request weight per minute shared by every connection on {label or 'this key / IP'}.")
        self.setVisible(True)

    def clear(self) -> None:
        self.state = ""
        self._budgets.clear()
        self.setVisible(False)
